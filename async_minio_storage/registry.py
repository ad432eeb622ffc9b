"""Which storage a view or command works on: one given, a ``STORAGES`` alias, or the default."""

from __future__ import annotations

from django.core.exceptions import ImproperlyConfigured
from django.core.files.storage import Storage
from django.core.files.storage import default_storage
from django.core.files.storage import storages

from .storage import MinioStorage


def minio_storage(storage: Storage | str | None, *, needed_by: str) -> MinioStorage:
    """``storage`` itself, the ``STORAGES`` alias it names, or ``default_storage`` for None;
    ``ImproperlyConfigured`` unless it is a :class:`MinioStorage` (``needed_by`` says who
    needs one, for the message)."""
    if storage is None:
        storage = default_storage
    elif isinstance(storage, str):
        storage = storages[storage]
    if not isinstance(storage, MinioStorage):
        raise ImproperlyConfigured(
            f"{needed_by} need a MinioStorage, not {type(storage).__name__}."
        )
    return storage
