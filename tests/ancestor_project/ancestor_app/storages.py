"""A storage callable, as django-minio-backend 4.x recommends: migrations then name the callable."""

from django_minio_backend.models import MinioBackend


def get_private_storage() -> MinioBackend:
    return MinioBackend(bucket_name="django-backend-dev-private", storage_name="default")
