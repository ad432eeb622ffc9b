"""Two async views for browser uploads that go straight to the object store.

1. ``start`` (POST ``{"filename", "size", "content_type"}``) checks that the user may upload
   this (logged in, allowed type, within the size limit), picks a free name under
   ``upload_to`` and answers with a :class:`~async_minio_storage.presigned.PresignedUpload` and a
   signed token describing it.
2. The browser sends the bytes to the object store (PUT or POST form).
3. ``confirm`` (POST ``{"token"}``) checks the token (same user, not too old), then asks the
   object store what arrived: an object under that name, carrying this upload's save token
   (signed into the PUT and the POST form), of the declared size and type. Only then does it
   call ``on_confirm``, where the app writes its model row. An object of the wrong size or
   type is deleted and refused, so a row never points at a missing, oversized or mistyped
   file; an object another upload stored under the name first is refused and left alone.

   Exactly once: a browser whose PUT got no answer (the connection broke after the store had
   the file) may call ``confirm`` anyway; the save token tells whether its file arrived. A
   repeated PUT of the same upload is refused (412), and its ``confirm`` still succeeds.

::

    async def add_video(request, info):
        # A browser may retry confirm: get_or_create keeps that to one row.
        video, _ = await Video.objects.aget_or_create(
            file=info.name, defaults={"owner": request.user}
        )
        return {"id": video.pk}

    video_uploads = DirectUploadViews(
        storage="videos", upload_to="videos/%Y/%m/", max_size=2 * 1024**3,
        content_types=["video/*"], on_confirm=add_video,
    )
    urlpatterns = [path("videos/upload/", include(video_uploads.urls))]

Both views are ordinary Django views: the CSRF middleware protects them, so browsers send the
``X-CSRFToken`` header. The object store must accept the browser's origin and the upload's
headers (CORS), ``x-amz-meta-async-minio-save`` among them: MinIO and SeaweedFS do by default,
AWS S3 needs a bucket CORS rule (``AllowedHeaders: ["*"]``, or the upload's headers).
"""

from __future__ import annotations

import fnmatch
import inspect
import json
import posixpath
from collections.abc import Awaitable
from collections.abc import Callable
from collections.abc import Sequence
from datetime import datetime
from datetime import timedelta
from typing import Any

from asgiref.sync import sync_to_async
from django.core import signing
from django.core.exceptions import ImproperlyConfigured
from django.core.exceptions import SuspiciousFileOperation
from django.core.files.storage import Storage
from django.http import HttpRequest
from django.http import HttpResponse
from django.http import HttpResponseNotAllowed
from django.http import JsonResponse
from django.urls import URLPattern
from django.urls import path

from . import wire
from .files import ObjectInfo
from .registry import minio_storage

__all__ = ["DirectUploadViews"]
from .storage import MinioStorage

TOKEN_SALT = "async_minio_storage.direct_uploads"  # noqa: S105 -- a namespace, not a secret
# A confirmation may come this long after the upload's signature expired: the upload may have
# started just before the expiry and taken a while.
CONFIRM_GRACE = timedelta(hours=24)

OnConfirm = Callable[[HttpRequest, ObjectInfo], dict[str, Any] | Awaitable[dict[str, Any]]]
UploadTo = str | Callable[[HttpRequest, str], str]


def _refused(message: str, status: int = 400) -> JsonResponse:
    return JsonResponse({"error": message}, status=status)


class DirectUploadViews:
    """The ``start`` and ``confirm`` views for one kind of upload; include :attr:`urls`.

    ``storage``: a ``MinioStorage``, a ``STORAGES`` alias, or ``None`` for the default one.
    ``upload_to``: a directory (``strftime`` codes allowed), or a function of
    ``(request, filename)`` returning the full name. ``max_size``: bytes allowed per file
    (``None``: no limit of ours). ``content_types``: allowed types, with ``*`` patterns
    (``["image/*", "application/pdf"]``; ``None``: any). ``expire``: how long the signed
    upload stays valid. ``on_confirm``: called with the request and the object's
    :class:`~async_minio_storage.files.ObjectInfo` once it is verified (sync or async); what it
    returns is added to ``confirm``'s JSON answer.

    Override :meth:`has_permission` to decide who may upload (default: logged-in users). Both
    views are async, on the request's loop; failures of the store (such as
    :exc:`~async_minio_storage.StorageUnavailable`) propagate from them.
    """

    def __init__(
        self,
        *,
        storage: Storage | str | None = None,
        upload_to: UploadTo = "",
        max_size: int | None = None,
        content_types: Sequence[str] | None = None,
        expire: timedelta = timedelta(hours=1),
        on_confirm: OnConfirm | None = None,
        max_length: int = 100,
    ) -> None:
        self._storage = storage
        self.upload_to = upload_to
        self.max_size = max_size
        self.content_types = list(content_types) if content_types is not None else None
        self.expire = expire
        self.on_confirm = on_confirm
        self.max_length = max_length

    @property
    def storage(self) -> MinioStorage:
        """The storage given, the ``STORAGES`` alias it names, or the default storage, looked up
        on each use; :exc:`~django.core.exceptions.ImproperlyConfigured` unless it is a
        :class:`~async_minio_storage.MinioStorage`."""
        return minio_storage(self._storage, needed_by="Direct uploads")

    @property
    def urls(self) -> list[URLPattern]:
        """``start/`` and ``confirm/``, for ``path("...", include(views.urls))``.

        They are named ``direct-upload-start`` and ``direct-upload-confirm``; with more than
        one set of upload views, give each a namespace: ``include((views.urls, "videos"))``.
        """
        return [
            path("start/", self.start, name="direct-upload-start"),
            path("confirm/", self.confirm, name="direct-upload-confirm"),
        ]

    # --- hooks -------------------------------------------------------------------------------

    async def has_permission(self, request: HttpRequest) -> bool:
        """May this request upload? Default: the user is logged in (read without blocking the
        loop; without ``AuthenticationMiddleware``,
        :exc:`~django.core.exceptions.ImproperlyConfigured`)."""
        user = await _user(request)
        return bool(user.is_authenticated)

    def allows_content_type(self, content_type: str) -> bool:
        """True if ``content_types`` is None, or if ``content_type`` (without its parameters,
        in any case) matches one of its patterns (``fnmatch``); override to decide otherwise."""
        if self.content_types is None:
            return True
        bare = content_type.split(";", maxsplit=1)[0].strip().lower()
        return any(fnmatch.fnmatchcase(bare, pattern.lower()) for pattern in self.content_types)

    def generate_name(self, request: HttpRequest, filename: str) -> str:
        """The object name for a browser's ``filename``: as ``FileField.generate_filename``."""
        filename = posixpath.basename(filename.replace("\\", "/"))
        if callable(self.upload_to):
            return self.upload_to(request, filename)
        directory = datetime.now().strftime(str(self.upload_to))
        return self.storage.generate_filename(posixpath.join(directory, filename))

    # --- views -------------------------------------------------------------------------------

    async def _refusal(self, request: HttpRequest) -> HttpResponse | None:
        """The answer to a request neither view takes (not a POST, or not allowed), else None."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if not await self.has_permission(request):
            return _refused("You may not upload files.", 403)
        return None

    async def start(self, request: HttpRequest) -> HttpResponse:
        """Hand out a signed upload: ``{"upload": {...}, "token": "..."}``.

        Takes a POST of JSON ``{"filename", "size", "content_type"}``. Refusals are JSON
        ``{"error": "..."}``: 400 for a malformed request or a refused name, 403 when
        :meth:`has_permission` refuses, 413 over ``max_size``, 415 for a type
        :meth:`allows_content_type` refuses; another method than POST gets 405."""
        if (refusal := await self._refusal(request)) is not None:
            return refusal
        try:
            wanted = json.loads(request.body)
            filename = str(wanted["filename"])
            size = wanted["size"]
            content_type = str(wanted.get("content_type") or "")
        except (ValueError, KeyError, TypeError):
            return _refused('Send JSON: {"filename": ..., "size": ..., "content_type": ...}.')
        if isinstance(size, bool) or not isinstance(size, int) or size < 0:
            return _refused("size must be the file's size in bytes.")
        if self.max_size is not None and size > self.max_size:
            return _refused(f"The file is too large: at most {self.max_size} bytes.", 413)
        storage = self.storage
        try:
            name = self.generate_name(request, filename)
            content_type = content_type or storage.guess_content_type(name)
            if not self.allows_content_type(content_type):
                return _refused(f"Files of type {content_type!r} are not accepted.", 415)
            upload = await storage.apresigned_upload(
                name,
                content_type=content_type,
                max_size=size,
                size=size,
                expire=self.expire,
                max_length=self.max_length,
            )
        except (SuspiciousFileOperation, ValueError) as error:
            return _refused(str(error))
        user = await _user(request)
        token = signing.dumps(
            {
                "name": upload.name,
                "size": size,
                "type": upload.content_type,
                "save": upload.headers[wire.SAVE_TOKEN_HEADER],
                "user": str(user.pk) if user.is_authenticated else None,
            },
            salt=TOKEN_SALT,
        )
        return JsonResponse({"upload": upload.as_dict(), "token": token})

    async def confirm(self, request: HttpRequest) -> HttpResponse:
        """Verify what arrived, then record it: ``{"name", "size", "content_type", ...}``.

        Takes a POST of JSON ``{"token"}``; the answer adds what ``on_confirm`` returns. Refusals
        are JSON ``{"error": "..."}``: 400 for a bad or expired token, nothing uploaded, or an
        object of another size or type (deleted), 403 for another user's upload or when
        :meth:`has_permission` refuses, 409 when another file took the name first."""
        if (refusal := await self._refusal(request)) is not None:
            return refusal
        try:
            token = json.loads(request.body)["token"]
            claim = signing.loads(token, salt=TOKEN_SALT, max_age=self.expire + CONFIRM_GRACE)
        except signing.SignatureExpired:
            return _refused("This upload expired; start again.")
        except (ValueError, KeyError, TypeError, signing.BadSignature):
            return _refused("Not a valid upload token.")
        user = await _user(request)
        if claim["user"] != (str(user.pk) if user.is_authenticated else None):
            return _refused("This upload belongs to another user.", 403)
        storage = self.storage
        try:
            info = await storage.astat(claim["name"])
        except FileNotFoundError:
            return _refused("Nothing was uploaded under this name.")
        if info.save_token != claim.get("save"):
            # Another upload (or a save) stored this name first: its object is not ours to
            # record, nor to delete.
            return _refused(
                "Another file was stored under this name first; this upload did not arrive. "
                "Start again.",
                409,
            )
        problem = _mismatch(info, size=claim["size"], content_type=claim["type"])
        if problem:
            await storage.adelete(info.name)
            return _refused(f"The upload was refused and deleted: {problem}")
        answer: dict[str, Any] = {
            "name": info.name,
            "size": info.size,
            "content_type": info.content_type,
        }
        if self.on_confirm is not None:
            extra = self.on_confirm(request, info)
            if inspect.isawaitable(extra):
                extra = await extra
            answer.update(extra or {})
        return JsonResponse(answer)


def _mismatch(info: ObjectInfo, *, size: int, content_type: str) -> str | None:
    if info.size != size:
        return f"{info.size} bytes arrived, {size} were announced."
    if (info.content_type or "") != content_type:
        return f"type {info.content_type!r} arrived, {content_type!r} was announced."
    return None


async def _user(request: HttpRequest) -> Any:
    """``request.user`` without a synchronous database query on the event loop."""
    if not hasattr(request, "user"):
        raise ImproperlyConfigured(
            "Direct uploads need django.contrib.auth's AuthenticationMiddleware."
        )
    auser = getattr(request, "auser", None)  # Django 5.0+
    if auser is not None:
        return await auser()

    def load() -> Any:
        user = request.user
        user.is_authenticated  # noqa: B018 -- evaluates the lazy user: session and user queries
        return user

    return await sync_to_async(load)()
