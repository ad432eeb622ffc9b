"""Writing objects: streaming reads off the loop, conditional PUT and conditional multipart.

miniopy-async's ``put_object`` cannot do two things this backend needs, so the S3 requests for
writing live here, in one small module built on the client's request method (``_execute``) and
its part helpers:

- **Conditional writes.** ``If-None-Match: *`` on the PUT (or on CompleteMultipartUpload) makes
  the server refuse, with 412, to replace an object that exists. Two requests saving the same
  name at the same moment therefore cannot overwrite each other: the loser is told, and takes
  another name. ``put_object`` does not send the header.
- **Bounded memory without blocking the loop.** ``put_object`` given a sync file reads every
  part into memory, on the loop, before uploading the first (measured: 47 MiB held for a 40 MiB
  file). Here each read of a disk file runs in a worker thread, and a part is read only when an
  upload slot is free, so at most ``concurrency`` parts are held at once.

Servers that ignore ``If-None-Match`` (older MinIO releases before 2024, some S3 clones) will
overwrite instead of answering 412; see the README for the fallback.
"""

from __future__ import annotations

import asyncio
import inspect
import io
import logging
from collections.abc import Callable
from typing import Any
from xml.etree import ElementTree

from miniopy_async.api import Minio
from miniopy_async.error import InvalidResponseError
from miniopy_async.error import S3Error
from miniopy_async.error import ServerError
from miniopy_async.helpers import DictType
from miniopy_async.helpers import md5sum_hash
from miniopy_async.xml import Element
from miniopy_async.xml import SubElement
from miniopy_async.xml import getbytes

from .client import Client
from .client import Connection
from .client import retry_delay
from .errors import status_of

logger = logging.getLogger(__name__)

# Digests of bodies larger than this are computed in a worker thread, not on the loop.
_DIGEST_ON_LOOP_LIMIT = 256 * 1024
# Request bodies up to this size are sent as bytes (see _put).
SMALL_BODY = 1024 * 1024
# S3 accepts at most this many parts in one multipart upload.
MAX_PARTS = 10_000
# Uploads are read from their file in pieces of this size.
READ_PIECE = 1024 * 1024


class ContentReader:
    """Reads the bytes of an upload for the event loop, without blocking it.

    Accepts a Django ``File`` (``UploadedFile``, ``ContentFile``, ...), any object with a
    ``read(n)`` method, or one whose ``read(n)`` is a coroutine. In-memory files are read
    directly; anything else is read in a worker thread, because it may be a file on disk or a
    socket. ``str`` chunks (``ContentFile("text")``) are encoded as UTF-8.
    """

    def __init__(self, content: Any) -> None:
        read = getattr(content, "read", None)
        if not callable(read):
            raise TypeError(
                f"Cannot save {type(content).__name__!r}: the content must be a file-like "
                "object with a read() method, such as django.core.files.base.ContentFile."
            )
        self._content = content
        self._read: Callable[[int], Any] = read
        self._read_is_async = inspect.iscoroutinefunction(read)
        self._in_memory = isinstance(getattr(content, "file", content), io.BytesIO | io.StringIO)

    async def _call(self, function: Callable[..., Any], *args: Any) -> Any:
        if self._in_memory:
            return function(*args)
        return await asyncio.to_thread(function, *args)

    async def rewind(self) -> bool:
        """Go back to the start, as Django's ``File.chunks()`` does; False if it cannot."""
        seek = getattr(self._content, "seek", None)
        if not callable(seek):
            return False
        try:
            if self._in_memory:
                seek(0)
            elif inspect.iscoroutinefunction(seek):
                await seek(0)
            else:
                await asyncio.to_thread(seek, 0)
        except (OSError, ValueError):  # io.UnsupportedOperation is both
            return False
        return True

    async def read(self, size: int) -> io.BytesIO:
        """Read ``size`` bytes (fewer only at the end) into a buffer that is sent as it is.

        The bytes are read in pieces of at most ``READ_PIECE`` and written into a ``BytesIO``
        that owns its memory: aiohttp and miniopy-async take a view of a request body
        (``getbuffer()``), which would copy a ``BytesIO`` built on a ``bytes`` object. So a part
        occupies its size in memory once, plus one piece while it is being read.
        """
        buffer = io.BytesIO()
        missing = size
        while missing > 0:
            wanted = min(missing, READ_PIECE)
            if self._read_is_async:
                piece = await self._read(wanted)
            else:
                piece = await self._call(self._read, wanted)
            if isinstance(piece, str):
                piece = piece.encode("utf-8")
            if not isinstance(piece, bytes | bytearray | memoryview):
                raise TypeError(
                    f"{type(self._content).__name__}.read() returned "
                    f"{type(piece).__name__}, not bytes."
                )
            if not piece:
                break
            buffer.write(piece)
            missing -= len(piece)
        buffer.seek(0)
        return buffer


def body_size(body: io.BytesIO) -> int:
    with body.getbuffer() as view:
        return view.nbytes


async def _digest_headers(client: Minio, body: io.BytesIO) -> dict[str, str]:
    # Over https miniopy-async computes Content-MD5 on the loop; do it here, off the loop when
    # the body is large. (Over http it hashes in a thread by itself.)
    if not client._base_url.is_https:
        return {}
    if body_size(body) > _DIGEST_ON_LOOP_LIMIT:
        digest = await asyncio.to_thread(md5sum_hash, body)
    else:
        digest = md5sum_hash(body)
    return {"Content-MD5": digest} if digest else {}


async def _put(
    client: Client,
    bucket: str,
    key: str,
    body: io.BytesIO,
    headers: dict[str, str],
    query_params: DictType | None = None,
    *,
    attempts: int,
) -> str:
    """One PUT (an object or a part), retried on 5xx answers; returns the ETag.

    PUTs are retried here rather than by the session's retry policy: the body must be rewound
    for each attempt, and aiohttp sends a ``BytesIO`` from wherever it was left.
    """
    request_headers = {**headers, **await _digest_headers(client, body)}
    # Small bodies go as bytes: hashed in one call and written in one go. Larger ones stay a
    # BytesIO, which aiohttp writes in pieces (it warns about raw bytes above 1 MiB).
    payload: bytes | io.BytesIO = body.getvalue() if body_size(body) <= SMALL_BODY else body
    for attempt in range(1, attempts + 1):
        body.seek(0)
        try:
            response = await client.put(bucket, key, payload, request_headers, query_params)
        except (S3Error, ServerError, InvalidResponseError) as error:
            if attempt == attempts or (status_of(error) or 0) < 500:
                raise
            await asyncio.sleep(retry_delay(attempt))
            continue
        response.release()
        return str(response.headers.get("ETag", "")).strip('"')
    raise AssertionError("unreachable")  # pragma: no cover


async def put_bytes(
    client: Client,
    bucket: str,
    key: str,
    body: io.BytesIO,
    headers: dict[str, str],
    *,
    if_absent: bool,
    attempts: int,
) -> None:
    """One PUT. With ``if_absent``, an existing object makes the server answer 412."""
    if if_absent:
        headers = {**headers, "If-None-Match": "*"}
    await _put(client, bucket, key, body, headers, attempts=attempts)


async def put_multipart(
    connection: Connection,
    bucket: str,
    key: str,
    first_part: io.BytesIO,
    reader: ContentReader,
    headers: dict[str, str],
    *,
    part_size: int,
    concurrency: int,
    if_absent: bool,
    attempts: int,
) -> None:
    """A multipart upload of ``first_part`` followed by the rest of ``reader``.

    At most ``concurrency`` parts are in memory at once. Whatever goes wrong, including
    cancellation, the upload is aborted so that no parts are left behind on the server;
    with ``if_absent`` the completion is conditional, so an object that appeared meanwhile is
    never replaced.
    """
    async with connection.request() as client:
        upload_id = await client._create_multipart_upload(bucket, key, dict(headers))
    try:
        parts = _PartSource(first_part, reader, part_size)
        etags = await _upload_parts(
            connection, bucket, key, upload_id, parts, concurrency=concurrency, attempts=attempts
        )
        async with connection.request() as client:
            await _complete(client, bucket, key, upload_id, etags, if_absent=if_absent)
    except BaseException:
        await _abort(connection, bucket, key, upload_id)
        raise


class _PartSource:
    """The parts of an upload: the bytes read first, then ``part_size`` bytes at a time.

    The first part is whatever was read to decide that the upload is multipart (the multipart
    threshold, at least 5 MiB); S3 only requires parts other than the last to be 5 MiB or more,
    not to be equal, so nothing is ever cut or copied.
    """

    def __init__(self, first_part: io.BytesIO, reader: ContentReader, part_size: int) -> None:
        self._first_part: io.BytesIO | None = first_part
        self._reader = reader
        self._part_size = part_size

    async def next_part(self) -> io.BytesIO | None:
        part, self._first_part = self._first_part, None
        if part is None:
            part = await self._reader.read(self._part_size)
        return part if body_size(part) else None


async def _upload_parts(
    connection: Connection,
    bucket: str,
    key: str,
    upload_id: str,
    source: _PartSource,
    *,
    concurrency: int,
    attempts: int,
) -> list[str]:
    etags: dict[int, str] = {}
    in_flight = asyncio.Semaphore(concurrency)

    async def upload(number: int, data: io.BytesIO) -> None:
        try:
            async with connection.request() as client:
                etags[number] = await _put(
                    client,
                    bucket,
                    key,
                    data,
                    {},
                    query_params={"partNumber": str(number), "uploadId": upload_id},
                    attempts=attempts,
                )
        finally:
            in_flight.release()

    try:
        async with asyncio.TaskGroup() as group:
            number = 0
            while True:
                # Take a place before reading, so that reading never runs ahead of uploading.
                await in_flight.acquire()
                part = await source.next_part()
                if part is None:
                    in_flight.release()
                    break
                number += 1
                if number > MAX_PARTS:
                    raise ValueError(
                        f"{bucket}/{key} needs more than {MAX_PARTS} parts of "
                        f"{body_size(part)} bytes, S3's limit; raise MINIO_MULTIPART_PART_SIZE."
                    )
                group.create_task(upload(number, part))
    except BaseExceptionGroup as errors:
        raise errors.exceptions[0] from None
    return [etags[number] for number in sorted(etags)]


async def _complete(
    client: Minio,
    bucket: str,
    key: str,
    upload_id: str,
    etags: list[str],
    *,
    if_absent: bool,
) -> None:
    element = Element("CompleteMultipartUpload")
    for number, etag in enumerate(etags, start=1):
        part = SubElement(element, "Part")
        SubElement(part, "PartNumber", str(number))
        SubElement(part, "ETag", f'"{etag}"')
    body = getbytes(element)
    headers: DictType = {"Content-Type": "application/xml", "Content-MD5": md5sum_hash(body) or ""}
    if if_absent:
        headers["If-None-Match"] = "*"
    response = await client._execute(
        "POST", bucket, key, body=body, headers=headers, query_params={"uploadId": upload_id}
    )
    text = await response.text()
    # S3 may answer 200 and put the error in the body (documented for this call).
    # The XML comes from the configured server, parsed as miniopy-async parses all of it.
    if text and ElementTree.fromstring(text).tag.rsplit("}", 1)[-1] == "Error":  # noqa: S314
        raise S3Error.fromxml(response, text)


async def _abort(connection: Connection, bucket: str, key: str, upload_id: str) -> None:
    async def abort() -> None:
        async with connection.request() as client:
            await client._abort_multipart_upload(bucket, key, upload_id)

    try:
        # Shielded: an upload cancelled by its caller still aborts its parts on the server.
        await asyncio.shield(abort())
    except Exception:
        logger.warning(
            "Could not abort multipart upload %s of %s/%s; the server's lifecycle rules "
            "will have to remove its parts.",
            upload_id,
            bucket,
            key,
            exc_info=True,
        )
