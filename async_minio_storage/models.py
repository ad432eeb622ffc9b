"""django-minio-backend's ``models`` module, for projects that replace its name with ours.

Replacing the text ``django_minio_backend`` with ``async_minio_storage`` in a project turns
``django_minio_backend.models.MinioBackend`` (``STORAGES``, imports, migrations) into
``async_minio_storage.models.MinioBackend``, which this module provides, with the other names
django-minio-backend's ``models`` exports.

Like django-minio-backend's, this module defines no Django model (the app has no migrations),
and it imports nothing that the package itself does not already import.

The names are the package's own objects, not copies: migrations compare a field's
``upload_to`` by identity, so ``async_minio_storage.models.iso_date_prefix`` (what a swapped
migration names) must be the very function a model gets from ``async_minio_storage`` or from
here, else ``makemigrations`` would write an ``AlterField`` for every such field.
"""

from __future__ import annotations

from datetime import UTC
from datetime import datetime

from .health import MinioServerStatus
from .names import iso_date_prefix
from .staticfiles import MinioBackendStatic
from .storage import MinioBackend

__all__ = [
    "MinioBackend",
    "MinioBackendStatic",
    "MinioServerStatus",
    "get_iso_date",
    "iso_date_prefix",
]


def get_iso_date() -> str:
    """Today's date in UTC as ``"YYYY-MM-DD"`` (zero-padded), as django-minio-backend 4.x gives
    it; the date :func:`iso_date_prefix` puts before a file's name. Pure computation."""
    return datetime.now(UTC).date().isoformat()
