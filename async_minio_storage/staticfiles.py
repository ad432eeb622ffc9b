"""Storages for ``STORAGES["staticfiles"]``: plain, and with Django's manifest of hashed names."""

from __future__ import annotations

import asyncio
import posixpath
import re
from collections.abc import Callable
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.contrib.staticfiles.storage import ManifestFilesMixin
from django.utils.deconstruct import deconstructible

from . import arguments
from . import sync_edge
from .collecting import CONCURRENCY
from .collecting import CollectBatch
from .config import StorageConfig
from .names import object_key
from .storage import MinioStorage
from .sync_files import MinioFile

# Static files whose names do not change with their content (app.js): browsers may keep them a
# minute, as WhiteNoise does, so a deploy shows within a minute. MINIO_CACHE_CONTROL replaces it.
STATIC_CACHE_CONTROL = "public, max-age=60"
# Hashed names (app.3f2a1b9c8d7e.js) change when the content does: keep them a year.
IMMUTABLE_CACHE_CONTROL = "public, max-age=31536000, immutable"
_HASHED_NAME = re.compile(r"\.[0-9a-f]{12}(\.[^./]*)?$")


@arguments.deconstructs_without_credentials
@deconstructible(path="async_minio_storage.MinioStaticStorage")
class MinioStaticStorage(MinioStorage):
    """Static files in ``MINIO_STATIC_FILES_BUCKET``, for ``STORAGES["staticfiles"]``.

    It replaces existing objects by default, as ``collectstatic`` expects. Its bucket is public
    (plain ``{% static %}`` URLs, an anonymous read-only policy from ``initialize_buckets``), as
    django-minio-backend's, unless it is listed in ``MINIO_PRIVATE_BUCKETS``: then its URLs are
    presigned. Everything else is :class:`~async_minio_storage.MinioStorage`'s, threads and
    errors included; during this package's ``collectstatic``,
    :meth:`~async_minio_storage.MinioStaticStorage.exists`, ``delete`` and ``save`` work on
    one batch for the whole run instead.
    """

    def __init__(
        self,
        bucket_name: str = "",
        storage_name: str = "staticfiles",
        *,
        replace_existing: bool = True,
        **options: Any,
    ) -> None:
        super().__init__(bucket_name, storage_name, replace_existing=replace_existing, **options)

    def _default_bucket_name(self, config: StorageConfig) -> str:
        return config.static_bucket

    def get_object_parameters(self, name: str) -> dict[str, str]:
        """``Cache-Control``: ``MINIO_CACHE_CONTROL`` if set, else ``public, max-age=60``, so
        that a deploy shows within a minute."""
        return {"Cache-Control": self.config.cache_control or STATIC_CACHE_CONTROL}

    # --- collectstatic ---------------------------------------------------------------------
    # While this package's collectstatic runs, a CollectBatch answers exists() from one
    # listing and queues saves; see collecting.py. Outside it, nothing below changes anything.

    _batch: CollectBatch | None = None

    @contextmanager
    def collecting(
        self,
        concurrency: int | None = None,
        progress: Callable[[int, int], None] | None = None,
    ) -> Iterator[CollectBatch]:
        """Batch this storage's operations for one ``collectstatic`` run; at the end, wait
        for the uploads (reporting ``progress(done, total)``) and write what was deferred."""
        batch = CollectBatch(self, concurrency=concurrency or CONCURRENCY)
        self._batch = batch
        try:
            yield batch
            batch.finish(progress)
        except BaseException:
            batch.abandon()
            raise
        finally:
            self._batch = None

    def _is_written_last(self, key: str) -> bool:
        return False

    def exists(self, name: str) -> bool:
        """As :meth:`MinioStorage.exists() <async_minio_storage.MinioStorage.exists>`; during
        ``collectstatic``, answered from the run's one listing, without a request or a loop."""
        if self._batch is not None:
            return self._batch.exists(object_key(name))
        return super().exists(name)

    def delete(self, name: str) -> None:
        """As :meth:`MinioStorage.delete() <async_minio_storage.MinioStorage.delete>`; during
        ``collectstatic``, deferred to the end of the run, and cancelled if the name is saved
        again meanwhile."""
        if self._batch is not None and name:
            self._batch.delete(object_key(name))
            return
        super().delete(name)

    def save(self, name: str | None, content: Any, max_length: int | None = None) -> str:
        """As :meth:`MinioStorage.save() <async_minio_storage.MinioStorage.save>`; during
        ``collectstatic``, under ``name`` itself (replacing any object there). A file under
        ``MINIO_MULTIPART_THRESHOLD`` is skipped if unchanged, else queued for upload on the
        portal loop (waiting only for room among the uploads in flight); a larger one is
        uploaded before it returns. A failed queued upload is raised by a later save or at the
        end of the run."""
        if self._batch is not None and name and content is not None:
            return self._save(name, content)
        return super().save(name, content, max_length)

    def _save(self, name: str, content: Any) -> str:
        batch = self._batch
        if batch is None:
            return super()._save(name, content)
        key = object_key(name)
        size = getattr(content, "size", None)
        if size is None or size >= self.config.multipart_threshold:
            batch.wait_for(key)  # large: sent now, in parts, rather than held in memory
            stored = super()._save(key, content)
            batch.forget(key)
            return stored
        if hasattr(content, "seek"):
            content.seek(0)
        data = content.read()
        batch.save(
            key,
            data.encode() if isinstance(data, str) else bytes(data),
            last=self._is_written_last(key),
        )
        return key

    def _open(self, name: str, mode: str = "rb") -> Any:
        batch = self._batch
        if batch is not None:
            key = object_key(name)
            source = batch.local_source(key)
            if source is not None:  # the same bytes are on local disk: no request
                source_storage, path = source
                return source_storage.open(path, mode)
            batch.wait_for(key)
        opened: MinioFile = super()._open(name, mode)
        return opened


_UNREAD: Any = object()


class _ReadOnFirstUse:
    """``hashed_files`` and ``manifest_hash``: read from the bucket when first used.

    Django's ``ManifestFilesMixin`` reads the manifest while the storage is being built. For an
    object store that is a request, so it is deferred to the first ``{% static %}`` (or other
    use): building a storage does no I/O, and ``manage.py`` commands that never render a
    template never ask the server for it.
    """

    def __set_name__(self, owner: type, name: str) -> None:
        self.slot = f"_{name}"

    def __get__(self, storage: MinioManifestStaticStorage | None, owner: type) -> Any:
        if storage is None:
            return self
        if storage.__dict__.get(self.slot, _UNREAD) is _UNREAD:
            storage.hashed_files, storage.manifest_hash = storage.read_manifest_now()
        return storage.__dict__[self.slot]

    def __set__(self, storage: MinioManifestStaticStorage, value: Any) -> None:
        storage.__dict__[self.slot] = value


@arguments.deconstructs_without_credentials
@deconstructible(path="async_minio_storage.MinioManifestStaticStorage")
class MinioManifestStaticStorage(ManifestFilesMixin, MinioStaticStorage):  # type: ignore[misc]
    """``ManifestStaticFilesStorage`` for the static bucket: hashed names, and the manifest
    (``staticfiles.json``) kept in the bucket next to the files, written last by
    ``collectstatic``. Building the storage reads nothing: the manifest is read on first use."""

    #: Django's map of names to hashed names, read from the manifest on first use (the first
    #: ``{% static %}``) by :meth:`read_manifest_now`, on the thread that uses it.
    hashed_files = _ReadOnFirstUse()
    #: The manifest's hash of its names (Django's), read with :attr:`hashed_files`.
    manifest_hash = _ReadOnFirstUse()

    def get_object_parameters(self, name: str) -> dict[str, str]:
        """``no-cache`` for the manifest (revalidated on every read), a year and ``immutable``
        for hashed names (``app.3f2a1b9c8d7e.js``), else as in
        :class:`~async_minio_storage.MinioStaticStorage`."""
        if name == self.manifest_name:
            return {"Cache-Control": "no-cache"}  # read by servers, revalidated every time
        if _HASHED_NAME.search(posixpath.basename(name)):
            return {"Cache-Control": IMMUTABLE_CACHE_CONTROL}
        return super().get_object_parameters(name)

    def _is_written_last(self, key: str) -> bool:
        # The manifest names the hashed files: store it only once they are all stored.
        return key == object_key(self.manifest_name)

    # django-stubs types load_manifest() as returning a dict and read_manifest() as never
    # returning None; Django returns (paths, hash) and None for a missing manifest.

    def load_manifest(self) -> tuple[Any, Any]:  # type: ignore[override]
        """Django's hook, called while the storage is built: here it reads nothing and returns
        placeholders, which the first use of :attr:`hashed_files` replaces."""
        return _UNREAD, _UNREAD  # see _ReadOnFirstUse

    def read_manifest_now(self) -> tuple[dict[str, str], str]:
        """``(hashed_files, manifest_hash)`` read from the manifest now: Django's
        ``load_manifest()``, ``({}, "")`` without a manifest, :exc:`ValueError` for one it
        cannot read. Blocks the calling thread (see :meth:`read_manifest`)."""
        loaded: Any = ManifestFilesMixin.load_manifest(self)
        return loaded  # type: ignore[no-any-return]

    def read_manifest(self) -> str | None:  # type: ignore[override]
        """The manifest's text, or None if there is none (Django's), read with the sync
        ``open()``, blocking the calling thread. On a thread that runs an event loop (the first
        ``{% static %}`` of an async view) a worker thread reads it while the loop waits, as
        Django's own manifest storage reads its file from disk there."""
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return super().read_manifest()
        # First use on an event loop's thread ({% static %} in an async view): the sync API
        # cannot run here, so the manifest is read by a worker thread while the loop waits,
        # once per process, as Django's own manifest storage reads its file from disk.
        return sync_edge.call_in_worker_thread(super().read_manifest)


# The drop-in name for projects coming from django-minio-backend.
MinioBackendStatic = MinioStaticStorage
