"""Where the references are: the buckets ``clean_orphaned_minio_files`` cleans, and their rows.

Split out of :mod:`~async_minio_storage.orphans` (which re-exports every name here) so that
"which buckets, which fields, which keys do the rows protect" reads apart from the judging and
deleting. Finding targets is sync and makes no request: it reads the app registry and the
configured storages on the caller's thread. :func:`read_references` runs on the cleaning run's
event loop and reads rows with Django's async ORM, which runs the queries in its own database
thread.
"""

from __future__ import annotations

from collections.abc import Iterable
from collections.abc import Iterator
from dataclasses import dataclass
from dataclasses import field

from django.apps import apps
from django.core.exceptions import SuspiciousFileOperation
from django.db import models
from django.db import router

from .config import ConnectionSettings
from .consistency import configured_storages
from .names import object_key
from .staticfiles import MinioStaticStorage
from .storage import MinioStorage


def reference_key(name: str | None) -> str | None:
    """The object key a ``FileField`` value stands for, or None when it stands for none.

    Empty values are fields without a file. A value the storage refuses as a name today may
    still name an object an older release wrote (names with C1 control characters were
    accepted until they were refused): it protects the key it would have been written under.
    Protecting too much keeps an orphan; protecting too little deletes a file.
    """
    if not name:
        return None
    try:
        return object_key(name)
    except SuspiciousFileOperation:
        return name.replace("\\", "/")


@dataclass(frozen=True)
class FileFieldRef:
    """A concrete ``FileField`` of a model, read through the model's base manager."""

    model: type[models.Model]
    field: models.FileField

    @property
    def label(self) -> str:
        return f"{self.model._meta.label}.{self.field.name}"


@dataclass
class BucketTarget:
    """A bucket of a server and every field that stores files in it.

    Several storages (and several fields) may share a bucket: their references are pooled,
    since an object is needed if any of them refers to it.
    """

    bucket: str
    connection: ConnectionSettings
    fields: list[FileFieldRef] = field(default_factory=list)

    @property
    def endpoint(self) -> str:
        return self.connection.endpoint


@dataclass(frozen=True)
class SkippedBucket:
    """A bucket some field stores in but that is never cleaned, and why."""

    bucket: str
    endpoint: str
    field_label: str
    reason: str


def minio_file_fields() -> Iterator[tuple[FileFieldRef, MinioStorage]]:
    """Every concrete ``FileField`` of every installed model whose storage is ours.

    Each field is read from the model that defines it (``local_concrete_fields``), so a
    multi-table child does not read its parent's table again; proxies share their model's table.
    ``field.storage`` is the storage instance even when the field was given a callable.
    """
    for model in apps.get_models():
        if model._meta.proxy:
            continue
        for model_field in model._meta.local_concrete_fields:
            if isinstance(model_field, models.FileField) and isinstance(
                model_field.storage, MinioStorage
            ):
                yield FileFieldRef(model, model_field), model_field.storage


def static_buckets(minio_storages: Iterable[MinioStorage]) -> set[tuple[str, str]]:
    """``(endpoint, bucket)`` of every static bucket the given storages know of."""
    found: set[tuple[str, str]] = set()
    for storage in minio_storages:
        found.add((storage.config.endpoint, storage.config.static_bucket))
        if isinstance(storage, MinioStaticStorage):
            found.add((storage.config.endpoint, storage.bucket_name))
    return found


def find_targets() -> tuple[list[BucketTarget], list[SkippedBucket]]:
    """The buckets to clean, with their fields, and the buckets refused as static."""
    fields = list(minio_file_fields())
    static = static_buckets(
        [*(storage for _, storage in configured_storages()), *(storage for _, storage in fields)]
    )
    targets: dict[tuple[str, str], BucketTarget] = {}
    skipped: list[SkippedBucket] = []
    for ref, storage in fields:
        where = (storage.config.endpoint, storage.bucket_name)
        if where in static:
            skipped.append(
                SkippedBucket(
                    storage.bucket_name,
                    storage.config.endpoint,
                    ref.label,
                    "it holds static files, which no row refers to",
                )
            )
            continue
        target = targets.setdefault(
            where, BucketTarget(storage.bucket_name, storage.config.connection)
        )
        target.fields.append(ref)
    return list(targets.values()), skipped


async def read_references(fields: Iterable[FileFieldRef]) -> dict[str, str]:
    """``{key: field label}`` for every file the rows of ``fields`` refer to.

    Read from the database rows are written to (``db_for_write``), not from a read replica
    that may lag behind the rows written while the bucket was listed.
    """
    references: dict[str, str] = {}
    for ref in fields:
        names = (
            ref.model._base_manager.using(router.db_for_write(ref.model))
            .order_by()
            .values_list(ref.field.attname, flat=True)
            .distinct()
        )
        async for name in names.aiterator(chunk_size=5000):
            key = reference_key(name)
            if key is not None:
                references.setdefault(key, ref.label)
    return references
