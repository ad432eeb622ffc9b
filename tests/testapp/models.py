from django.db import models

from async_minio_storage import MinioStorage
from async_minio_storage import iso_date_prefix


def private_storage() -> MinioStorage:
    """A callable, as django-minio-backend recommends, so migrations do not bake in a bucket."""
    return MinioStorage()


class Attachment(models.Model):
    file = models.FileField(storage=private_storage, upload_to=iso_date_prefix, max_length=100)

    def __str__(self) -> str:
        return self.file.name
