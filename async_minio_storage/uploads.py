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

from miniopy_async import Minio
from miniopy_async.error import S3Error
from miniopy_async.helpers import md5sum_hash
from miniopy_async.xml import Element
from miniopy_async.xml import SubElement
from miniopy_async.xml import getbytes

logger = logging.getLogger(__name__)

# Digests of bodies larger than this are computed in a worker thread, not on the loop.
_DIGEST_ON_LOOP_LIMIT = 256 * 1024


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
            result = seek(0) if inspect.iscoroutinefunction(seek) else await self._call(seek, 0)
            if inspect.isawaitable(result):
                await result
        except (OSError, ValueError):  # io.UnsupportedOperation is both
            return False
        return True

    async def read(self, size: int) -> bytes:
        """Read ``size`` bytes, or fewer only at the end of the content."""
        chunks: list[bytes] = []
        missing = size
        while missing > 0:
            if self._read_is_async:
                chunk = await self._read(missing)
            else:
                chunk = await self._call(self._read, missing)
            if isinstance(chunk, str):
                chunk = chunk.encode("utf-8")
            if not isinstance(chunk, bytes | bytearray | memoryview):
                raise TypeError(
                    f"{type(self._content).__name__}.read() returned "
                    f"{type(chunk).__name__}, not bytes."
                )
            if not chunk:
                break
            chunks.append(bytes(chunk))
            missing -= len(chunk)
        return b"".join(chunks)


async def _digest_headers(client: Minio, body: bytes) -> dict[str, str]:
    # Over https miniopy-async computes Content-MD5 on the loop; do it here, off the loop when
    # the body is large. (Over http it hashes in a thread by itself.)
    if not client._base_url.is_https:  # noqa: SLF001
        return {}
    if len(body) > _DIGEST_ON_LOOP_LIMIT:
        digest = await asyncio.to_thread(md5sum_hash, body)
    else:
        digest = md5sum_hash(body)
    return {"Content-MD5": digest} if digest else {}


async def _put(
    client: Minio,
    bucket: str,
    key: str,
    body: bytes,
    headers: dict[str, str],
    query_params: dict[str, str] | None = None,
) -> str:
    """One PUT request (an object or a part); returns the ETag."""
    request_headers = {**headers, **await _digest_headers(client, body)}
    # A BytesIO body is written in chunks; aiohttp warns that raw bytes above 1 MiB may not be.
    response = await client._execute(  # noqa: SLF001
        "PUT",
        bucket,
        key,
        body=io.BytesIO(body),
        headers=request_headers,
        query_params=query_params,
        no_body_trace=True,
    )
    response.release()
    return str(response.headers.get("ETag", "")).strip('"')


async def put_bytes(
    client: Minio,
    bucket: str,
    key: str,
    body: bytes,
    headers: dict[str, str],
    *,
    if_absent: bool,
) -> None:
    """One PUT. With ``if_absent``, an existing object makes the server answer 412."""
    await _put(client, bucket, key, body, {**headers, "If-None-Match": "*"} if if_absent else headers)


async def put_multipart(
    client: Minio,
    bucket: str,
    key: str,
    first_bytes: bytes,
    reader: ContentReader,
    headers: dict[str, str],
    *,
    part_size: int,
    concurrency: int,
    if_absent: bool,
) -> None:
    """A multipart upload of ``first_bytes`` followed by the rest of ``reader``.

    At most ``concurrency`` parts are in memory at once. Whatever goes wrong, including
    cancellation, the upload is aborted so that no parts are left behind on the server;
    with ``if_absent`` the completion is conditional, so an object that appeared meanwhile is
    never replaced.
    """
    upload_id = await client._create_multipart_upload(bucket, key, dict(headers))  # noqa: SLF001
    try:
        etags = await _upload_parts(
            client, bucket, key, upload_id, _PartSource(first_bytes, reader, part_size), concurrency
        )
        await _complete(client, bucket, key, upload_id, etags, if_absent=if_absent)
    except BaseException:
        await _abort(client, bucket, key, upload_id)
        raise


class _PartSource:
    """Cuts the upload into parts of ``part_size`` bytes (the last may be shorter)."""

    def __init__(self, first_bytes: bytes, reader: ContentReader, part_size: int) -> None:
        self._pending = first_bytes
        self._reader = reader
        self._part_size = part_size

    async def next_part(self) -> bytes | None:
        if len(self._pending) < self._part_size:
            self._pending += await self._reader.read(self._part_size - len(self._pending))
        part, self._pending = self._pending[: self._part_size], self._pending[self._part_size :]
        return part or None


async def _upload_parts(
    client: Minio,
    bucket: str,
    key: str,
    upload_id: str,
    source: _PartSource,
    concurrency: int,
) -> list[str]:
    etags: dict[int, str] = {}
    slots = asyncio.Semaphore(concurrency)

    async def upload(number: int, data: bytes) -> None:
        try:
            etags[number] = await _put(
                client,
                bucket,
                key,
                data,
                {},
                query_params={"partNumber": str(number), "uploadId": upload_id},
            )
        finally:
            slots.release()

    try:
        async with asyncio.TaskGroup() as group:
            number = 0
            while True:
                # Take a slot before reading, so that reading never runs ahead of uploading.
                await slots.acquire()
                part = await source.next_part()
                if part is None:
                    slots.release()
                    break
                number += 1
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
    headers = {"Content-Type": "application/xml", "Content-MD5": md5sum_hash(body) or ""}
    if if_absent:
        headers["If-None-Match"] = "*"
    response = await client._execute(  # noqa: SLF001
        "POST", bucket, key, body=body, headers=headers, query_params={"uploadId": upload_id}
    )
    text = await response.text()
    # S3 may answer 200 and put the error in the body (documented for this call).
    if text and ElementTree.fromstring(text).tag.rsplit("}", 1)[-1] == "Error":
        raise S3Error.fromxml(response, text)


async def _abort(client: Minio, bucket: str, key: str, upload_id: str) -> None:
    try:
        await asyncio.shield(
            client._abort_multipart_upload(bucket, key, upload_id)  # noqa: SLF001
        )
    except Exception:
        logger.warning(
            "Could not abort multipart upload %s of %s/%s; the server's lifecycle rules "
            "will have to remove its parts.",
            upload_id,
            bucket,
            key,
            exc_info=True,
        )

