"""Writing objects: streaming reads off the loop, and multipart uploads that leave nothing behind.

miniopy-async's ``put_object`` cannot do what this backend needs, so saving is put together
here from the requests of :mod:`~async_minio_storage.wire`:

- **Conditional, exactly-once writes.** ``If-None-Match: *`` on the PUT (or on
  CompleteMultipartUpload) makes the server refuse, with 412, to replace an object that exists,
  so two saves of one name at the same moment cannot overwrite each other; every write carries
  the save's token, so a retried write that meets its own first attempt is recognised (see
  ``wire``). ``put_object`` sends neither.
- **Bounded memory without blocking the loop.** ``put_object`` given a sync file reads every
  part into memory, on the loop, before uploading the first (measured: 47 MiB held for a 40 MiB
  file). Here each read of a disk file runs in a worker thread, and a part is read only when an
  upload slot is free, so at most ``concurrency`` parts are held at once.
- **No upload left behind.** A multipart upload that fails, or whose caller is cancelled, is
  aborted; if the server cannot be reached for that, the abort is retried in the background.

Servers that ignore ``If-None-Match`` (older MinIO releases before 2024, some S3 clones) will
overwrite instead of answering 412; see the names guide (``docs/guides/async.md``) for the fallback.
"""

from __future__ import annotations

import asyncio
import inspect
import io
import logging
import re
from collections.abc import Awaitable
from collections.abc import Callable
from collections.abc import Iterator
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING
from typing import Any

from django.db.models.fields.files import FieldFile

from . import wire
from .client import Connection
from .errors import NameTaken
from .names import save_candidates
from .wire import RequestBody

if TYPE_CHECKING:
    from .storage import MinioStorage

logger = logging.getLogger(__name__)

# S3 accepts at most this many parts in one multipart upload.
MAX_PARTS = 10_000
# Uploads are read from their file in pieces of this size.
READ_PIECE = 1024 * 1024
# An HTTP header name (RFC 9110's token).
_HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")


async def open_off_the_loop(content: Any) -> bool:
    """Open ``content`` in a worker thread if opening it is I/O; True if it was opened here.

    A ``FieldFile`` that is not open yet (``new.file.save(name, other.file)``) opens its
    storage's file on first use of ``read``, through that storage's sync ``open()``: on the
    loop that would block it, or be refused (``SynchronousOnlyOperation``). Its reads then go to
    worker threads too (``uploads.ContentReader``), and the save closes it again.
    """
    if isinstance(content, FieldFile) and getattr(content, "_file", None) is None:
        await asyncio.to_thread(content.open, "rb")
        return True
    return False


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

    async def read(self, size: int) -> RequestBody:
        """Read ``size`` bytes (fewer only at the end) into a buffer that is sent as it is.

        The bytes are read in pieces of at most ``READ_PIECE`` and written into a ``BytesIO``
        that owns its memory: aiohttp and miniopy-async take a view of a request body
        (``getbuffer()``), which would copy a ``BytesIO`` built on a ``bytes`` object. So a part
        occupies its size in memory once, plus one piece while it is being read.
        """
        buffer = RequestBody()
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


@dataclass(frozen=True)
class Save:
    """What one save writes, whichever way it is sent: to the first of ``names`` that is free
    (``if_absent``) or to the first (replacing), with ``headers`` and the save ``token``."""

    connection: Connection
    bucket: str
    names: Iterator[str]
    headers: dict[str, str]
    if_absent: bool
    token: str
    multipart_threshold: int
    part_size: int
    concurrency: int


def headers_to_store(
    name: str, parameters: Mapping[str, str], guess_content_type: Callable[[str], str]
) -> dict[str, str]:
    """The headers a save of ``name`` sends: ``parameters`` (what ``get_object_parameters``
    returned), with a ``Content-Type`` from ``guess_content_type(name)`` unless they have one.

    Each parameter must be a header name (once, whatever its case) with a one-line text
    value; anything else is a ``ValueError`` before any request is made.
    """
    seen: set[str] = set()
    for header, value in parameters.items():
        if not (
            isinstance(header, str)
            and _HEADER_NAME.fullmatch(header)
            and header.lower() not in seen
            and isinstance(value, str)
            and value.isprintable()
        ):
            raise ValueError(
                f"get_object_parameters({name!r}) returned {header!r}: {value!r}; headers "
                "are names (each once, whatever its case) and one-line text values."
            )
        seen.add(header.lower())
    if any(header.lower() == "content-type" for header in parameters):
        return dict(parameters)
    return {"Content-Type": guess_content_type(name), **parameters}


def new_save(
    storage: MinioStorage, connection: Connection, name: str, max_length: int | None
) -> Save:
    """The :class:`Save` of ``name`` by ``storage``: its candidate names and headers, its
    ``replace_existing``, its multipart settings, and a new save token. Nothing is sent yet."""
    config = storage.config
    return Save(
        connection=connection,
        bucket=storage.bucket_name,
        names=save_candidates(storage, name, max_length),
        headers=storage.object_headers(name),
        if_absent=not storage.replace_existing,
        token=wire.new_save_token(),
        multipart_threshold=config.multipart_threshold,
        part_size=config.multipart_part_size,
        concurrency=config.multipart_concurrency,
    )


async def write_object(
    save: Save, reader: ContentReader, *, exists: Callable[[str], Awaitable[bool]]
) -> str:
    """Write the content of ``reader`` as ``save`` says; returns the key written.

    A small upload is read and sent within one admission (``Connection.saves``); one of
    ``multipart_threshold`` or more goes multipart, ``exists`` telling names visibly taken.
    """
    async with save.connection.saves:
        await reader.rewind()
        head = await reader.read(save.multipart_threshold)
        if head.size < save.multipart_threshold:
            return await _write_in_one_request(save, head)
    return await _write_in_parts(save, head, reader, exists)


async def _write_in_one_request(save: Save, body: RequestBody) -> str:
    for key in save.names:
        try:
            await wire.put_object(
                save.connection,
                save.bucket,
                key,
                body,
                save.headers,
                token=save.token,
                if_absent=save.if_absent,
            )
        except NameTaken:
            continue
        return key
    raise AssertionError("the candidate names never end")  # pragma: no cover


async def _write_in_parts(
    save: Save, head: RequestBody, reader: ContentReader, exists: Callable[[str], Awaitable[bool]]
) -> str:
    for key in save.names:
        # A large upload is expensive to repeat: skip names that are visibly taken first;
        # the conditional completion still guards against a race.
        if save.if_absent and await exists(key):
            continue
        try:
            await put_multipart(
                save.connection,
                save.bucket,
                key,
                head,
                reader,
                save.headers,
                part_size=save.part_size,
                concurrency=save.concurrency,
                if_absent=save.if_absent,
                token=save.token,
            )
        except NameTaken:
            if not await reader.rewind():
                raise FileExistsError(
                    f"{save.bucket}/{key} was created by someone else during this upload, and "
                    "the content cannot be read again to store it under another name."
                ) from None
            head = await reader.read(save.multipart_threshold)
            continue
        return key
    raise AssertionError("the candidate names never end")  # pragma: no cover


async def put_multipart(
    connection: Connection,
    bucket: str,
    key: str,
    first_part: RequestBody,
    reader: ContentReader,
    headers: Mapping[str, str],
    *,
    part_size: int,
    concurrency: int,
    if_absent: bool,
    token: str,
) -> None:
    """A multipart upload of ``first_part`` followed by the rest of ``reader``.

    At most ``concurrency`` parts are in memory at once. Whatever goes wrong, including
    cancellation, the upload is aborted so that no parts are left behind on the server;
    with ``if_absent`` the completion is conditional, so an object that appeared meanwhile is
    never replaced (:class:`~async_minio_storage.errors.NameTaken`).
    """
    upload_id = await wire.create_multipart_upload(connection, bucket, key, headers, token=token)
    try:
        parts = _PartSource(first_part, reader, part_size)
        etags = await _upload_parts(
            connection, bucket, key, upload_id, parts, concurrency=concurrency
        )
        await wire.complete_multipart_upload(
            connection, bucket, key, upload_id, etags, token=token, if_absent=if_absent
        )
    except BaseException:
        await _abort(connection, bucket, key, upload_id)
        raise


class _PartSource:
    """The parts of an upload: the bytes read first, then ``part_size`` bytes at a time.

    The first part is whatever was read to decide that the upload is multipart (the multipart
    threshold, at least 5 MiB); S3 only requires parts other than the last to be 5 MiB or more,
    not to be equal, so nothing is ever cut or copied.
    """

    def __init__(self, first_part: RequestBody, reader: ContentReader, part_size: int) -> None:
        self._first_part: RequestBody | None = first_part
        self._reader = reader
        self._part_size = part_size

    async def next_part(self) -> RequestBody | None:
        part, self._first_part = self._first_part, None
        if part is None:
            part = await self._reader.read(self._part_size)
        return part if part.size else None


async def _upload_parts(
    connection: Connection,
    bucket: str,
    key: str,
    upload_id: str,
    source: _PartSource,
    *,
    concurrency: int,
) -> list[str]:
    etags: dict[int, str] = {}
    in_flight = asyncio.Semaphore(concurrency)

    async def upload(number: int, data: RequestBody) -> None:
        try:
            etags[number] = await wire.upload_part(connection, bucket, key, upload_id, number, data)
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
                        f"{part.size} bytes, S3's limit; raise MINIO_MULTIPART_PART_SIZE."
                    )
                group.create_task(upload(number, part))
    except BaseExceptionGroup as errors:
        raise errors.exceptions[0] from None
    return [etags[number] for number in sorted(etags)]


async def _abort(connection: Connection, bucket: str, key: str, upload_id: str) -> None:
    async def abort_or_hand_over() -> None:
        try:
            await wire.abort_multipart_upload(connection, bucket, key, upload_id)
        except Exception:
            logger.warning(
                "Could not abort multipart upload %s of %s/%s now; trying again in the background.",
                upload_id,
                bucket,
                key,
                exc_info=True,
            )
            wire.abort_in_background(connection, bucket, key, upload_id=upload_id)

    # Shielded: an upload cancelled by its caller still aborts its parts on the server.
    await asyncio.shield(abort_or_hand_over())
