"""Scenario 8's ASGI application: one upload view per backend, served by uvicorn.

``uvicorn benchmarks.asgi_app:application`` in its own process, with the run's ``BENCH_*``
environment. Each view stores the request body: ours by awaiting ``asave``, the peers through
``sync_to_async(storage.save)``, as an async view must use a synchronous storage.
"""

from __future__ import annotations

import os

from asgiref.sync import sync_to_async
from django.conf import settings
from django.core.files.base import ContentFile
from django.http import HttpRequest
from django.http import JsonResponse
from django.urls import path

from . import environment as env

if not settings.configured:
    _environment = env.Environment.from_environ()
    env.configure_django(_environment)
    _contenders = env.build_contenders(_environment)

from django.core.asgi import get_asgi_application

_RUN = os.urandom(3).hex()


async def upload(request: HttpRequest, contender: str, name: str) -> JsonResponse:
    if contender == env.NO_STORAGE:  # the server's own cost: Django and uvicorn alone
        return JsonResponse({"name": name, "size": len(request.body)})
    storage = _contenders[contender][0]
    content = ContentFile(request.body)
    key = f"asgi/{_RUN}/{contender}/{name}"
    if contender == env.OURS_ASYNC:
        stored = await storage.asave(key, content)
    else:
        stored = await sync_to_async(storage.save)(key, content)
    return JsonResponse({"name": stored})


urlpatterns = [path("upload/<str:contender>/<str:name>", upload)]
application = get_asgi_application()
