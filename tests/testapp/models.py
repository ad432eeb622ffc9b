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


class DocumentStorage(MinioStorage):
    """The bucket named by the ``TESTAPP_DOCUMENTS_BUCKET`` setting, else the media bucket.

    Read on every use (not cached), so a test moves the documents to a bucket of their own
    with ``override_settings`` after the model is defined.
    """

    @property  # type: ignore[override]
    def bucket_name(self) -> str:
        return getattr(settings, "TESTAPP_DOCUMENTS_BUCKET", None) or self.config.media_bucket


def document_storage() -> MinioStorage:
    return DocumentStorage()


class Document(models.Model):
    """Files in a bucket of their own, next to ``Attachment``'s media bucket."""

    file = models.FileField(storage=document_storage, upload_to="documents/", blank=True)

    def __str__(self) -> str:
        return self.file.name


def static_files_storage() -> MinioStorage:
    from async_minio_storage import MinioStaticStorage

    return MinioStaticStorage()


class StaticAsset(models.Model):
    """A FileField (wrongly) on the static bucket, which orphan cleaning must never touch."""

    file = models.FileField(storage=static_files_storage, blank=True)

    def __str__(self) -> str:
        return self.file.name


class OverwriteStorage(MinioStorage):
    """The custom storage most Django projects have: a new file replaces the old one."""

    def get_available_name(self, name: str, max_length: int | None = None) -> str:
        if self.exists(name):
            self.delete(name)
        return name


def overwrite_storage() -> MinioStorage:
    return OverwriteStorage()


class Avatar(models.Model):
    """One picture per user, always under the same name."""

    file = fields.FileField(storage=overwrite_storage, blank=True)

    def __str__(self) -> str:
        return self.file.name
