"""``collectstatic`` into an object store: one listing, content hashes, concurrent uploads.

Django's ``collectstatic`` works one file at a time, and asks the storage about each file
before copying it: ``exists()``, ``get_modified_time()``, ``delete()``, ``save()``, two to four
round trips per file, one after another. Its "unchanged" test compares modification times,
which a fresh checkout or a container build resets, so every deploy uploads everything again.

While ``collectstatic`` runs, a :class:`CollectBatch` stands in for those round trips:

- the bucket is listed once, up front (paged, 1,000 objects per request); ``exists()`` and
  "is this the same file?" are answered from that listing;
- a file is unchanged when the MD5 of its content equals the stored object's ETag (which is
  the MD5 of the content for objects uploaded in one request, as static files are);
- ``save()`` queues the upload on the portal loop and returns; at most ``concurrency`` uploads
  (64 by default) are in flight, over a connection pool of their own, holding at most
  ``BYTES_IN_FLIGHT`` bytes between them;
- ``delete()`` is deferred, and cancelled if the same name is saved again (Django's manifest
  storage deletes and re-saves every CSS file on every run);
- the manifest (``staticfiles.json``) is written last, once every file it names is stored: a
  failed run leaves the previous manifest, which names only files that exist.

The batch is used only by this package's ``collectstatic`` command; the storage behaves
normally everywhere else.
"""

from __future__ import annotations

import asyncio
import hashlib
import threading
from collections.abc import Callable
from collections.abc import Iterable
from collections.abc import Sequence
from concurrent.futures import Future
from concurrent.futures import wait
from dataclasses import dataclass
from dataclasses import field
from dataclasses import replace
from functools import partial
from typing import TYPE_CHECKING

from django.core.files.storage import Storage

from . import wire
from .bulk import batches
from .bulk import delete_batch
from .bulk import list_objects
from .client import get_connection
from .errors import StorageRequestError
from .sync_edge import run_sync
from .sync_edge import start_on_portal
from .wire import ObjectRecord
from .wire import RequestBody

if TYPE_CHECKING:
    from .staticfiles import MinioStaticStorage

# Uploads in flight at once, by default. Static files are small: each costs the server a
# request more than it costs bytes, and a server given many requests at once handles them
# for less CPU each (measured in benchmarks/analysis.md: 10, 32, 64 and 128 in flight). Over
# a network, requests in flight also hide the round trips.
CONCURRENCY = 64
# Bytes held by the uploads in flight, at most (a single larger file still goes, alone).
BYTES_IN_FLIGHT = 64 * 1024 * 1024


def content_md5(data: bytes) -> str:
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


def file_md5(storage: Storage, path: str) -> tuple[str, int]:
    """MD5 and size of a source file (local disk, read in pieces)."""
    digest = hashlib.md5(usedforsecurity=False)
    size = 0
    with storage.open(path) as source:
        for chunk in source.chunks():
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


async def list_bucket(storage: MinioStaticStorage) -> dict[str, ObjectRecord]:
    """Every object in the storage's bucket, from one paged listing."""
    connection = await get_connection(storage.config.connection)
    return {
        listed.key: listed
        async for listed in list_objects(connection, storage.bucket_name)
        if listed.key and not listed.is_directory_marker
    }


async def delete_keys(storage: MinioStaticStorage, keys: list[str]) -> None:
    """Delete ``keys`` with multi-object deletes of up to 1,000 keys, all at once."""

    connection = await get_connection(storage.config.connection)

    async def delete(batch: Sequence[str]) -> None:
        failures = await delete_batch(connection, storage.bucket_name, batch)
        if failures:
            raise StorageRequestError(
                f"{len(failures)} objects could not be deleted from {storage.bucket_name!r}, "
                f"for example {failures[0].key!r}: {failures[0].code}."
            )

    await asyncio.gather(*(delete(batch) for batch in batches(keys)))


@dataclass
class CollectStats:
    uploaded: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    bytes_uploaded: int = 0


class CollectBatch:
    """One ``collectstatic`` run's view of the bucket, and its queue of uploads.

    Used from the command's thread only; the uploads run on the portal loop.
    """

    def __init__(self, storage: MinioStaticStorage, *, concurrency: int) -> None:
        if concurrency < 1:
            raise ValueError(f"concurrency must be 1 or more, not {concurrency}.")
        self.storage = storage
        self.concurrency = concurrency
        # The uploads' own connection pool, as large as the concurrency: the storage's pool
        # (MINIO_MAX_CONNECTIONS, 10 by default) would otherwise admit only that many.
        self.connection = replace(storage.config.connection, max_connections=concurrency)
        self.stored = run_sync(list_bucket, storage)
        self.stats = CollectStats()
        self._deleted: dict[str, ObjectRecord] = {}  # deferred deletes, with what was there
        self._pending: dict[str, Future[str]] = {}
        self._last: dict[str, bytes] = {}  # written after everything else: the manifest
        self._room = threading.Condition()  # uploads and bytes in flight, under the bounds
        self._uploads_in_flight = 0
        self._bytes_in_flight = 0
        self._failures: list[BaseException] = []
        self._local: dict[str, tuple[Storage, str]] = {}

    # --- questions the storage answers from the listing --------------------------------------

    def exists(self, key: str) -> bool:
        return key in self.stored

    def keys_under(self, prefix: str) -> list[str]:
        return sorted(key for key in self.stored if key.startswith(prefix))

    def holds(self, key: str, md5: str, size: int) -> bool:
        """True if the object ``key`` already has exactly this content."""
        stored = self.stored.get(key)
        return stored is not None and stored.content_md5 == md5 and stored.size == size

    def remember_source(self, key: str, storage: Storage, path: str) -> None:
        """The local file whose content ``key`` has (or is about to have)."""
        self._local[key] = (storage, path)

    def local_source(self, key: str) -> tuple[Storage, str] | None:
        return self._local.get(key)

    # --- changes --------------------------------------------------------------------------------

    def save(self, key: str, data: bytes, *, last: bool = False) -> None:
        """Store ``data`` as ``key``: at once if unchanged, else queued (``last``: at the end)."""
        self._raise_failure()
        md5 = content_md5(data)
        previous = self._deleted.pop(key, None) or self.stored.get(key)
        self.stored[key] = ObjectRecord(key, size=len(data), etag=md5, last_modified=None)
        if previous is not None and previous.content_md5 == md5 and previous.size == len(data):
            self.stats.unchanged.append(key)
            return
        if last:
            self._last[key] = data
            return
        self.wait_for(key)  # two saves of one name: keep their order
        self._make_room(len(data))
        future = start_on_portal(self._upload(key, data))
        future.add_done_callback(partial(self._upload_done, len(data)))
        self._pending[key] = future
        self.stats.uploaded.append(key)
        self.stats.bytes_uploaded += len(data)

    def _make_room(self, size: int) -> None:
        """Wait until one more upload of ``size`` bytes fits the bounds, and count it in.

        At most ``concurrency`` uploads, holding at most ``BYTES_IN_FLIGHT`` bytes between
        them, except that one upload always goes, however large.
        """
        with self._room:
            while self._uploads_in_flight and (
                self._uploads_in_flight >= self.concurrency
                or self._bytes_in_flight + size > BYTES_IN_FLIGHT
            ):
                self._room.wait()
            self._uploads_in_flight += 1
            self._bytes_in_flight += size

    async def _upload(self, key: str, data: bytes) -> str:
        """PUT ``data`` as ``key``, replacing what is there.

        ``collectstatic`` replaces changed files (Django's command deletes the stored copy
        before saving), so the storage's ``replace_existing`` and alternative names do not
        apply here.
        """
        storage = self.storage
        connection = await get_connection(self.connection)
        await wire.put_object(
            connection,
            storage.bucket_name,
            key,
            RequestBody(data),
            storage.object_headers(key),
            token=wire.new_save_token(),
            if_absent=False,
        )
        return key

    def _upload_done(self, size: int, future: Future[str]) -> None:
        with self._room:
            self._uploads_in_flight -= 1
            self._bytes_in_flight -= size
            self._room.notify()
        error = future.exception() if not future.cancelled() else None
        if error is not None:
            self._failures.append(error)

    def forget(self, key: str) -> None:
        """``key`` was written around the batch (a large file): its content is not known."""
        self.stored[key] = ObjectRecord(key, size=-1, etag=None, last_modified=None)
        self._deleted.pop(key, None)

    def delete(self, key: str) -> None:
        """Forget ``key`` now; delete it at the end unless it is saved again meanwhile."""
        stored = self.stored.pop(key, None)
        self._last.pop(key, None)
        if stored is not None:
            self._deleted[key] = stored

    def delete_now(self, keys: Iterable[str]) -> None:
        """Delete ``keys`` at once (``--clear``), in multi-object deletes."""
        keys = list(keys)
        for key in keys:
            self.wait_for(key)
        run_sync(delete_keys, self.storage, keys)
        for key in keys:
            self.stored.pop(key, None)
        self.stats.deleted.extend(keys)

    def wait_for(self, key: str) -> None:
        """Block until a queued upload of ``key`` is stored (before reading it back)."""
        future = self._pending.pop(key, None)
        if future is not None:
            future.result()  # raises what the upload raised

    @property
    def in_flight(self) -> int:
        return sum(not future.done() for future in self._pending.values())

    def finish(self, progress: Callable[[int, int], None] | None = None) -> CollectStats:
        """Wait for every upload, write the deferred last files, apply deferred deletes.

        ``progress(done, total)`` is called every two seconds while uploads are in flight.
        """
        pending = list(self._pending.values())
        while True:
            _, not_done = wait(pending, timeout=2)
            if not not_done:
                break
            if progress is not None:
                progress(len(pending) - len(not_done), len(pending))
        self._raise_failure()
        self._pending.clear()
        for key, data in self._last.items():
            run_sync(self._upload, key, data)
            self.stats.uploaded.append(key)
            self.stats.bytes_uploaded += len(data)
        self._last.clear()
        if self._deleted:
            keys = sorted(self._deleted)
            run_sync(delete_keys, self.storage, keys)
            self.stats.deleted.extend(keys)
            self._deleted.clear()
        return self.stats

    def abandon(self) -> None:
        """Stop queued uploads after a failure or an interrupt; write nothing more."""
        for future in self._pending.values():
            future.cancel()
        wait(list(self._pending.values()), timeout=30)
        self._pending.clear()
        self._last.clear()
        self._deleted.clear()

    def _raise_failure(self) -> None:
        if self._failures:
            raise self._failures[0]
