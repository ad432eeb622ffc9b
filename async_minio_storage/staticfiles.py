"""Storages for ``STORAGES["staticfiles"]``: plain, and with Django's manifest of hashed names."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from django.contrib.staticfiles.storage import ManifestFilesMixin
from django.utils.deconstruct import deconstructible

from .config import StorageConfig
from .storage import MinioStorage


@deconstructible(path="async_minio_storage.MinioStaticStorage")
class MinioStaticStorage(MinioStorage):
    """Static files in ``MINIO_STATIC_FILES_BUCKET``, for ``STORAGES["staticfiles"]``.

    It replaces existing objects by default, as ``collectstatic`` expects. ``{% static %}``
    gives plain URLs when the bucket is public and presigned ones when it is private.
    """

    def __init__(
        self,
        bucket_name: str = "",
        replace_existing: bool = True,
        storage_name: str = "staticfiles",
        **options: Any,
    ) -> None:
        super().__init__(bucket_name, replace_existing, storage_name, **options)

    def _default_bucket_name(self, config: StorageConfig) -> str:
        return config.static_bucket


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


@deconstructible(path="async_minio_storage.MinioManifestStaticStorage")
class MinioManifestStaticStorage(ManifestFilesMixin, MinioStaticStorage):  # type: ignore[misc]
    """``ManifestStaticFilesStorage`` for the static bucket: hashed names, and the manifest
    (``staticfiles.json``) kept in the bucket next to the files."""

    hashed_files = _ReadOnFirstUse()
    manifest_hash = _ReadOnFirstUse()

    # django-stubs types load_manifest() as returning a dict and read_manifest() as never
    # returning None; Django returns (paths, hash) and None for a missing manifest.

    def load_manifest(self) -> tuple[Any, Any]:  # type: ignore[override]
        return _UNREAD, _UNREAD  # see _ReadOnFirstUse

    def read_manifest_now(self) -> tuple[dict[str, str], str]:
        loaded: Any = ManifestFilesMixin.load_manifest(self)
        return loaded  # type: ignore[no-any-return]

    def read_manifest(self) -> str | None:  # type: ignore[override]
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return super().read_manifest()
        # First use on an event loop's thread ({% static %} in an async view): the sync API
        # cannot run here, so the manifest is read by a worker thread while the loop waits,
        # once per process, as Django's own manifest storage reads its file from disk.
        with ThreadPoolExecutor(max_workers=1) as worker:
            return worker.submit(super().read_manifest).result()


# The drop-in name for projects coming from django-minio-backend.
MinioBackendStatic = MinioStaticStorage
