"""The sync file of ``storage.open()``: a Django ``File`` over :class:`~.files.ObjectReader`.

Each read runs the reader's coroutine through ``sync_edge.run_sync``, on the portal loop for a
WSGI worker or a script, on the server's loop for a sync view under ASGI; the caller's thread
waits. Reads go through a buffer so that Django's 64 KiB chunks cost one trip per MiB.
"""

from __future__ import annotations

import io
import os
from datetime import datetime
from typing import IO
from typing import TYPE_CHECKING
from typing import Any
from typing import Self
from typing import cast

from django.core.files.base import File

from .files import ObjectReader
from .sync_edge import run_sync

if TYPE_CHECKING:
    from .storage import MinioStorage

    _BytesFile = File[bytes]  # django-stubs makes File generic; Django's class is not.
else:
    _BytesFile = File


class SyncObjectStream(io.RawIOBase):
    """A raw, seekable, read-only byte stream over an :class:`ObjectReader` for sync code."""

    def __init__(self, reader: ObjectReader) -> None:
        super().__init__()
        self._reader = reader

    @property
    def size(self) -> int:
        return self._reader.size

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        self._checkClosed()
        return run_sync(self._reader.read, size)

    def readall(self) -> bytes:
        return self.read(-1)

    def readinto(self, buffer: Any) -> int:
        self._checkClosed()
        with memoryview(buffer) as view:
            return run_sync(self._reader.readinto, view.cast("B"))

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        self._checkClosed()
        return self._reader.seek(offset, whence)

    def tell(self) -> int:
        return self._reader.position

    def close(self) -> None:
        if not self.closed:
            self._reader.drop_response()
        super().close()


# Sync reads go through the loop a buffer at a time: the sync edge costs a thread hop per
# call, so small reads (Django's chunks are 64 KiB) are served from this buffer.
SYNC_BUFFER_SIZE = 1024 * 1024


def _buffered(reader: ObjectReader) -> IO[bytes]:
    return cast(IO[bytes], io.BufferedReader(SyncObjectStream(reader), SYNC_BUFFER_SIZE))


class MinioFile(_BytesFile):
    """The file ``storage.open(name)`` returns: a read-only Django ``File`` that streams.

    ``chunks()``, iteration and ``read(n)`` fetch bytes as they go, 1 MiB per trip through
    the sync edge. Reopening a closed file (``file.open()``, as django-imagekit does) starts a
    new stream.
    """

    def __init__(self, reader: ObjectReader, name: str, storage: MinioStorage) -> None:
        super().__init__(_buffered(reader), name)
        self._reader = reader
        self._storage = storage
        self._size = reader.size
        self.mode = "rb"

    @property
    def content_type(self) -> str | None:
        return self._reader.content_type

    @property
    def etag(self) -> str | None:
        return self._reader.etag

    @property
    def last_modified(self) -> datetime | None:
        return self._reader.last_modified

    def open(self, mode: str | None = None, *args: Any, **kwargs: Any) -> Self:
        if mode not in (None, "rb"):
            raise ValueError(f"Objects are opened read-only ('rb'); got mode {mode!r}.")
        if self.closed:
            self._reader.seek(0)
            self.file = _buffered(self._reader)
        else:
            self.seek(0)
        return self

    def write(self, *args: Any, **kwargs: Any) -> int:
        raise io.UnsupportedOperation(
            "Objects are opened read-only; save new content with storage.save()."
        )
