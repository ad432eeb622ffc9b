"""The example's views. All are async: each awaits the storage's coroutines directly.

Large files take another path, straight from the browser to the object store: see
``large_files.py``.
"""

from __future__ import annotations

import mimetypes
from pathlib import PurePosixPath
from typing import Any

from asgiref.sync import sync_to_async
from django.http import Http404
from django.http import HttpRequest
from django.http import HttpResponse
from django.http import HttpResponseBase
from django.http import HttpResponseNotAllowed
from django.http import JsonResponse
from django.shortcuts import render
from django.urls import reverse

from async_minio_storage.downloads import serve_object

from .models import PrivateAttachment
from .models import PublicImage


async def upload(request: HttpRequest) -> HttpResponse:
    """GET: the upload page. POST: store the file with ``await instance.file.asave()``."""
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
    instance = model()
    # Names the object by the field's upload_to, awaits storage.asave(), then saves the row.
    await instance.file.asave(uploaded.name, uploaded)
    async with await instance.file.aopen() as stored:  # what the object store now holds
        result = {
            "name": instance.file.name,
            "size": stored.size,
            "content_type": stored.content_type,
            "visibility": "public" if model is PublicImage else "private",
            "url": await instance.file.aurl(),
        }
    if request.headers.get("Accept") == "application/json":
        return JsonResponse(result)
    return render(request, "gallery/upload.html", {"result": result})


async def gallery(request: HttpRequest) -> HttpResponse:
    """Recent uploads, with URLs from ``await file.aurl()`` (presigned for private files)."""
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
        "url": await obj.file.aurl(),
        "is_image": content_type.startswith("image/"),
        "visibility": "private" if private else "public",
        "download_url": reverse("download", args=[obj.pk]) if private else None,
    }


async def download(request: HttpRequest, pk: int) -> HttpResponseBase:
    """A private object, streamed through Django after the app's own permission check.

    The check here is only "the row exists" (the demo has no owners); a real app would also
    compare the owner with ``request.user``. ``serve_object`` then streams the bytes with flat
    memory, and answers ``Range`` (206), ``If-None-Match`` (304) and ``HEAD`` as a file server
    does, so downloads can resume.
    """
    attachment = await PrivateAttachment.objects.filter(pk=pk).afirst()
    if attachment is None:
        raise Http404("No such attachment.")
    return await serve_object(
        request, attachment.file.name, storage=attachment.file.storage, as_attachment=True
    )
