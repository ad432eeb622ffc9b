"""The ancestor README's models: a private attachment and a public image.

Storages are given as callables so that migrations do not record bucket names. The fields are
``async_minio_storage.fields.FileField``: Django's ``FileField`` whose files also have
``asave``/``aopen``/``aurl``, so the async views need no thread hop to store a model's file.
"""

from django.db import models

from async_minio_storage import MinioStorage
from async_minio_storage import iso_date_prefix
from async_minio_storage.fields import FileField


def private_storage() -> MinioStorage:
    return MinioStorage(bucket_name="example-private")


def public_storage() -> MinioStorage:
    return MinioStorage(bucket_name="example-public")


class PrivateAttachment(models.Model):
    file = FileField(
        verbose_name="Object Upload", storage=private_storage, upload_to=iso_date_prefix
    )
    uploaded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-uploaded_at", "-id"]

    def __str__(self) -> str:
        return self.file.name


class PublicImage(models.Model):
    file = FileField(verbose_name="Image Upload", storage=public_storage, upload_to=iso_date_prefix)
    uploaded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-uploaded_at", "-id"]

    def __str__(self) -> str:
        return self.file.name
