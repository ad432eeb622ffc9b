"""The consistency check: which storages are configured, and bringing their buckets in line.

Used by ``manage.py initialize_buckets`` and, with ``MINIO_CONSISTENCY_CHECK_ON_START``, once at
start-up. Both run the check on a loop of their own (``sync_edge.run_on_own_loop``), which is
closed with its sessions when the check ends: nothing is left open behind them.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.files.storage import storages
from django.utils.module_loading import import_string

from .buckets import initialize_buckets
from .storage import MinioStorage


def minio_aliases() -> list[tuple[str, type[MinioStorage], dict[str, Any]]]:
    """``(alias, backend class, OPTIONS)`` of every ``STORAGES`` entry whose backend is ours.

    Read from ``settings.STORAGES`` without building any storage. (Not from
    ``storages.backends``: on Django 4.2 that drops an alias' ``OPTIONS`` when ``STORAGES`` is
    overridden in tests.)
    """
    found = []
    for alias, entry in (getattr(settings, "STORAGES", None) or {}).items():
        backend = import_string(entry["BACKEND"])
        if isinstance(backend, type) and issubclass(backend, MinioStorage):
            found.append((alias, backend, dict(entry.get("OPTIONS") or {})))
    return found


def configured_storages() -> list[tuple[str, MinioStorage]]:
    """``(alias, storage)`` for every storage of ``STORAGES`` whose backend is one of ours.

    When none is (a project configured only with global ``MINIO_*`` settings and a storage
    given to each ``FileField``), a ``MinioStorage()`` built from the global settings stands in,
    under the alias ``"default"``. Building a storage does no I/O.
    """
    found = []
    for alias, _, _ in minio_aliases():
        storage = storages[alias]
        assert isinstance(storage, MinioStorage)
        found.append((alias, storage))
    return found or [("default", MinioStorage())]


async def acheck_buckets(minio_storages: list[MinioStorage] | None = None) -> list[str]:
    """Create missing buckets and set their policies, for every configured storage."""
    if minio_storages is None:
        minio_storages = [storage for _, storage in configured_storages()]
    return await initialize_buckets(
        (storage.config, storage.bucket_name) for storage in minio_storages
    )
