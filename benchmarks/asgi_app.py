"""Scenarios 8 and 9's ASGI application: an upload and a download view per backend.

``uvicorn benchmarks.asgi_app:application`` in its own process, with the run's ``BENCH_*``
environment. Each upload view stores the request body: ours by awaiting ``asave``, the peers
through ``sync_to_async(storage.save)``, as an async view must use a synchronous storage. Each
download view streams an object to the client: ours with ``serve_object``, the peers by opening
the file through ``sync_to_async`` and streaming its chunks (see ``download``).
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from collections.abc import Iterator

from asgiref.sync import sync_to_async
from django.conf import settings
from django.core.files import File
from django.core.files.base import ContentFile
from django.http import HttpRequest
from django.http import HttpResponseBase
from django.http import JsonResponse
from django.http import StreamingHttpResponse
from django.urls import path

from . import environment as env

if not settings.configured:
    _environment = env.Environment.from_environ()
    env.configure_django(_environment)
    _contenders = env.build_contenders(_environment)

from django.core.asgi import get_asgi_application

from async_minio_storage.downloads import serve_object

_RUN = os.urandom(3).hex()

# The pieces every download view sends: serve_object's default, so that the peers' views differ
# from ours only in the storage.
CHUNK = 256 * 1024


async def upload(request: HttpRequest, contender: str, name: str) -> JsonResponse:
    if contender == env.NO_STORAGE:  # the server's own cost: Django and uvicorn alone
        return JsonResponse({"name": name, "size": len(request.body)})
    storage = _contenders[contender][0]
    content = ContentFile(request.body)
    key = f"asgi/{_RUN}/{contender}/{name}"
    return JsonResponse({"name": await env.save_in_async_view(contender, storage, key, content)})


async def download(request: HttpRequest, contender: str, name: str) -> HttpResponseBase:
    """The object ``name``, streamed to the client as each backend lets an async view do it.

    Ours: ``serve_object``. The peers: ``await sync_to_async(storage.open)(name)``, then a
    ``StreamingHttpResponse`` over an async generator that reads each chunk through
    ``sync_to_async``, as Django asks of an async view's stream. The shorter
    ``StreamingHttpResponse(file.chunks())`` would be worse: under ASGI Django reads a sync
    iterator whole into a list before sending its first byte.
    """
    storage = _contenders[contender][0]
    if contender == env.OURS_ASYNC:
        return await serve_object(request, name, storage=storage)
    file = await sync_to_async(storage.open)(name)
    return StreamingHttpResponse(chunks_on_a_thread(file), content_type="application/octet-stream")


def next_chunk(chunks: Iterator[bytes]) -> bytes:
    return next(chunks, b"")


async def chunks_on_a_thread(file: File[bytes]) -> AsyncIterator[bytes]:
    """``file.chunks()`` for an async response: each chunk read on the request's thread."""
    chunks = file.chunks(CHUNK)
    try:
        while chunk := await sync_to_async(next_chunk)(chunks):
            yield chunk
    finally:
        await sync_to_async(file.close)()


urlpatterns = [
    path("upload/<str:contender>/<str:name>", upload),
    path("download/<str:contender>/<path:name>", download),
]
application = get_asgi_application()
