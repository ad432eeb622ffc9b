"""A WSGI app for ``gunicorn --preload`` in ``tests/test_fork.py``.

Settings come from ``FORK_TEST_SETTINGS`` (JSON: the MINIO_* settings and ``bucket``). Loading
the app saves an object through the sync API, as an app that touches the storage at start-up
does: under ``--preload`` that happens in the master, so every worker inherits the master's
portal loop and its pooled connection.

- ``/ready``: 200 once the app is loaded.
- ``/roundtrip/<n>``: saves ``object <n>`` through the sync API and answers what it reads back.
"""

from __future__ import annotations

import json
import os

import django
from django.conf import settings
from django.core.files.base import ContentFile

SETTINGS = json.loads(os.environ["FORK_TEST_SETTINGS"])
BUCKET = SETTINGS.pop("bucket")
settings.configure(
    DEBUG=False,
    SECRET_KEY="tests-only-not-secret",
    ALLOWED_HOSTS=["127.0.0.1"],
    ROOT_URLCONF=__name__,
    INSTALLED_APPS=["async_minio_storage"],
    USE_TZ=True,
    MINIO_CONSISTENCY_CHECK_ON_START=False,
    **SETTINGS,
)
django.setup()

from django.core.wsgi import get_wsgi_application  # noqa: E402 - needs the settings above
from django.http import HttpRequest  # noqa: E402
from django.http import HttpResponse  # noqa: E402
from django.urls import path  # noqa: E402

from async_minio_storage import MinioStorage  # noqa: E402

storage = MinioStorage(bucket_name=BUCKET)
storage.save("loaded-by-the-master.txt", ContentFile(b"master"))


def ready(request: HttpRequest) -> HttpResponse:
    return HttpResponse(b"ready")


def roundtrip(request: HttpRequest, number: int) -> HttpResponse:
    content = f"object {number}".encode()
    name = storage.save(f"roundtrip/{number}.txt", ContentFile(content))
    with storage.open(name) as stored:
        return HttpResponse(stored.read())


urlpatterns = [path("ready", ready), path("roundtrip/<int:number>", roundtrip)]
application = get_wsgi_application()
