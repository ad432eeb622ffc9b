"""Models as django-minio-backend's README (3.x) and example application (4.x) write them."""

from django.db import models
from django_minio_backend import iso_date_prefix
from django_minio_backend.models import MinioBackend

from ancestor_app.storages import get_private_storage


class PrivateAttachment(models.Model):
    # A storage instance: the migration names django_minio_backend.models.MinioBackend.
    file = models.FileField(
        verbose_name="Object Upload",
        storage=MinioBackend(bucket_name="django-backend-dev-private"),
        upload_to=iso_date_prefix,
    )
    # A storage callable: the migration names ancestor_app.storages.get_private_storage.
    scan = models.FileField(storage=get_private_storage, upload_to=iso_date_prefix, blank=True)

    def __str__(self) -> str:
        return self.file.name


class GenericAttachment(models.Model):
    """A file in the default storage: ``STORAGES["default"]``."""

    file = models.FileField(verbose_name="Object Upload (to default storage)", upload_to="generic/")

    def __str__(self) -> str:
        return self.file.name
