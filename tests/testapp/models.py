from django.conf import settings
from django.core.files.storage import FileSystemStorage
from django.db import models

from async_minio_storage import MinioStorage
from async_minio_storage import fields
from async_minio_storage import iso_date_prefix


def private_storage() -> MinioStorage:
    """A callable, as django-minio-backend recommends, so migrations do not bake in a bucket."""
    return MinioStorage()


class Attachment(models.Model):
    file = models.FileField(storage=private_storage, upload_to=iso_date_prefix, max_length=100)

    def __str__(self) -> str:
        return self.file.name


class AsyncAttachment(models.Model):
    """The async-capable field, on our storage."""

    file = fields.FileField(storage=private_storage, upload_to=iso_date_prefix, blank=True)

    def __str__(self) -> str:
        return self.file.name


def local_storage() -> FileSystemStorage:
    return FileSystemStorage(location=settings.LOCAL_MEDIA_ROOT)


class LocalAttachment(models.Model):
    """The async-capable field on a storage without a* methods (Django's file system one)."""

    file = fields.FileField(storage=local_storage, upload_to="local/", blank=True)

    def __str__(self) -> str:
        return self.file.name
