"""Serving private objects through Django: an async view that streams, with ranges and 304s.

A presigned URL hands the browser a bearer token that works for anyone until it expires, and
shows the object store's address. Serving through Django keeps the app's own permission check
on every request, at the cost of passing the bytes through a worker. This module makes that
cost small: the bytes stream from the object store to the client a piece at a time (memory stays
flat whatever the size), nothing blocks the event loop, and the HTTP caching and resuming
features browsers and download managers rely on work as they do for a static file server:

- ``ETag`` and ``Last-Modified``; ``If-None-Match`` / ``If-Modified-Since`` answer 304 and
  ``If-Match`` / ``If-Unmodified-Since`` answer 412 (Django's ``get_conditional_response``);
- a single ``Range`` (first-last, first-, or a suffix -n) answers 206 with ``Content-Range``, an
  unsatisfiable one 416, and ``If-Range`` falls back to the whole object when it has changed
  (the rules are in ``async_minio_storage.ranges``);
- ``HEAD`` answers the headers without reading the object;
- a client that goes away cancels the read (Django 5.0+ under ASGI notices disconnects) and the
  connection goes back to the pool.

::

    from async_minio_storage.downloads import ObjectDownloadView, serve_object

    async def invoice_pdf(request, pk):
        invoice = await Invoice.objects.aget(pk=pk, owner=request.user)
        return await serve_object(request, invoice.pdf.name, storage=invoice.pdf.storage)

    path("files/<path:name>", ObjectDownloadView.as_view(permission=may_download))
"""

from __future__ import annotations

import functools
import inspect
import os
from collections.abc import AsyncIterator
from collections.abc import Awaitable
from collections.abc import Callable
from collections.abc import Iterator
from typing import Any
from typing import ClassVar

from django.core.exceptions import PermissionDenied
from django.core.files.storage import Storage
from django.http import Http404
from django.http import HttpRequest
from django.http import HttpResponse
from django.http import HttpResponseBase
from django.http import HttpResponseNotAllowed
from django.http import StreamingHttpResponse
from django.utils.cache import get_conditional_response
from django.utils.http import content_disposition_header
from django.utils.http import http_date
from django.views import View

from .files import ObjectChanged
from .files import ObjectInfo
from .files import ObjectReader
from .names import object_key
from .ranges import ByteRange
from .ranges import Unsatisfiable
from .ranges import if_range_holds
from .ranges import requested_range
from .registry import minio_storage
from .storage import MinioStorage
from .sync_edge import run_sync

__all__ = ["ObjectDownloadView", "ObjectResponse", "serve_object"]

# Each piece handed to the server: as much as the network delivered, up to this size. Django's
# ASGI handler sends it on in 64 KiB messages.
DEFAULT_CHUNK_SIZE = 256 * 1024

# Types a browser would run as a page of the site that serves them. Served inline they would let
# whoever uploaded the file run script on this site, so they are sent as attachments unless
# ``as_attachment=False`` says otherwise.
ACTIVE_CONTENT_TYPES = frozenset(
    {
        "text/html",
        "application/xhtml+xml",
        "image/svg+xml",
        "text/xml",
        "application/xml",
        "application/javascript",
        "text/javascript",
    }
)


class ObjectStream:
    """The body of a download: the reader's bytes, from any loop, released when closed.

    It is an async iterable only (an object with ``__iter__`` would make Django's ASGI handler
    read it whole on a thread); :class:`ObjectResponse` adds the sync iteration WSGI needs.
    """

    def __init__(self, reader: ObjectReader, chunk_size: int) -> None:
        self._reader = reader
        self._chunk_size = chunk_size

    async def _pieces(self) -> AsyncIterator[bytes]:
        try:
            while chunk := await self._reader.read_some(self._chunk_size):
                yield chunk
        finally:
            self._reader.drop_response()

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self._pieces()

    def iter_sync(self) -> Iterator[bytes]:
        """The same bytes for a WSGI server, a piece per trip through the sync edge."""
        try:
            while chunk := run_sync(self._reader.read_some, self._chunk_size):
                yield chunk
        finally:
            self._reader.drop_response()

    def close(self) -> None:
        """Let go of the response (Django calls this when the request ends, or is cancelled)."""
        self._reader.drop_response()


class ObjectResponse(StreamingHttpResponse):
    """A streaming response over an ``ObjectStream`` (an object's body), under ASGI and WSGI alike.

    Django's ``StreamingHttpResponse`` serves an async iterator to a WSGI server by reading it
    whole into memory first; this one streams it there too.
    """

    def __init__(self, stream: ObjectStream, **kwargs: Any) -> None:
        super().__init__(stream, **kwargs)
        self._object_stream = stream

    def __iter__(self) -> Iterator[bytes]:
        return self._object_stream.iter_sync()


def _response_headers(
    response: HttpResponseBase,
    info: ObjectInfo,
    *,
    filename: str,
    as_attachment: bool | None,
    cache_control: str | None,
) -> None:
    content_type = info.content_type or "application/octet-stream"
    if as_attachment is None:
        as_attachment = content_type.split(";")[0].strip().lower() in ACTIVE_CONTENT_TYPES
    response["Content-Type"] = content_type
    response["Accept-Ranges"] = "bytes"
    response["X-Content-Type-Options"] = "nosniff"
    if info.quoted_etag:
        response["ETag"] = info.quoted_etag
    if info.last_modified:
        response["Last-Modified"] = http_date(info.last_modified.timestamp())
    if cache_control:
        response["Cache-Control"] = cache_control
    disposition = content_disposition_header(as_attachment, filename)
    if disposition:
        response["Content-Disposition"] = disposition


async def serve_object(
    request: HttpRequest,
    name: str,
    *,
    storage: Storage | str | None = None,
    as_attachment: bool | None = None,
    filename: str | None = None,
    cache_control: str | None = "private, no-cache",
    chunk_size: int = DEFAULT_CHUNK_SIZE,
) -> HttpResponseBase:
    """Answer ``request`` (``GET`` or ``HEAD``) with the object ``name``, streamed.

    This checks no permission: call it from a view that has decided the user may have the
    file, or use :class:`ObjectDownloadView`. ``storage`` is a ``MinioStorage``, a
    ``STORAGES`` alias or (``None``) the default storage; any other storage is
    :exc:`~django.core.exceptions.ImproperlyConfigured`.

    ``as_attachment`` sets ``Content-Disposition``: ``True`` makes browsers save the file,
    ``False`` shows it inline, ``None`` (the default) shows it inline unless its type would run
    as a page of this site (HTML, SVG, XML, JavaScript). ``filename`` defaults to the name's
    last part; non-ASCII names are sent as RFC 5987 ``filename*``. ``cache_control`` is the
    ``Cache-Control`` header (``None`` sends none): by default browsers may keep the file but
    revalidate, which costs a 304, and shared caches may not keep it.

    A missing object raises ``Http404``; other failures of the store (such as
    :exc:`~async_minio_storage.StorageUnavailable`) propagate. A request that is not ``GET``
    or ``HEAD`` gets 405. Await it on the view's loop; a WSGI server then reads the body a
    piece per trip through the sync edge (the portal loop).
    """
    if request.method not in ("GET", "HEAD"):
        return HttpResponseNotAllowed(["GET", "HEAD"])
    minio = minio_storage(storage, needed_by="Downloads through serve_object")
    key = object_key(name)
    filename = filename or os.path.basename(key)
    answer = functools.partial(
        _answer,
        request,
        minio,
        name,
        filename=filename,
        as_attachment=as_attachment,
        cache_control=cache_control,
        chunk_size=chunk_size,
    )
    try:
        try:
            return await answer()
        except ObjectChanged:
            # Replaced between the look (HEAD) and the read: answer about the new version.
            # Not a retry of a failed request; replaced twice, the error goes to the client.
            return await answer()
    except FileNotFoundError:
        raise Http404(f"No object {name!r}.") from None


async def _answer(
    request: HttpRequest,
    storage: MinioStorage,
    name: str,
    *,
    filename: str,
    as_attachment: bool | None,
    cache_control: str | None,
    chunk_size: int,
) -> HttpResponseBase:
    # A plain GET, the common case, costs one request: the GET's own headers describe the
    # object. Anything conditional or ranged looks first (HEAD), then reads what it decided to
    # send, from that version only (If-Match).
    plain = request.method == "GET" and not any(
        header in request.headers
        for header in (
            "Range",
            "If-Match",
            "If-None-Match",
            "If-Modified-Since",
            "If-Unmodified-Since",
        )
    )
    if plain:
        reader = await ObjectReader.open(
            storage.config.connection, storage.bucket_name, object_key(name)
        )
        info = reader.record
        return _streaming(
            reader, info, 200, None, filename, as_attachment, cache_control, chunk_size
        )

    info = await storage.astat(name)
    headers_only = HttpResponse()
    _response_headers(
        headers_only,
        info,
        filename=filename,
        as_attachment=as_attachment,
        cache_control=cache_control,
    )
    conditional = get_conditional_response(
        request,
        etag=info.quoted_etag,
        last_modified=int(info.last_modified.timestamp()) if info.last_modified else None,
        response=headers_only,
    )
    if conditional is not None and conditional is not headers_only:
        return conditional  # 304 Not Modified or 412 Precondition Failed

    try:
        byte_range = requested_range(request.headers.get("Range"), info.size)
    except Unsatisfiable:
        refused = HttpResponse(status=416)
        refused["Content-Range"] = f"bytes */{info.size}"
        refused["Accept-Ranges"] = "bytes"
        return refused
    if byte_range is not None and not if_range_holds(request, info):
        byte_range = None

    if request.method == "HEAD":
        headers_only["Content-Length"] = str(info.size)
        return headers_only
    reader = await ObjectReader.open(
        storage.config.connection,
        storage.bucket_name,
        object_key(name),
        start=byte_range.start if byte_range else 0,
        stop=byte_range.stop if byte_range else None,
        etag=info.quoted_etag,
    )
    status = 206 if byte_range else 200
    return _streaming(
        reader, info, status, byte_range, filename, as_attachment, cache_control, chunk_size
    )


def _streaming(
    reader: ObjectReader,
    info: ObjectInfo,
    status: int,
    byte_range: ByteRange | None,
    filename: str,
    as_attachment: bool | None,
    cache_control: str | None,
    chunk_size: int,
) -> ObjectResponse:
    response = ObjectResponse(ObjectStream(reader, chunk_size), status=status)
    _response_headers(
        response,
        info,
        filename=filename,
        as_attachment=as_attachment,
        cache_control=cache_control,
    )
    response["Content-Length"] = str(reader.stop - reader.position)
    if byte_range is not None:
        response["Content-Range"] = byte_range.content_range
    return response


Permission = Callable[[HttpRequest, str], bool | Awaitable[bool]]


class ObjectDownloadView(View):
    """Serve ``name`` (from the URL) to the users a permission check lets through.

    Denies everyone unless told otherwise: pass ``permission`` (a function, sync or async,
    of ``(request, name)`` returning a bool), override :meth:`has_permission`, or set
    ``allow_all=True`` for files anyone may have. A refusal is 403; a missing object 404::

        def may_download(request, name):
            return request.user.is_authenticated and name.startswith(f"users/{request.user.pk}/")

        path(
            "files/<path:name>",
            ObjectDownloadView.as_view(storage="default", permission=may_download),
        )

    The other attributes are :func:`serve_object`'s arguments. Each may be set on a subclass
    or passed to ``as_view()``. The view is async: it runs on the server's loop under ASGI, on
    a loop of its own per request under WSGI.
    """

    #: The methods it answers; anything else gets 405.
    http_method_names: ClassVar[list[str]] = ["get", "head", "options"]  # type: ignore[misc]
    #: A :class:`~async_minio_storage.MinioStorage`, a ``STORAGES`` alias, or None: the default.
    storage: Storage | str | None = None
    #: ``permission(request, name)``, sync or async, True to allow; None: see ``allow_all``.
    permission: Permission | None = None
    #: Without ``permission``, whether everyone may download (False: no one may).
    allow_all: bool = False
    #: True: save as a file; False: show inline; None: inline unless it could run as a page.
    as_attachment: bool | None = None
    #: The ``Cache-Control`` header of the answers (None sends none).
    cache_control: str | None = "private, no-cache"
    #: The most bytes handed to the server at once.
    chunk_size: int = DEFAULT_CHUNK_SIZE

    async def has_permission(self, request: HttpRequest, name: str) -> bool:
        """May this request have the object ``name``? Override, or pass ``permission``."""
        if self.permission is not None:
            allowed = self.permission(request, name)
            if inspect.isawaitable(allowed):
                allowed = await allowed
            return bool(allowed)
        return self.allow_all

    async def get(self, request: HttpRequest, name: str) -> HttpResponseBase:
        """Check :meth:`has_permission` (``PermissionDenied``, a 403, if refused), then answer
        with :func:`serve_object`: 200, 206, 304, 412 or 416, and ``Http404`` if missing."""
        if not await self.has_permission(request, name):
            raise PermissionDenied
        return await serve_object(
            request,
            name,
            storage=self.storage,
            as_attachment=self.as_attachment,
            cache_control=self.cache_control,
            chunk_size=self.chunk_size,
        )

    async def head(self, request: HttpRequest, name: str) -> HttpResponseBase:
        """As :meth:`get`, with the headers only: the object is not read."""
        return await self.get(request, name)
