"""Large files: the browser sends the bytes straight to the object store; Django never sees them.

A file posted to the upload page passes through a Django worker and its temporary disk. Here the
page (``static/gallery/large_upload.js``) instead asks ``start`` for a signed PUT, sends the file
to the object store itself while showing a progress bar, then asks ``confirm`` to check what
arrived (name, size, type) and record it as a :class:`~gallery.models.PrivateAttachment`.
"""

from __future__ import annotations

from typing import Any

from django.db import models
from django.http import HttpRequest
from django.http import HttpResponse
from django.shortcuts import render
from django.urls import reverse

from async_minio_storage.direct_uploads import DirectUploadViews
from async_minio_storage.files import ObjectInfo

from .models import PrivateAttachment

# The most S3 accepts in a single PUT; a larger file would need a multipart upload.
MAX_SIZE = 5 * 1024**3


def _attachment_field() -> models.FileField:
    field = PrivateAttachment._meta.get_field("file")
    assert isinstance(field, models.FileField)
    return field


class AnyoneMayUpload(DirectUploadViews):
    """The demo has no login page of its own, so anyone may upload.

    Real apps keep the default (logged-in users only) or check more, such as a quota.
    """

    async def has_permission(self, request: HttpRequest) -> bool:
        return True


def attachment_name(request: HttpRequest, filename: str) -> str:
    """Name the object as the model's field would: ``YYYY-MM-DD/filename``."""
    return _attachment_field().generate_filename(None, filename)


async def record_attachment(request: HttpRequest, info: ObjectInfo) -> dict[str, Any]:
    """Called once the object is verified: only now does the row exist. A retried confirm
    finds the row made by the first."""
    attachment, _ = await PrivateAttachment.objects.aget_or_create(file=info.name)
    return {"id": attachment.pk, "download_url": reverse("download", args=[attachment.pk])}


large_uploads = AnyoneMayUpload(
    storage=_attachment_field().storage,
    upload_to=attachment_name,
    max_size=MAX_SIZE,
    on_confirm=record_attachment,
)


async def large_upload_page(request: HttpRequest) -> HttpResponse:
    return render(request, "gallery/large_upload.html", {"max_size": MAX_SIZE})
