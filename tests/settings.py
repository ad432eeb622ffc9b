"""Django settings for the test suite.

The MINIO_* settings that depend on the server (endpoint, keys, bucket names) are filled in by
``conftest.py`` once the server has started; nothing here reaches the network.
"""

import tempfile

SECRET_KEY = "tests-only-not-secret"
DEBUG = False
USE_TZ = True
TIME_ZONE = "Europe/Budapest"
INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "async_minio_storage",  # before staticfiles: its collectstatic replaces Django's
    "django.contrib.staticfiles",
    "tests.testapp",
]
MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
]
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
STORAGES = {
    "default": {"BACKEND": "async_minio_storage.MinioStorage"},
    "staticfiles": {"BACKEND": "async_minio_storage.MinioStaticStorage"},
}
STATIC_URL = "/static/"
TEMPLATES = [{"BACKEND": "django.template.backends.django.DjangoTemplates", "APP_DIRS": True}]
ROOT_URLCONF = "tests.urls"

# Django's file system storage, for the async FileField on a storage without a* methods.
LOCAL_MEDIA_ROOT = tempfile.mkdtemp(prefix="async-minio-tests-local-")
