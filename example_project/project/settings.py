"""Settings of the example project: django-minio-backend's MINIO_* settings plus STORAGES.

The server comes from the environment: ``run.py`` starts an embedded SeaweedFS and sets
``MINIO_ENDPOINT``, ``MINIO_ACCESS_KEY`` and ``MINIO_SECRET_KEY`` for it, unless they are
already set (then a real MinIO is used).
"""

import os
from datetime import timedelta
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
DATA_DIR = Path(os.environ.get("EXAMPLE_DATA_DIR", BASE_DIR / ".data"))

SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "example-project-only-not-a-secret")
DEBUG = os.environ.get("DJANGO_DEBUG", "1") == "1"
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "async_minio_storage",  # before staticfiles: its collectstatic replaces Django's
    "django.contrib.staticfiles",
    "gallery",
]
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]
ROOT_URLCONF = "project.urls"
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]
ASGI_APPLICATION = "project.asgi.application"
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": DATA_DIR / "db.sqlite3"}}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
USE_TZ = True
TIME_ZONE = "UTC"
# Uploads above this size go to a temporary file on disk, which asave() streams from.
FILE_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024
DATA_UPLOAD_MAX_MEMORY_SIZE = None

# --- async_minio_storage: the settings django-minio-backend users already have ---------------
MINIO_ENDPOINT = os.environ.get("MINIO_ENDPOINT", "127.0.0.1:9000")
MINIO_EXTERNAL_ENDPOINT = os.environ.get("MINIO_EXTERNAL_ENDPOINT", MINIO_ENDPOINT)
MINIO_ACCESS_KEY = os.environ.get("MINIO_ACCESS_KEY", "minioadmin")
MINIO_SECRET_KEY = os.environ.get("MINIO_SECRET_KEY", "minioadmin")
MINIO_USE_HTTPS = os.environ.get("MINIO_USE_HTTPS", "") in ("1", "true", "True")
MINIO_URL_EXPIRY_HOURS = timedelta(hours=1)
MINIO_PRIVATE_BUCKETS = ["example-private"]
MINIO_PUBLIC_BUCKETS = ["example-public", "example-static"]
MINIO_MEDIA_FILES_BUCKET = "example-private"
MINIO_STATIC_FILES_BUCKET = "example-static"
MINIO_CONSISTENCY_CHECK_ON_START = False  # run.py runs initialize_buckets itself

STORAGES = {
    "default": {"BACKEND": "async_minio_storage.MinioStorage"},
    "staticfiles": {"BACKEND": "async_minio_storage.MinioStaticStorage"},
}
STATIC_URL = "/static/"  # required by Django; URLs point at the public static bucket
LOGIN_URL = "/admin/login/"
