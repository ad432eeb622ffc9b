"""Is the object store usable? ``MinioServerStatus`` and the probe behind it.

The probe asks two questions, within one time limit:

1. **Is the server up?** MinIO answers unauthenticated ``GET /minio/health/live`` (and, when
   asked, ``/minio/health/cluster``: does it have write quorum?) with 200 or 503. S3 servers
   without these endpoints (SeaweedFS, AWS) answer 403 or 404, and the probe moves on.
2. **Can we reach our bucket?** One signed ``HEAD`` of the storage's bucket proves DNS, TCP,
   TLS, the credentials and the bucket at once, on any S3 server.

The probe never raises for a server problem: it reports it in plain words in ``details``.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any

import aiohttp

from . import wire
from .client import Connection
from .errors import MinioStorageError

LIVE_PATH = "/minio/health/live"
CLUSTER_PATH = "/minio/health/cluster"


@dataclass
class MinioServerStatus:
    """The answer of a health probe: truthy when the storage can be used.

    Compatible with django-minio-backend's class of the same name (``bool(status)``,
    ``is_available``, ``details``), plus the HTTP ``status`` of the answer that decided it and
    the probe's ``latency`` in seconds.
    """

    is_available: bool
    details: str = ""
    status: int | None = None
    latency: float | None = None

    def __bool__(self) -> bool:
        return self.is_available

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready summary, without credentials."""
        return {
            "status": "ok" if self.is_available else "unavailable",
            "details": self.details,
            "http_status": self.status,
            "latency_ms": None if self.latency is None else round(self.latency * 1000, 1),
        }

    def __repr__(self) -> str:
        state = "available" if self.is_available else "unavailable"
        return f"<MinioServerStatus {state}{': ' + self.details if self.details else ''}>"


async def probe(
    connection: Connection,
    *,
    base_url: str,
    bucket: str,
    time_limit: float,
    cluster: bool = False,
) -> MinioServerStatus:
    """Probe the server at ``base_url`` and the ``bucket``; never longer than ``time_limit``."""
    started = time.perf_counter()
    endpoint = base_url.split("://", 1)[1]
    try:
        async with asyncio.timeout(time_limit):
            status = await _probe(connection, base_url, bucket, cluster)
    except TimeoutError:
        status = MinioServerStatus(False, f"{endpoint} did not answer within {time_limit:g} s.")
    except (aiohttp.ClientError, MinioStorageError) as error:
        status = _failure(error, endpoint)
    status.latency = time.perf_counter() - started
    return status


async def _probe(
    connection: Connection, base_url: str, bucket: str, cluster: bool
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
        return MinioServerStatus(False, f"The bucket {bucket!r} does not exist.", 404)
    return MinioServerStatus(True, "", 200)


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
