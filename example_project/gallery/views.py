"""The example's views. All are async: each awaits the storage's coroutines directly."""

from __future__ import annotations

import mimetypes
from collections.abc import AsyncIterator
from pathlib import PurePosixPath
from typing import Any

from asgiref.sync import sync_to_async
from django.db import models
from django.http import Http404
from django.http import HttpRequest
from django.http import HttpResponse
from django.http import HttpResponseNotAllowed
from django.http import JsonResponse
from django.http import StreamingHttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.http import content_disposition_header

from async_minio_storage import AsyncMinioFile

from .models import PrivateAttachment
from .models import PublicImage


async def upload(request: HttpRequest) -> HttpResponse:
    """GET: the upload page. POST: store the file with ``await storage.asave()``."""
    if request.method == "GET":
        return render(request, "gallery/upload.html")
    if request.method != "POST":
        return HttpResponseNotAllowed(["GET", "POST"])
    # Django parses a multipart body, writing large files to disk, when request.FILES is first
    # read: do that in a thread, not on the event loop.
    files = await sync_to_async(lambda: request.FILES)()
    uploaded = files.get("file")
    if uploaded is None:
        return JsonResponse({"error": "Choose a file to upload."}, status=400)
    model = PublicImage if request.POST.get("visibility") == "public" else PrivateAttachment
    field = model._meta.get_field("file")
    assert isinstance(field, models.FileField)
    name = await field.storage.asave(
        field.generate_filename(None, uploaded.name), uploaded, max_length=field.max_length
    )
    await model.objects.acreate(file=name)
    async with await field.storage.aopen(name) as stored:  # what the object store now holds
        result = {
            "name": name,
            "size": stored.size,
            "content_type": stored.content_type,
            "visibility": "public" if model is PublicImage else "private",
            "url": await field.storage.aurl(name),
        }
    if request.headers.get("Accept") == "application/json":
        return JsonResponse(result)
    return render(request, "gallery/upload.html", {"result": result})


async def gallery(request: HttpRequest) -> HttpResponse:
    """Recent uploads, with URLs from ``await storage.aurl()`` (presigned for private files)."""
    items = [await _item(image) async for image in PublicImage.objects.all()[:24]]
    items += [await _item(attachment) async for attachment in PrivateAttachment.objects.all()[:24]]
    items.sort(key=lambda item: item["object"].uploaded_at, reverse=True)
    return render(request, "gallery/gallery.html", {"items": items})


async def _item(obj: PublicImage | PrivateAttachment) -> dict[str, Any]:
    content_type = mimetypes.guess_type(obj.file.name)[0] or ""
    private = isinstance(obj, PrivateAttachment)
    return {
        "object": obj,
        "name": PurePosixPath(obj.file.name).name,
        "url": await obj.file.storage.aurl(obj.file.name),
        "is_image": content_type.startswith("image/"),
        "visibility": "private" if private else "public",
        "download_url": reverse("download", args=[obj.pk]) if private else None,
    }


async def download(request: HttpRequest, pk: int) -> StreamingHttpResponse:
    """Stream a private object through Django, a chunk at a time: memory stays flat."""
    attachment = await PrivateAttachment.objects.filter(pk=pk).afirst()
    if attachment is None:
        raise Http404("No such attachment.")
    file = await attachment.file.storage.aopen(attachment.file.name)
    response = StreamingHttpResponse(
        _chunks_then_close(file), content_type=file.content_type or "application/octet-stream"
    )
    response["Content-Length"] = str(file.size)
    response["Content-Disposition"] = content_disposition_header(
        as_attachment=True, filename=PurePosixPath(attachment.file.name).name
    )
    return response


async def _chunks_then_close(file: AsyncMinioFile) -> AsyncIterator[bytes]:
    try:
        async for chunk in file.chunks():
            yield chunk
    finally:
        await file.close()
