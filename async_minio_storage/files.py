"""Reading objects: a streaming reader and the async file of ``aopen()`` (the sync file of
``open()`` is in ``sync_files``, over the same reader).

Both files stream: bytes are fetched as they are read, never the whole object up front, so
memory stays flat whatever the object's size. Both are seekable: seeking drops the current
response and the next read asks for a ``Range`` from the new position, with ``If-Match`` on the
ETag seen at opening, so a file never mixes bytes of two versions of an object.

An aiohttp response can only be read on the loop that made it. The reader remembers that loop;
read from another loop (the sync file used from a different kind of thread), it drops the old
response and continues with a ranged request on the new loop. Dropping a response always goes
through its own loop (``call_soon_threadsafe``), so it is safe from any thread, and a response
is never left holding a pool connection after the file is closed or read to the end.
"""

from __future__ import annotations

import asyncio
import copy
import os
from collections.abc import AsyncIterator
from datetime import datetime
from types import TracebackType
from typing import TYPE_CHECKING
from typing import Self

from aiohttp import ClientResponse
from django.core.files.base import File

from . import sync_edge
from . import wire
from .client import get_connection
from .config import ConnectionSettings
from .errors import ObjectChanged
from .errors import StorageUnavailable
from .wire import ObjectRecord

DEFAULT_CHUNK_SIZE = File.DEFAULT_CHUNK_SIZE

if TYPE_CHECKING:
    _BytesFile = File[bytes]  # django-stubs makes File generic; Django's class is not.
else:
    _BytesFile = File


# A body this small is read whole by the GET that opens the reader, and the response let go:
# a sync ``open().read()`` of a small object then costs one trip to the loop, not two.
SMALL_BODY = 128 * 1024

#: What :meth:`~async_minio_storage.MinioStorage.stat` returns and direct uploads' ``on_confirm``
#: is given: the server's record of one object, frozen. ``key`` (also ``name``), ``size`` in
#: bytes, ``etag`` without its quotes (``quoted_etag`` with them, ``content_md5`` when it is the
#: content's MD5), ``last_modified`` (aware), ``content_type`` and ``save_token`` (known from
#: ``HEAD`` and ``GET`` only, not from listings); None where the server said nothing.
ObjectInfo = ObjectRecord
__all__ = ["AsyncMinioFile", "ObjectChanged", "ObjectInfo", "ObjectReader"]


class ObjectReader:
    """Reads one object through GET requests, from any position, on whichever loop calls it."""

    def __init__(
        self,
        connection: ConnectionSettings,
        bucket: str,
        key: str,
        *,
        size: int,
        content_type: str | None,
        etag: str | None,
        last_modified: datetime | None,
    ) -> None:
        self.connection = connection
        self.bucket = bucket
        self.key = key
        self.size = size
        self.content_type = content_type
        self.etag = etag
        self.last_modified = last_modified
        self.position = 0
        # Reads stop here (exclusive): the object's end, or the end of a requested range.
        self.stop = size
        self._response: ClientResponse | None = None
        self._response_loop: asyncio.AbstractEventLoop | None = None
        # The bytes [held_start, held_start + len(held)) when a small body was read whole.
        self._held = b""
        self._held_start = 0

    @classmethod
    async def open(
        cls,
        connection: ConnectionSettings,
        bucket: str,
        key: str,
        *,
        start: int = 0,
        stop: int | None = None,
        etag: str | None = None,
    ) -> ObjectReader:
        """Start a GET of the object: raises ``FileNotFoundError`` at once if it is missing.

        ``start`` and ``stop`` ask for the bytes ``[start, stop)`` only (a ``Range`` request);
        ``etag`` makes the server refuse (:class:`ObjectChanged`) if the object is no longer
        that version.
        """
        length = 0 if stop is None else stop - start
        response = await wire.get_object(
            await get_connection(connection),
            bucket,
            key,
            start=start,
            length=length,
            if_match=etag,
        )
        record = wire.record_from_headers(key, response.headers)
        received = int(response.headers.get("Content-Length", "0"))
        reader = cls(
            connection,
            bucket,
            key,
            size=record.size,
            content_type=record.content_type,
            etag=record.quoted_etag,
            last_modified=record.last_modified,
        )
        reader.position = start if response.status == 206 else 0
        reader.stop = reader.position + received
        if not received:
            response.release()  # nothing to read: do not hold a connection for it
        elif received <= SMALL_BODY:
            await reader._hold_whole_body(response, received)
        else:
            reader._keep(response)
        return reader

    async def _hold_whole_body(self, response: ClientResponse, length: int) -> None:
        try:
            pieces = []
            received = 0
            while received < length:
                piece = await wire.read_body(
                    response, length - received, bucket=self.bucket, key=self.key
                )
                if not piece:
                    raise StorageUnavailable(
                        f"The download of {self.bucket}/{self.key} ended at byte "
                        f"{self.position + received} of {self.stop}."
                    )
                pieces.append(piece)
                received += len(piece)
        finally:
            response.release()
        self._held, self._held_start = b"".join(pieces), self.position

    def take_held(self, buffer: memoryview) -> int:
        """Copy into ``buffer`` what the reader holds in memory from its position on (a small
        body read whole when it was opened), and advance; 0 if it holds nothing there. No
        I/O and no loop: a sync file serves such reads without a trip to the loop."""
        held, offset = self._held, self.position - self._held_start
        if not held or not 0 <= offset < len(held):
            return 0
        count = min(len(buffer), len(held) - offset, self.stop - self.position)
        buffer[:count] = held[offset : offset + count]
        self.position += count
        return count

    @property
    def holds_the_rest(self) -> bool:
        """True if every byte from the position to the end is in memory."""
        offset = self.position - self._held_start
        return bool(self._held) and offset >= 0 and self._held_start + len(self._held) >= self.stop

    @property
    def record(self) -> ObjectRecord:
        """What the GET that opened the reader said of the object."""
        return ObjectRecord(
            key=self.key,
            size=self.size,
            etag=(self.etag or "").strip('"') or None,
            last_modified=self.last_modified,
            content_type=self.content_type,
        )

    def _keep(self, response: ClientResponse) -> None:
        self._response = response
        self._response_loop = asyncio.get_running_loop()

    def detach(self) -> ObjectReader:
        """A reader of the same object at the same position that takes over this one's response;
        this one keeps none. For a reader of its own on a loop (a sync file's read-ahead), which
        may then move on, or be abandoned, without touching this one's position."""
        twin = copy.copy(self)
        self._response = self._response_loop = None
        return twin

    async def _current_response(self) -> ClientResponse:
        loop = asyncio.get_running_loop()
        if self._response is not None and self._response_loop is loop:
            return self._response
        self.drop_response()
        response = await wire.get_object(
            await get_connection(self.connection),
            self.bucket,
            self.key,
            start=self.position,
            length=0 if self.stop >= self.size else self.stop - self.position,
            if_match=self.etag,
        )
        self._keep(response)
        return response

    async def read(self, size: int = -1) -> bytes:
        """Read ``size`` bytes (all that is left if negative); fewer only at the end."""
        remaining = self.stop - self.position
        wanted = remaining if size is None or size < 0 else min(size, remaining)
        buffer = bytearray(max(wanted, 0))
        received = await self.readinto(memoryview(buffer))
        return bytes(buffer[:received]) if received < len(buffer) else bytes(buffer)

    async def readinto(self, buffer: memoryview) -> int:
        """Fill ``buffer`` (fewer bytes only at the end); return how many bytes were read."""
        wanted = min(len(buffer), self.stop - self.position)
        if wanted <= 0:
            self.drop_response()
            return 0
        if self.holds_the_rest:
            return self.take_held(buffer)
        response = await self._current_response()
        received = 0
        while received < wanted:
            chunk = await wire.read_body(
                response, wanted - received, bucket=self.bucket, key=self.key
            )
            if not chunk:
                break
            buffer[received : received + len(chunk)] = chunk
            received += len(chunk)
        self._advance(received, wanted)
        return received

    async def read_some(self, size: int) -> bytes:
        """Up to ``size`` bytes, as the network delivers them: for streaming, where the size of
        each piece does not matter, this spares joining them."""
        wanted = min(size, self.stop - self.position)
        if wanted <= 0:
            self.drop_response()
            return b""
        if self.holds_the_rest:
            piece = bytearray(wanted)
            return bytes(piece[: self.take_held(memoryview(piece))])
        response = await self._current_response()
        chunk = await wire.read_body(response, wanted, bucket=self.bucket, key=self.key)
        self._advance(len(chunk), 1)
        return chunk

    def _advance(self, received: int, wanted: int) -> None:
        self.position += received
        if received < wanted:
            self.drop_response()
            raise StorageUnavailable(
                f"The download of {self.bucket}/{self.key} ended at byte {self.position} of "
                f"{self.stop}."
            )
        if self.position >= self.stop:
            self.drop_response()

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        if whence == os.SEEK_SET:
            position = offset
        elif whence == os.SEEK_CUR:
            position = self.position + offset
        elif whence == os.SEEK_END:
            position = self.size + offset
        else:
            raise ValueError(f"invalid whence ({whence}, should be 0, 1 or 2)")
        if position < 0:
            raise ValueError(f"negative seek position {position}")
        if position != self.position:
            self.drop_response()
            self.position = position
        return position

    def drop_response(self) -> None:
        """Let go of the current response, from any thread, returning its connection."""
        response, loop = self._response, self._response_loop
        self._response = self._response_loop = None
        if response is None or loop is None:
            return
        # release() returns a finished connection to the pool and closes an unfinished one. If
        # the loop is closed, its connections are gone already.
        sync_edge.call_on_loop(loop, response.release)


class ObjectDetails:
    """What the ``GET`` that opened a file said of its object: both file classes show it."""

    _reader: ObjectReader

    @property
    def content_type(self) -> str | None:
        """The object's ``Content-Type``, None if the server sent none."""
        return self._reader.content_type

    @property
    def etag(self) -> str | None:
        """The object's ETag, quoted as HTTP sends it; every read asks for this version."""
        return self._reader.etag

    @property
    def last_modified(self) -> datetime | None:
        """When the object was last modified (aware, UTC); None if the server did not say."""
        return self._reader.last_modified


class AsyncMinioFile(ObjectDetails):
    """The file ``await storage.aopen(name)`` returns: every read is awaited.

    ::

        async with await storage.aopen("report.pdf") as f:
            header = await f.read(1024)
            async for chunk in f.chunks():
                ...

    Reads run on the caller's loop, any loop (under WSGI, an async view's reads go through
    the portal loop); its details come from the ``GET`` that opened it, without a request.
    A read raises :exc:`~async_minio_storage.StorageUnavailable` if the transfer breaks off,
    :exc:`~async_minio_storage.errors.ObjectChanged` if the object was replaced since it was
    opened, and :exc:`ValueError` once the file is closed.
    """

    def __init__(self, reader: ObjectReader, name: str) -> None:
        self._reader = reader
        self.name = name
        self.closed = False

    @property
    def size(self) -> int:
        """The object's size in bytes."""
        return self._reader.size

    def _check_open(self) -> None:
        if self.closed:
            raise ValueError("I/O operation on closed file.")

    @sync_edge.on_lasting_loop  # on the portal, with its response, under WSGI (see sync_edge)
    async def read(self, size: int = -1) -> bytes:
        """Read ``size`` bytes from the position (all that is left if negative); fewer only at
        the end, ``b""`` there. Bytes fetched by opening a small object need no request."""
        self._check_open()
        return await self._reader.read(size)

    @sync_edge.on_lasting_loop
    async def _read_some(self, size: int) -> bytes:
        return await self._reader.read_some(size)

    async def chunks(self, chunk_size: int | None = None) -> AsyncIterator[bytes]:
        """Yield the whole object from its start, in pieces of at most ``chunk_size`` bytes
        (as they arrive from the network, like Django's ``File.chunks()``); ``async for`` over
        the file does the same. Raises as :meth:`read` does."""
        self.seek(0)
        self._check_open()
        while chunk := await self._read_some(chunk_size or DEFAULT_CHUNK_SIZE):
            yield chunk

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self.chunks()

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        """Move to ``offset`` (``whence`` as in ``io``) and return the new position. No request:
        the next read asks for a ``Range`` from there. :exc:`ValueError` for a negative position,
        an unknown ``whence`` or a closed file."""
        self._check_open()
        return self._reader.seek(offset, whence)

    def tell(self) -> int:
        """The position, in bytes from the start."""
        return self._reader.position

    async def close(self) -> None:
        """Let go of the response (a connection mid-transfer is closed, not pooled); no request.
        ``async with`` closes the file on the way out."""
        self.closed = True
        self._reader.drop_response()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()

    def __repr__(self) -> str:
        return f"<AsyncMinioFile: {self.name}>"
