"""Is the object store usable? ``MinioServerStatus`` and the probe behind it.

The probe asks up to three questions, within one time limit:

1. **Is the server up?** MinIO answers unauthenticated ``GET /minio/health/live`` (and, when
   asked, ``/minio/health/cluster``: does it have write quorum?) with 200 or 503. S3 servers
   without these endpoints (SeaweedFS, AWS) answer 403 or 404, and the probe moves on.
2. **Can we reach our bucket?** One signed ``HEAD`` of the storage's bucket proves DNS, TCP,
   TLS, the credentials and the bucket at once, on any S3 server. A missing bucket is
   unavailable, unless the storage creates it on its first save (``MINIO_BUCKET_CHECK_ON_SAVE``).
3. **Can we write?** Only when asked (``write=True``): one small ``PUT`` under the reserved prefix
   :data:`WRITE_PROBE_PREFIX`, then its ``DELETE``. It tells a store that reads but refuses
   writes (a bucket policy or keys without ``s3:PutObject``, a cluster without write quorum).

The probe never raises for a server problem: it reports it in plain words in ``details``.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import TYPE_CHECKING
from typing import Any

import aiohttp

from . import sync_edge
from . import wire
from .client import Connection
from .client import get_connection
from .config import ConnectionSettings
from .config import StorageConfig
from .errors import MinioStorageError
from .errors import StorageUnavailable

logger = logging.getLogger(__name__)

LIVE_PATH = "/minio/health/live"
CLUSTER_PATH = "/minio/health/cluster"
# The write probe's objects: at the bucket's root (a "directory" would stay listed on servers
# that keep emptied directories, such as SeaweedFS), each ``<prefix><32 hex digits>``.
WRITE_PROBE_PREFIX = ".async-minio-health-"
WRITE_PROBE_BODY = b"async-minio-storage health probe; deleted right after it is written\n"


@dataclass
class MinioServerStatus:
    """The answer of a health probe: truthy when the storage can be used.

    Compatible with django-minio-backend's class of the same name (``bool(status)``,
    ``is_available``, ``details``), plus the HTTP ``status`` of the answer that decided it and
    the probe's ``latency`` in seconds. Made by
    :meth:`~async_minio_storage.MinioStorage.ais_minio_available` and its sync twin.
    """

    #: True when the storage can be used; ``bool(status)`` is this.
    is_available: bool
    #: Why, in plain words and without credentials: what failed, or a caveat (``""``: none).
    details: str = ""
    #: The HTTP status of the answer that decided it; None when none did (a timeout, say).
    status: int | None = None
    #: How long the probe took, in seconds.
    latency: float | None = None

    def __bool__(self) -> bool:
        return self.is_available

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready summary, without credentials: ``status`` (``"ok"`` or
        ``"unavailable"``), ``details``, ``http_status`` and ``latency_ms``."""
        return {
            "status": "ok" if self.is_available else "unavailable",
            "details": self.details,
            "http_status": self.status,
            "latency_ms": None if self.latency is None else round(self.latency * 1000, 1),
        }

    def __repr__(self) -> str:
        state = "available" if self.is_available else "unavailable"
        return f"<MinioServerStatus {state}{': ' + self.details if self.details else ''}>"


@dataclass
class _Stage:
    """How far the probe got, for the message when its time runs out."""

    writing: bool = False


async def probe(
    connection: Connection,
    *,
    base_url: str,
    bucket: str,
    time_limit: float,
    cluster: bool = False,
    write: bool = False,
    creates_bucket: bool = False,
) -> MinioServerStatus:
    """Probe the server at ``base_url`` and the ``bucket``; never longer than ``time_limit``.

    ``cluster`` also asks MinIO for write quorum; ``write`` also writes and deletes a small
    object. ``creates_bucket`` (the storage's ``MINIO_BUCKET_CHECK_ON_SAVE``) makes a missing
    bucket available: the first save creates it.
    """
    started = time.perf_counter()
    endpoint = base_url.split("://", 1)[1]
    stage = _Stage()
    try:
        async with asyncio.timeout(time_limit):
            status = await _probe(
                connection,
                base_url,
                bucket,
                cluster=cluster,
                write=write,
                creates_bucket=creates_bucket,
                stage=stage,
            )
    except TimeoutError:
        if stage.writing:
            details = (
                f"The bucket {bucket!r} can be read, but {endpoint} did not finish a test write "
                f"within {time_limit:g} s."
            )
        else:
            details = f"{endpoint} did not answer within {time_limit:g} s."
        status = MinioServerStatus(False, details)
    except (aiohttp.ClientError, MinioStorageError) as error:
        status = _failure(error, endpoint)
    status.latency = time.perf_counter() - started
    return status


async def _probe(
    connection: Connection,
    base_url: str,
    bucket: str,
    *,
    cluster: bool,
    write: bool,
    creates_bucket: bool,
    stage: _Stage,
) -> MinioServerStatus:
    for path in (LIVE_PATH, CLUSTER_PATH) if cluster else (LIVE_PATH,):
        answer = await wire.probe_status(connection, base_url + path)
        if answer == 503:
            what = "has no write quorum" if path == CLUSTER_PATH else "is not live"
            return MinioServerStatus(False, f"MinIO reports that the server {what}.", answer)
        if answer >= 500:
            return MinioServerStatus(False, f"{path} answered HTTP {answer}.", answer)
        if answer != 200:
            break  # not MinIO: no health endpoints, the bucket check below decides
    if not await wire.bucket_exists(connection, bucket, probe=True):
        if not creates_bucket:
            return MinioServerStatus(False, f"The bucket {bucket!r} does not exist.", 404)
        details = (
            f"The bucket {bucket!r} does not exist yet; it will be created on the first save "
            "(MINIO_BUCKET_CHECK_ON_SAVE)."
        )
        if write:
            details += " The test write was skipped: the probe does not create buckets."
        return MinioServerStatus(True, details, 404)
    if write:
        stage.writing = True
        return await _probe_write(connection, bucket)
    return MinioServerStatus(True, "", 200)


async def _probe_write(connection: Connection, bucket: str) -> MinioServerStatus:
    """PUT a small object under :data:`WRITE_PROBE_PREFIX`, then DELETE it.

    The DELETE is sent after a failed PUT too: a PUT whose answer was lost may have been
    stored. When the DELETE cannot be sent or answered (the time limit ran out, the server
    failed it), the object is deleted in the background instead.
    """
    key = f"{WRITE_PROBE_PREFIX}{uuid.uuid4().hex}"
    settled = False  # the DELETE was answered: done, or refused (trying again would not help)
    try:
        stored = await _outcome(
            wire.put_object(
                connection,
                bucket,
                key,
                wire.RequestBody(WRITE_PROBE_BODY),
                {"Content-Type": "text/plain"},
                token=wire.new_save_token(),
                if_absent=False,
            )
        )
        deleted = await _outcome(wire.delete_object(connection, bucket, key))
        settled = not isinstance(deleted, StorageUnavailable)
    finally:
        if not settled:
            _delete_in_background(connection.settings, bucket, key)
    if stored is not None:
        return _write_failure(stored, bucket, key, deleting=False)
    if deleted is not None:
        return _write_failure(deleted, bucket, key, deleting=True)
    return MinioServerStatus(True, "", 200)


async def _outcome(request: Awaitable[object]) -> MinioStorageError | FileNotFoundError | None:
    """None when the awaitable ``request`` succeeded, else the error it raised."""
    try:
        await request
    except (MinioStorageError, FileNotFoundError) as error:
        return error
    return None


def _delete_in_background(settings: ConnectionSettings, bucket: str, key: str) -> None:
    """Delete the write probe's object on the process's long-lived loop (see ``sync_edge``):
    the probe's time is up, and the caller's loop may end with its request. One operation,
    bounded by ``MINIO_OPERATION_TIMEOUT``; a failure is logged."""

    async def delete() -> None:
        try:
            await wire.delete_object(await get_connection(settings), bucket, key)
        except (MinioStorageError, FileNotFoundError):
            logger.warning(
                "Could not delete the health probe's test object %s/%s.",
                bucket,
                key,
                exc_info=True,
            )

    sync_edge.run_in_background(delete)


def _write_failure(
    error: MinioStorageError | FileNotFoundError, bucket: str, key: str, *, deleting: bool
) -> MinioServerStatus:
    """The status that says, in plain words, why the test write (or its delete) failed."""
    if isinstance(error, FileNotFoundError):
        return MinioServerStatus(False, f"The bucket {bucket!r} does not exist.", 404)
    if error.status is not None:
        answer = f"HTTP {error.status}{' ' + error.code if error.code else ''}"
    else:  # the transport failed: this package's message says how, without credentials
        answer = str(error).rstrip(".")
    refused = error.status is not None and error.status < 500
    if deleting and refused:
        details = (
            f"The bucket {bucket!r} took a test write, but the server refused to delete it "
            f"({answer}): the test object {key!r} is left in the bucket."
        )
    elif deleting:
        details = (
            f"The bucket {bucket!r} took a test write, but deleting it failed ({answer}); it "
            "is deleted in the background."
        )
    elif refused:
        details = (
            f"The bucket {bucket!r} can be read, but the server refused a test write "
            f"({answer}): check the bucket policy and the permissions of the access key."
        )
    else:
        details = f"The bucket {bucket!r} can be read, but a test write failed ({answer})."
    return MinioServerStatus(False, details, error.status)


def _failure(error: BaseException, endpoint: str) -> MinioServerStatus:
    """The status that says, in plain words, why the probe failed."""
    # wire raises this package's exceptions from the transport's: describe the transport's.
    cause = error.__cause__ if isinstance(error, MinioStorageError) else error
    if isinstance(cause, aiohttp.ClientConnectorCertificateError):
        return MinioServerStatus(
            False, f"The TLS certificate of {endpoint} was refused: {cause.certificate_error}."
        )
    if isinstance(cause, aiohttp.ClientSSLError):
        return MinioServerStatus(False, f"The TLS handshake with {endpoint} failed: {cause}.")
    if isinstance(cause, aiohttp.ClientConnectorDNSError):
        return MinioServerStatus(False, f"The name of {endpoint} could not be resolved (DNS).")
    if isinstance(cause, aiohttp.ClientConnectorError):
        return MinioServerStatus(False, f"{endpoint} refused the connection: {cause.strerror}.")
    if isinstance(error, MinioStorageError) and error.status is not None:
        if error.status == 403:
            detail = "The server refused the access key or secret key (HTTP 403)."
        elif error.code:
            detail = f"The server refused the request: {error.code}: {error}"
        else:
            detail = f"{endpoint} answered HTTP {error.status}."
        return MinioServerStatus(False, detail, error.status)
    return MinioServerStatus(False, f"{endpoint} failed: {type(cause).__name__}.")


class HealthProbes:
    """``MinioStorage``'s health probes (a mixin): the sync one runs the async one through
    ``sync_edge``; both need the storage's ``config``, ``bucket_name`` and connection."""

    if TYPE_CHECKING:

        @property
        def config(self) -> StorageConfig: ...

        @property
        def bucket_name(self) -> str: ...

        async def _connection(self) -> Connection: ...

    def is_minio_available(self, cluster: bool = False, write: bool = False) -> MinioServerStatus:
        """Sync twin of :meth:`ais_minio_available`."""
        return sync_edge.run_sync(self.ais_minio_available, cluster, write)

    @sync_edge.on_lasting_loop
    async def ais_minio_available(
        self, cluster: bool = False, write: bool = False
    ) -> MinioServerStatus:
        """Whether the server is up and this storage's bucket reachable, as a
        :class:`~async_minio_storage.MinioServerStatus`, on the caller's loop.

        Probes within ``MINIO_HEALTH_TIMEOUT`` and never raises for a server problem: the
        status says what failed. ``cluster=True`` also asks MinIO for write quorum;
        ``write=True`` also writes and deletes a small object (under
        ``health.WRITE_PROBE_PREFIX``). A bucket that is missing counts as available when
        ``MINIO_BUCKET_CHECK_ON_SAVE`` creates it on the first save."""
        config = self.config
        return await probe(
            await self._connection(),
            base_url=f"{'https' if config.use_https else 'http'}://{config.endpoint}",
            bucket=self.bucket_name,
            time_limit=config.health_timeout,
            cluster=cluster,
            write=write,
            creates_bucket=config.bucket_check_on_save,
        )
