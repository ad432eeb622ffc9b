"""Settings of a project written for django-minio-backend 4.x, as its README and example show.

``tests/test_literal_swap.py`` copies this project, replaces the text ``django_minio_backend``
with ``async_minio_storage`` and nothing else, and runs it. The server is reached through the
``GH_MINIO_*`` variables, as in django-minio-backend's own example project.
"""

import os
from datetime import timedelta
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent

SECRET_KEY = "ancestor-project-tests-only"
DEBUG = False
ALLOWED_HOSTS: list[str] = []
USE_TZ = True

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.staticfiles",
    "django_minio_backend.apps.DjangoMinioBackendConfig",
    "ancestor_app",
]

DATABASES = {
    "default": {"ENGINE": "django.db.backends.sqlite3", "NAME": BASE_DIR / "db.sqlite3"},
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

STATIC_URL = "/static/"  # ignored, but Django needs it

MINIO_OPTIONS = {
    "MINIO_ENDPOINT": os.getenv("GH_MINIO_ENDPOINT", "localhost:9000"),
    "MINIO_ACCESS_KEY": os.getenv("GH_MINIO_ACCESS_KEY", "minioadmin"),
    "MINIO_SECRET_KEY": os.getenv("GH_MINIO_SECRET_KEY", "minioadmin"),
    "MINIO_USE_HTTPS": os.getenv("GH_MINIO_USE_HTTPS", "false").lower() == "true",
    "MINIO_REGION": "us-east-1",
    "MINIO_URL_EXPIRY_HOURS": timedelta(days=1),
    "MINIO_CONSISTENCY_CHECK_ON_START": False,
}

STORAGES = {
    "default": {
        "BACKEND": "django_minio_backend.models.MinioBackend",
        "OPTIONS": {
            **MINIO_OPTIONS,
            "MINIO_DEFAULT_BUCKET": "django-backend-dev-private",
            "MINIO_PRIVATE_BUCKETS": ["django-backend-dev-private"],
            "MINIO_PUBLIC_BUCKETS": ["django-backend-dev-public"],
            "MINIO_BUCKET_CHECK_ON_SAVE": False,
            "MINIO_POLICY_HOOKS": [],
            "MINIO_MULTIPART_UPLOAD": True,
            "MINIO_MULTIPART_THRESHOLD": 10 * 1024 * 1024,
            "MINIO_MULTIPART_PART_SIZE": 10 * 1024 * 1024,
            "MINIO_URL_CACHING_ENABLED": False,
        },
    },
    "staticfiles": {
        "BACKEND": "django_minio_backend.models.MinioBackendStatic",
        "OPTIONS": {**MINIO_OPTIONS, "MINIO_STATIC_FILES_BUCKET": "django-backend-dev-static"},
    },
}
