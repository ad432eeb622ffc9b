"""Scenario 11's WSGI application: async views that check for or store an object, per backend.

``gunicorn -k sync benchmarks.wsgi_app:application`` in a process of its own, with the run's
``BENCH_*`` environment (its ``BENCH_ENDPOINT`` is the counting proxy's). Django runs an
``async def`` view under WSGI through asgiref's ``async_to_sync``, on an event loop made for
that one request. Ours awaits ``aexists`` and ``asave``; django-minio-backend, which is
synchronous, goes through ``sync_to_async``, as an async view must use a synchronous storage.
"""

from __future__ import annotations

import os
import time

from asgiref.sync import sync_to_async
from django.conf import settings
from django.core.files.base import ContentFile
from django.http import HttpRequest
from django.http import HttpResponse
from django.http import JsonResponse
from django.urls import path

from . import environment as env

if not settings.configured:
    _environment = env.Environment.from_environ()
    env.configure_django(_environment, urlconf="benchmarks.wsgi_app")
    _contenders = env.build_contenders(_environment)

from django.core.wsgi import get_wsgi_application

_RUN = os.urandom(3).hex()
# How long the readiness probe keeps its worker busy, so that the next probe goes to another.
PROBE_SECONDS = 0.05


async def exists(request: HttpRequest, contender: str, name: str) -> JsonResponse:
    storage = _contenders[contender][0]
    if contender == env.OURS_ASYNC:
        found = await storage.aexists(name)
    else:
        found = await sync_to_async(storage.exists)(name)
    return JsonResponse({"exists": found}, status=200 if found else 404)  # the load checks it


async def save(request: HttpRequest, contender: str, name: str) -> JsonResponse:
    storage = _contenders[contender][0]
    content = ContentFile(request.body)
    key = f"wsgi/{_RUN}/{contender}/{name}"
    return JsonResponse({"name": await env.save_in_async_view(contender, storage, key, content)})


def worker(request: HttpRequest) -> HttpResponse:
    """This worker's process id, for the readiness probe that waits for every worker."""
    time.sleep(PROBE_SECONDS)
    return HttpResponse(str(os.getpid()))


urlpatterns = [
    path("exists/<str:contender>/<path:name>", exists),
    path("save/<str:contender>/<str:name>", save),
    path("worker", worker),
]
application = get_wsgi_application()
