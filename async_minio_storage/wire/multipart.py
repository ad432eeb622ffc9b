"""Multipart uploads: started, sent, completed exactly once, and aborted, even after a crash."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping
from collections.abc import Sequence
from datetime import UTC
from datetime import datetime
from datetime import timedelta
from typing import TYPE_CHECKING
from urllib.parse import unquote_plus

from miniopy_async.error import S3Error
from miniopy_async.helpers import DictType
from miniopy_async.helpers import md5sum_hash
from miniopy_async.xml import Element
from miniopy_async.xml import SubElement
from miniopy_async.xml import getbytes

from async_minio_storage.errors import NameTaken
from async_minio_storage.errors import StorageRequestError
from async_minio_storage.errors import StorageUnavailable

from .bodies import RequestBody
from .bodies import digest_headers
from .bodies import send_body
from .miniopy import Client
from .miniopy import execute
from .miniopy import status_of
from .objects import our_saved_object
from .policy import Attempt
from .policy import Request
from .policy import backoff
from .policy import operation
from .records import SAVE_TOKEN_HEADER
from .records import IncompleteUpload
from .records import aware_date
from .records import http_date
from .records import parse_xml
from .records import root_tag
from .records import xml_text

if TYPE_CHECKING:
    from async_minio_storage.client import Connection

logger = logging.getLogger(__name__)


# A lost CreateMultipartUpload answer leaves an upload behind. Uploads of the same key that the
# server says it started this long before our first attempt (server clocks are second-grained)
# are taken to be ours and aborted.
_CLOCK_TOLERANCE = timedelta(seconds=2)


async def create_multipart_upload(
    connection: Connection, bucket: str, key: str, headers: Mapping[str, str], *, token: str
) -> str:
    """Start a multipart upload carrying the save ``token``; returns its upload id.

    An attempt whose answer is lost may still have started an upload. So when more than one
    attempt was made, the uploads of ``key`` that the server started since the first are
    listed, and all but the one returned are aborted; if every attempt failed, all of them.

    ListMultipartUploads says nothing of an upload's metadata, so ours are told by key and
    start time: an upload of the very same key that another process started within those
    seconds would be aborted too, and that process's save fails cleanly (NoSuchUpload). A
    repeated create is rare (its answer was lost), and so is such a twin; a lost upload left
    behind would be certain.
    """
    request_headers: DictType = {
        "Content-Type": "application/octet-stream",
        **headers,
        SAVE_TOKEN_HEADER: token,
    }
    attempts = Attempt()

    async def send(client: Client, attempt: Attempt) -> tuple[str, datetime | None]:
        attempts.number = attempt.number
        response = await execute(
            client, "POST", bucket, key, headers=request_headers, query_params={"uploads": ""}
        )
        text = await response.text()
        upload_id = xml_text(text, "UploadId")
        if not upload_id:
            raise StorageRequestError(f"The server started an upload of {bucket}/{key} without id.")
        return upload_id, http_date(response.headers.get("Date"))

    started = datetime.now(UTC)
    try:
        upload_id, server_now = await operation(
            connection, Request.CREATE_UPLOAD, send, bucket=bucket, key=key
        )
    except StorageUnavailable:
        # Any attempt may have started an upload whose answer never came back.
        abort_in_background(connection, bucket, key, since=started)
        raise
    if attempts.is_repeat:
        # The server's clock dates the uploads: place our first attempt on it.
        offset = (server_now - datetime.now(UTC)) if server_now is not None else timedelta(0)
        await _abort_uploads_since(connection, bucket, key, since=started + offset, keep=upload_id)
    return upload_id


async def upload_part(
    connection: Connection,
    bucket: str,
    key: str,
    upload_id: str,
    number: int,
    body: RequestBody,
) -> str:
    """Upload part ``number`` of an upload; returns its ETag."""
    headers: DictType = {**await digest_headers(connection.settings.use_https, body)}
    query: DictType = {"partNumber": str(number), "uploadId": upload_id}

    async def send(client: Client, attempt: Attempt) -> str:
        response = await send_body(client, connection, bucket, key, body, headers, query)
        response.release()
        return str(response.headers.get("ETag", "")).strip('"')

    return await operation(connection, Request.UPLOAD_PART, send, bucket=bucket, key=key)


async def complete_multipart_upload(
    connection: Connection,
    bucket: str,
    key: str,
    upload_id: str,
    etags: Sequence[str],
    *,
    token: str,
    if_absent: bool,
) -> None:
    """Complete the upload from its parts' ``etags`` (in part order).

    With ``if_absent`` the server refuses to replace an object: :class:`NameTaken`. A refusal
    (412 or ``NoSuchUpload``) is success when ``key`` holds this save's ``token``.
    """
    element = Element("CompleteMultipartUpload")
    for number, etag in enumerate(etags, start=1):
        part = SubElement(element, "Part")
        SubElement(part, "PartNumber", str(number))
        SubElement(part, "ETag", f'"{etag}"')
    body = getbytes(element)
    headers: DictType = {"Content-Type": "application/xml", "Content-MD5": md5sum_hash(body) or ""}
    if if_absent:
        headers["If-None-Match"] = "*"

    async def send(client: Client, attempt: Attempt) -> None:
        response = await execute(
            client,
            "POST",
            bucket,
            key,
            body=body,
            headers=headers,
            query_params={"uploadId": upload_id},
        )
        text = await response.text()
        # S3 may answer 200 and put the error in the body (documented for this call).
        if text and root_tag(text) == "Error":
            raise S3Error.fromxml(response, text)

    try:
        await operation(connection, Request.COMPLETE_UPLOAD, send, bucket=bucket, key=key)
    except (NameTaken, StorageRequestError) as error:
        refused_as_gone = isinstance(error, NameTaken) or (
            isinstance(error, StorageRequestError) and error.code == "NoSuchUpload"
        )
        if refused_as_gone and await our_saved_object(connection, bucket, key, token) is not None:
            return
        raise


async def abort_multipart_upload(
    connection: Connection, bucket: str, key: str, upload_id: str
) -> None:
    """Abort an upload, deleting its parts; an upload already gone counts as aborted."""

    async def send(client: Client, attempt: Attempt) -> None:
        try:
            response = await execute(
                client, "DELETE", bucket, key, query_params={"uploadId": upload_id}
            )
        except S3Error as error:
            if error.code == "NoSuchUpload" or status_of(error) == 404:
                return
            raise
        response.release()

    await operation(connection, Request.ABORT_UPLOAD, send, bucket=bucket, key=key)


async def list_incomplete_uploads(
    connection: Connection, bucket: str, *, prefix: str = ""
) -> list[IncompleteUpload]:
    """Every upload under ``prefix`` that was started and neither completed nor aborted."""
    uploads: list[IncompleteUpload] = []
    query: DictType = {"uploads": "", "prefix": prefix, "encoding-type": "url"}
    while True:

        async def send(client: Client, attempt: Attempt) -> str:
            response = await execute(client, "GET", bucket, query_params=dict(query))
            return await response.text()

        text = await operation(connection, Request.READ, send, bucket=bucket)
        root, namespace = parse_xml(text)
        url_encoded = root.findtext(f"{namespace}EncodingType") == "url"
        for element in root.iter(f"{namespace}Upload"):
            key = element.findtext(f"{namespace}Key") or ""
            initiated = element.findtext(f"{namespace}Initiated") or ""
            uploads.append(
                IncompleteUpload(
                    key=unquote_plus(key) if url_encoded else key,
                    upload_id=element.findtext(f"{namespace}UploadId") or "",
                    initiated=aware_date(initiated),
                )
            )
        if (root.findtext(f"{namespace}IsTruncated") or "").lower() != "true":
            return uploads
        next_key = root.findtext(f"{namespace}NextKeyMarker")
        next_id = root.findtext(f"{namespace}NextUploadIdMarker")
        if not next_key and not next_id:
            raise StorageRequestError(
                "The server cut a listing of uploads short without saying where it goes on."
            )
        query["key-marker"] = next_key or ""
        query["upload-id-marker"] = next_id or ""


async def _abort_uploads_since(
    connection: Connection, bucket: str, key: str, *, since: datetime, keep: str | None
) -> None:
    cutoff = since - _CLOCK_TOLERANCE
    for upload in await list_incomplete_uploads(connection, bucket, prefix=key):
        if (
            upload.key == key
            and upload.upload_id != keep
            and (upload.initiated is None or upload.initiated >= cutoff)
        ):
            logger.info("Aborting upload %s of %s/%s, left by a lost answer.", upload, bucket, key)
            await abort_multipart_upload(connection, bucket, key, upload.upload_id)


# Aborts that could not be done at once are retried for this long, in the background.
ABORT_PERSISTENCE = timedelta(minutes=10)
# ... waiting at most this long between two tries.
_ABORT_RETRY_CAP = 5.0


def abort_in_background(
    connection: Connection,
    bucket: str,
    key: str,
    *,
    upload_id: str | None = None,
    since: datetime | None = None,
    keep: str | None = None,
) -> None:
    """Abort an upload (or the uploads of ``key`` started ``since``) in the background, on
    the process's long-lived loop, trying again for up to :data:`ABORT_PERSISTENCE`.

    For an upload whose abort failed because the server could not be reached: the caller's
    loop may end with its request (a per-request loop under WSGI), so the tries go on in the
    loop thread of ``sync_edge``, with that loop's connection for the same settings.
    """
    from async_minio_storage.client import get_connection  # noqa: PLC0415 (client imports wire)
    from async_minio_storage.sync_edge import run_in_background  # noqa: PLC0415 (sync_edge imports the storage)

    settings = connection.settings

    async def keep_trying() -> None:
        give_up = time.monotonic() + ABORT_PERSISTENCE.total_seconds()
        attempt = 0
        while True:
            attempt += 1
            try:
                own = await get_connection(settings)
                if upload_id is not None:
                    await abort_multipart_upload(own, bucket, key, upload_id)
                else:
                    assert since is not None
                    await _abort_uploads_since(own, bucket, key, since=since, keep=keep)
            except StorageUnavailable:
                if time.monotonic() >= give_up:
                    logger.warning(
                        "Gave up aborting the upload of %s/%s; the bucket's lifecycle rule "
                        "(AbortIncompleteMultipartUpload) or clean_orphaned_minio_files "
                        "--incomplete-uploads will have to remove it.",
                        bucket,
                        key,
                    )
                    return
                await asyncio.sleep(min(_ABORT_RETRY_CAP, backoff(attempt)))
                continue
            except Exception:
                logger.warning("Could not abort the upload of %s/%s.", bucket, key, exc_info=True)
            return

    run_in_background(keep_trying)
