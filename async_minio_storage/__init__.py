"""Async-first Django storage for MinIO and S3-compatible object stores.

``await storage.asave(...)`` in async views; ``storage.save(...)``, ``FileField`` and the admin
everywhere else. Drop-in for django-minio-backend: same ``MINIO_*`` settings, same class names.
"""

from .errors import MinioStorageError
from .errors import StorageRequestError
from .errors import StorageUnavailable
from .files import AsyncMinioFile
from .health import MinioServerStatus
from .models import get_iso_date
from .names import iso_date_prefix
from .staticfiles import MinioBackendStatic
from .staticfiles import MinioManifestStaticStorage
from .staticfiles import MinioStaticStorage
from .storage import MinioBackend
from .storage import MinioStorage
from .sync_files import MinioFile

__version__ = "0.1.0"

__all__ = [
    "AsyncMinioFile",
    "MinioBackend",
    "MinioBackendStatic",
    "MinioFile",
    "MinioManifestStaticStorage",
    "MinioServerStatus",
    "MinioStaticStorage",
    "MinioStorage",
    "MinioStorageError",
    "StorageRequestError",
    "StorageUnavailable",
    "get_iso_date",
    "iso_date_prefix",
]
