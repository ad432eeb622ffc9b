"""The sync file of ``storage.open()``: a Django ``File`` over :class:`~.files.ObjectReader`.

The reader's coroutines run on the loop ``sync_edge`` picks for the calling thread: the portal
loop for a WSGI worker or a script, the server's loop for a sync view under ASGI. Reads go
through a buffer so that Django's 64 KiB chunks cost one trip per MiB.

With ``MINIO_READ_AHEAD`` (the default), the first read starts a :class:`ReadAhead`: a task on
that loop that goes on reading the object into a bounded buffer while the caller's thread
consumes what came before, so the network is never idle while the caller works. Without it
(``0``), each trip runs one read on the loop while the caller's thread waits.
"""

from __future__ import annotations

import asyncio
import io
import os
import threading
from collections import deque
from collections.abc import Callable
from typing import IO
from typing import TYPE_CHECKING
from typing import Any
from typing import Self
from typing import cast

from django.core.exceptions import SynchronousOnlyOperation
from django.core.files.base import File

from .errors import StorageUnavailable
from .files import ObjectDetails
from .files import ObjectReader
from .sync_edge import call_on_loop
from .sync_edge import run_sync
from .sync_edge import start_for_sync_caller

if TYPE_CHECKING:
    from .storage import MinioStorage

    _BytesFile = File[bytes]  # django-stubs makes File generic; Django's class is not.
else:
    _BytesFile = File

# The most the read-ahead asks of the response at once; aiohttp hands over what it has.
READ_AHEAD_CHUNK = 1024 * 1024
# How long a caller waits for bytes before it checks that the read-ahead's loop still runs.
_LOOP_CHECK_SECONDS = 1.0
# What wakes the read-ahead's task: its loop, and what to call there.
_Wake = tuple[asyncio.AbstractEventLoop, Callable[[], object]]


class ReadAhead:
    """The next bytes of an object, read on a loop while a sync caller consumes earlier ones.

    Two threads share it. :meth:`_fill` runs as a task on the loop ``sync_edge`` picks for the
    caller, with a reader of its own (:meth:`ObjectReader.detach`): it appends what the response
    delivers to a deque of chunks until ``limit`` bytes are buffered, then waits on an
    ``asyncio.Event`` until the caller made room. :meth:`readinto` runs on the caller's thread:
    it takes as much as is buffered, and waits on a ``threading.Condition`` only when nothing
    is, until enough for its buffer (or the end) arrived: one handoff per buffer, not per chunk.
    The lock is held only to move chunks in and out of the deque, never while copying bytes or
    waiting on the loop's side, so the loop is never blocked. Each side wakes the other only
    when it waits: the caller through ``call_on_loop``, the task through ``notify``.

    At most ``limit`` bytes are buffered, plus the chunks one :meth:`readinto` is copying out.
    An error of the task (a cut transfer, :class:`~.errors.ObjectChanged`) is raised by the
    caller's next :meth:`readinto` that finds the buffer empty. :meth:`cancel` (from any thread)
    ends the task; its response is released, which closes an unfinished connection rather than
    leaving it pinned in the pool.
    """

    def __init__(self, reader: ObjectReader, limit: int) -> None:
        self._reader = reader  # this read-ahead's own: nothing else reads or moves it
        self._limit = limit
        self._condition = threading.Condition(threading.Lock())
        self._chunks: deque[memoryview] = deque()
        self.buffered_bytes = 0
        self._wanted = 0  # what the waiting caller waits for; 0 when it does not wait
        self._finished = False
        self._cancelled = False  # set by cancel(); the task then keeps nothing it reads
        self._error: BaseException | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._room: asyncio.Event | None = None  # set on the loop when the caller made room
        self._waiting_for_room = False
        self._future = start_for_sync_caller(self._fill())

    async def _fill(self) -> None:
        reader, room = self._reader, asyncio.Event()
        with self._condition:
            self._loop, self._room = asyncio.get_running_loop(), room
        try:
            while reader.position < reader.stop:
                with self._condition:
                    free = self._limit - self.buffered_bytes
                    self._waiting_for_room = free <= 0
                    if self._waiting_for_room:
                        room.clear()
                if free <= 0:
                    await room.wait()
                    continue
                chunk = await reader.read_some(min(READ_AHEAD_CHUNK, free))
                with self._condition:
                    if self._cancelled:  # cancelled while the read was in flight
                        return
                    self._chunks.append(memoryview(chunk))
                    self.buffered_bytes += len(chunk)
                    if self._wanted and self.buffered_bytes >= self._wanted:
                        self._condition.notify()
        except Exception as error:
            with self._condition:
                self._error = error
        finally:
            reader.drop_response()
            with self._condition:
                self._finished = True
                self._condition.notify_all()

    def readinto(self, view: memoryview) -> int:
        """Move up to ``len(view)`` bytes into ``view``; 0 only once the task has finished."""
        pieces, wake = self._take(len(view))
        if wake is not None:
            call_on_loop(*wake)
        received = 0
        for piece in pieces:
            view[received : received + len(piece)] = piece
            received += len(piece)
        return received

    def _take(self, size: int) -> tuple[list[memoryview], _Wake | None]:
        with self._condition:
            if not self.buffered_bytes:
                self._wait_for(min(size, self._limit))
            pieces: list[memoryview] = []
            taken = 0
            wake: _Wake | None = None
            while taken < size and self._chunks:
                chunk = self._chunks.popleft()
                if len(chunk) > size - taken:
                    self._chunks.appendleft(chunk[size - taken :])
                    chunk = chunk[: size - taken]
                pieces.append(chunk)
                taken += len(chunk)
            self.buffered_bytes -= taken
            if taken and self._waiting_for_room and self._loop and self._room:
                self._waiting_for_room = False
                wake = (self._loop, self._room.set)
            return pieces, wake

    def _wait_for(self, wanted: int) -> None:
        """Wait, holding the condition, until ``wanted`` bytes are buffered or the task ended."""
        self._wanted = wanted
        try:
            while self.buffered_bytes < wanted and not self._finished:
                if not self._condition.wait(_LOOP_CHECK_SECONDS) and self._loop_stopped():
                    raise StorageUnavailable(
                        f"The download of {self._reader.bucket}/{self._reader.key} stopped: "
                        "the event loop reading it no longer runs."
                    )
        finally:
            self._wanted = 0
        if not self.buffered_bytes and self._error is not None:
            raise self._error

    def _loop_stopped(self) -> bool:
        loop = self._loop
        return self._future.done() or (loop is not None and not loop.is_running())

    def cancel(self) -> None:
        """Stop reading ahead and let go of the buffered bytes, from any thread."""
        loop = self._loop
        if loop is None or not loop.is_closed():
            self._future.cancel()  # the task's ``finally`` releases its response
        self._reader.drop_response()  # at once too, in case the task is not running
        with self._condition:
            self._cancelled = True
            self._chunks.clear()
            self.buffered_bytes = 0

    @property
    def running(self) -> bool:
        """Whether the task has not yet ended (cancelled, failed or at the end)."""
        return not self._finished


def _refuse_on_a_loop() -> None:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return
    raise SynchronousOnlyOperation(
        "A file of storage.open() was read on a thread that runs an event loop, which would "
        "block the loop. Await its async twin instead: `await storage.aopen(...)`."
    )


class SyncObjectStream(io.RawIOBase):
    """A raw, seekable, read-only byte stream over an :class:`ObjectReader` for sync code.

    ``read_ahead`` is the most bytes a :class:`ReadAhead` may hold (0: none). The stream's
    reader then keeps the caller's position and the object's details; the read-ahead reads
    with a reader of its own, and a seek elsewhere, a failed read or ``close()`` cancels it.
    """

    def __init__(self, reader: ObjectReader, read_ahead: int = 0) -> None:
        super().__init__()
        self._reader = reader
        self._read_ahead = read_ahead
        self.ahead: ReadAhead | None = None  # the running read-ahead, if any

    @property
    def size(self) -> int:
        return self._reader.size

    @property
    def buffered_bytes(self) -> int:
        """Bytes read ahead and not yet consumed (at most ``read_ahead``)."""
        return self.ahead.buffered_bytes if self.ahead is not None else 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        self._checkClosed()
        if size is None or size < 0:
            return self.readall()
        if self._read_ahead:
            return super().read(size) or b""
        return run_sync(self._reader.read, size)

    def readall(self) -> bytes:
        self._checkClosed()
        reader = self._reader
        if reader.holds_the_rest:  # a small object, read whole when it was opened
            whole = bytearray(reader.stop - reader.position)
            return bytes(whole[: reader.take_held(memoryview(whole))])
        if not self._read_ahead:
            return run_sync(self._reader.read, -1)
        whole = bytearray(max(self._reader.stop - self._reader.position, 0))
        with memoryview(whole) as view:
            received = 0
            while received < len(whole):
                received += self.readinto(view[received:])
        return bytes(whole)

    def readinto(self, buffer: Any) -> int:
        self._checkClosed()
        with memoryview(buffer) as view, view.cast("B") as target:
            if self._reader.holds_the_rest:  # no trip to the loop for bytes in memory
                return self._reader.take_held(target)
            if not self._read_ahead:
                return run_sync(self._reader.readinto, target)
            return self._read_ahead_into(target)

    def _read_ahead_into(self, target: memoryview) -> int:
        reader = self._reader
        wanted = min(len(target), reader.stop - reader.position)
        if wanted <= 0:
            return 0
        _refuse_on_a_loop()
        if self.ahead is None:
            self.ahead = ReadAhead(reader.detach(), self._read_ahead)
        try:
            received = self.ahead.readinto(target[:wanted])
            if not received:
                raise StorageUnavailable(
                    f"The download of {reader.bucket}/{reader.key} ended at byte "
                    f"{reader.position} of {reader.stop}."
                )
        except BaseException:
            self._stop_reading_ahead()  # the next read starts again from the caller's position
            raise
        reader.position += received
        return received

    def _stop_reading_ahead(self) -> None:
        ahead, self.ahead = self.ahead, None
        if ahead is not None:
            ahead.cancel()

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        self._checkClosed()
        before = self._reader.position
        position = self._reader.seek(offset, whence)
        if position != before:
            self._stop_reading_ahead()
        return position

    def tell(self) -> int:
        return self._reader.position

    def close(self) -> None:
        if not self.closed:
            self._stop_reading_ahead()
            self._reader.drop_response()
        super().close()


# Sync reads go through the loop a buffer at a time: the sync edge costs a thread hop per
# call, so small reads (Django's chunks are 64 KiB) are served from this buffer.
SYNC_BUFFER_SIZE = 1024 * 1024


def _buffered(reader: ObjectReader, read_ahead: int) -> IO[bytes]:
    stream = SyncObjectStream(reader, read_ahead)
    return cast(IO[bytes], io.BufferedReader(stream, SYNC_BUFFER_SIZE))


class MinioFile(ObjectDetails, _BytesFile):
    """The file ``storage.open(name)`` returns: a read-only Django ``File`` that streams.

    ``chunks()``, iteration and ``read(n)`` fetch bytes as they go, 1 MiB per trip through
    the sync edge; with ``read_ahead`` (``MINIO_READ_AHEAD``) up to that many bytes are read
    on while the caller works. Reopening a closed file (``file.open()``, as django-imagekit
    does) starts a new stream.

    ``read``, ``seek``, ``tell``, ``chunks``, ``close`` and ``size`` are Django's
    :class:`~django.core.files.File`'s, over that stream; ``seek``, ``tell`` and ``size`` make
    no request. A read that needs the network blocks the calling thread while the object is
    read on the process's portal loop (or, in a thread of ``sync_to_async``, on the ASGI
    server's loop); on a thread that runs an event loop it raises
    :exc:`~django.core.exceptions.SynchronousOnlyOperation` instead: await
    :meth:`~async_minio_storage.MinioStorage.aopen` there. Reads raise as
    :class:`~async_minio_storage.AsyncMinioFile`'s do; ``close()`` stops the read-ahead and
    lets go of the response.
    """

    def __init__(
        self, reader: ObjectReader, name: str, storage: MinioStorage, *, read_ahead: int = 0
    ) -> None:
        super().__init__(_buffered(reader, read_ahead), name)
        self._reader = reader
        self._storage = storage
        self._read_ahead = read_ahead
        self._size = reader.size
        self.mode = "rb"

    def open(self, mode: str | None = None, *args: Any, **kwargs: Any) -> Self:
        if mode not in (None, "rb"):
            raise ValueError(f"Objects are opened read-only ('rb'); got mode {mode!r}.")
        if self.closed:
            self._reader.seek(0)
            self.file = _buffered(self._reader, self._read_ahead)
        else:
            self.seek(0)
        return self

    def write(self, *args: Any, **kwargs: Any) -> int:
        raise io.UnsupportedOperation(
            "Objects are opened read-only; save new content with storage.save()."
        )
