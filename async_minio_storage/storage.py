"""``MinioStorage``: each operation is a coroutine (``asave``, ``aopen``, ...), written once; its
sync twins are one-line shims over ``sync_edge.run_sync``. The class says which loop runs what."""

from __future__ import annotations

import asyncio
import mimetypes
from collections.abc import Mapping
from datetime import datetime
from datetime import timedelta
from typing import Any

from asgiref.sync import sync_to_async
from django.conf import settings
from django.core.files.storage import Storage
from django.core.signals import setting_changed
from django.utils.deconstruct import deconstructible
from django.utils.functional import cached_property
from django.utils.timezone import make_naive
from miniopy_async.api import Minio

from . import arguments
from . import buckets
from . import health
from . import presigned
from . import uploads
from . import wire
from .bulk import list_directory
from .client import Connection
from .client import get_connection
from .config import StorageConfig
from .config import redact
from .config import resolve_config
from .files import AsyncMinioFile
from .files import ObjectReader
from .names import MAX_NAME_ATTEMPTS  # noqa: F401  (re-exported: it was defined here)
from .names import candidate_names
from .names import directory_prefix
from .names import name_to_save
from .names import object_key
from .names import overridden_hooks
from .object_urls import object_url
from .sync_edge import on_lasting_loop
from .sync_edge import run_sync
from .sync_files import MinioFile
from .wire import ObjectRecord


@arguments.deconstructs_without_credentials
@deconstructible(path="async_minio_storage.MinioStorage")
class MinioStorage(presigned.PresignedUploads, health.HealthProbes, Storage):
    """A Django storage for one bucket of a MinIO (or any S3-compatible) server.

    ``MinioStorage(bucket_name, storage_name, *, replace_existing=False, **options)``, as
    django-minio-backend's ``MinioBackend(bucket_name, storage_name)``. ``bucket_name``
    defaults to ``MINIO_MEDIA_FILES_BUCKET``. ``storage_name`` is the ``STORAGES`` alias whose
    ``OPTIONS`` this storage shares. ``replace_existing=False`` (the default) never overwrites
    an object: saving under a taken name stores the file under Django's alternative name
    instead; it is keyword-only and must be a bool. Any ``MINIO_*`` setting may be given as a
    keyword argument. Nothing is resolved or fetched until first use (unknown options and
    wrongly typed arguments raise :exc:`~django.core.exceptions.ImproperlyConfigured` at once).

    The ``a*`` coroutines run on the caller's event loop (an async view's loop under WSGI, which
    ends with its request, has their requests sent from the portal loop instead). Each sync twin
    blocks its thread while the coroutine runs on the process's portal loop (or, in a thread of
    asgiref's ``sync_to_async``, on the ASGI server's loop); on a thread that runs an event loop
    it raises :exc:`~django.core.exceptions.SynchronousOnlyOperation`. A refused name raises
    :exc:`~django.core.exceptions.SuspiciousFileOperation` before any request; a missing object
    :exc:`FileNotFoundError`; a server that cannot be reached, times out or keeps failing
    :exc:`~async_minio_storage.StorageUnavailable`; one that refuses the request
    :exc:`~async_minio_storage.StorageRequestError`.
    """

    def __init__(
        self,
        bucket_name: str = "",
        storage_name: str = "default",
        *,
        replace_existing: bool = False,
        **options: Any,
    ) -> None:
        options = redact(options)  # before anything can fail with it in a frame
        arguments.check_constructor_arguments(
            type(self), bucket_name, storage_name, replace_existing, options
        )
        self._bucket_name = bucket_name
        self.replace_existing = replace_existing
        self.storage_name = storage_name
        self._options = options
        setting_changed.connect(self._forget_settings)

    def _forget_settings(self, *, setting: str, **kwargs: Any) -> None:
        if setting.startswith("MINIO_") or setting in ("STORAGES", "USE_TZ"):
            self.__dict__.pop("config", None)
            self.__dict__.pop("bucket_name", None)

    def __repr__(self) -> str:
        return (
            f"<{type(self).__name__} bucket_name={self._bucket_name!r} "
            f"storage_name={self.storage_name!r}>"
        )

    # --- configuration ---------------------------------------------------------------------
    @cached_property
    def config(self) -> StorageConfig:
        """The resolved options (keyword arguments, then the alias's ``OPTIONS``, then settings),
        built on first use and again after ``setting_changed`` for ``MINIO_*`` or ``STORAGES``."""
        return resolve_config(self._options, self.storage_name)

    def _default_bucket_name(self, config: StorageConfig) -> str:
        return config.media_bucket

    @cached_property
    def bucket_name(self) -> str:
        """The bucket given, else the default one (``MINIO_MEDIA_FILES_BUCKET``), checked."""
        name = self._bucket_name or self._default_bucket_name(self.config)
        return arguments.checked_bucket_name(name)

    @property
    def is_public(self) -> bool:
        """True when the bucket is in ``MINIO_PUBLIC_BUCKETS``: its URLs are not signed."""
        return self.config.is_public(self.bucket_name)

    async def aclient(self) -> Minio:
        """The running loop's miniopy-async client for this storage's server, for requests this
        package does not make: they get none of ``wire``'s retries, deadline or error mapping."""
        return (await self._connection()).minio

    async def _connection(self) -> Connection:
        """The running loop's connection to this storage's server (see ``client``)."""
        return await get_connection(self.config.connection)

    # --- names -----------------------------------------------------------------------------
    def get_available_name(self, name: str, max_length: int | None = None) -> str:
        """Django's rule: ``name`` if it is available (:meth:`is_name_available`), else an
        alternative. With an overridden hook (``get_available_name``, ``is_name_available``,
        ``get_alternative_name``, ``exists`` or ``_save``) the overrides run on this thread."""
        if not overridden_hooks(type(self)):
            return run_sync(self.aget_available_name, name, max_length)
        for candidate in candidate_names(self, name, max_length):
            if self.is_name_available(candidate, max_length=max_length):
                return candidate
        raise AssertionError("candidate_names() never ends")  # pragma: no cover

    async def aget_available_name(self, name: str, max_length: int | None = None) -> str:
        """Async twin of :meth:`get_available_name`; sync overrides run in a worker thread."""
        overridden = overridden_hooks(type(self))
        if "get_available_name" in overridden:
            chosen: str = await sync_to_async(self.get_available_name)(name, max_length=max_length)
            return chosen
        for candidate in candidate_names(self, name, max_length):
            if await self.ais_name_available(candidate, max_length=max_length):
                return candidate
        raise AssertionError("candidate_names() never ends")  # pragma: no cover

    def is_name_available(self, name: str, max_length: int | None = None) -> bool:
        """True if ``name`` fits ``max_length`` and is free, or may be replaced
        (``replace_existing``). Django 5.1's hook, on every Django version here."""
        if max_length and len(name) > max_length:
            return False
        if self.replace_existing:
            return True
        if "exists" not in overridden_hooks(type(self)):
            return not run_sync(self.aexists, name)
        return not self.exists(name)

    async def ais_name_available(self, name: str, max_length: int | None = None) -> bool:
        """Async twin of :meth:`is_name_available`; sync overrides run in a worker thread."""
        if overridden_hooks(type(self)) & {"is_name_available", "exists"}:
            available: bool = await sync_to_async(self.is_name_available)(
                name, max_length=max_length
            )
            return available
        if max_length and len(name) > max_length:
            return False
        return self.replace_existing or not await self.aexists(name)

    # --- saving ----------------------------------------------------------------------------
    def save(self, name: str | None, content: Any, max_length: int | None = None) -> str:
        """Store ``content`` under ``name`` (or an alternative) and return the name used.
        Without overridden hooks, one conditional write per candidate name, on the loop; with
        them, Django's order on the caller's thread: ``get_available_name``, then ``_save``."""
        key = name_to_save(name, content)
        if not overridden_hooks(type(self)):
            return run_sync(self._asave, key, content, max_length)
        key = object_key(self.get_available_name(key, max_length=max_length))
        return object_key(self._save(key, content))

    async def asave(self, name: str | None, content: Any, max_length: int | None = None) -> str:
        """Async twin of :meth:`save`, in the same order; sync overrides run in a worker
        thread, so the loop is never blocked."""
        key = name_to_save(name, content)
        overridden = overridden_hooks(type(self))
        if not overridden:
            return await self._asave(key, content, max_length)
        key = object_key(await self.aget_available_name(key, max_length=max_length))
        if "_save" in overridden:
            stored: str = await sync_to_async(self._save)(key, content)
        else:
            stored = await self._asave(key, content)
        return object_key(stored)

    def _save(self, name: str, content: Any) -> str:
        """Django's hook: write ``content`` under ``name`` (an alternative if a concurrent
        save took it first); returns the name written."""
        return run_sync(self._asave, name, content)

    @on_lasting_loop
    async def _asave(self, name: str, content: Any, max_length: int | None = None) -> str:
        opened_here = await uploads.open_off_the_loop(content)
        try:
            return await self._write(name, content, max_length)
        finally:
            if opened_here:  # closed as it was found, and off the loop as it was opened
                await asyncio.to_thread(content.close)

    async def _write(self, name: str, content: Any, max_length: int | None) -> str:
        """One conditional write per candidate name (see ``uploads``), on the running loop."""
        config = self.config
        connection = await self._connection()
        if config.bucket_check_on_save:
            await buckets.ensure_bucket_once(connection, self.bucket_name)
        save = uploads.new_save(self, connection, name, max_length)
        return await uploads.write_object(save, uploads.ContentReader(content), exists=self.aexists)

    def guess_content_type(self, name: str) -> str:
        """The ``Content-Type`` stored with an object: guessed from its name."""
        return mimetypes.guess_type(name)[0] or "application/octet-stream"

    def get_object_parameters(self, name: str) -> dict[str, str]:
        """Headers stored with the object ``name`` when it is saved; override to add some.

        Returns ``Cache-Control`` from ``MINIO_CACHE_CONTROL`` if set. Any header S3 stores
        with an object fits: ``Cache-Control``, ``Content-Disposition``, ``Content-Encoding``,
        ``Content-Language``, ``Expires``, ``x-amz-meta-*``, or ``Content-Type`` to replace the
        guess::

            def get_object_parameters(self, name):  # in a subclass
                return {**super().get_object_parameters(name), "Content-Disposition": "attachment"}
        """
        cache_control = self.config.cache_control
        return {"Cache-Control": cache_control} if cache_control else {}

    def object_headers(self, name: str) -> dict[str, str]:
        """Every header a save of ``name`` sends: the content type (:meth:`guess_content_type`
        unless :meth:`get_object_parameters` gives one) and the parameters, checked."""
        parameters = self.get_object_parameters(name)
        return uploads.headers_to_store(name, parameters, self.guess_content_type)

    # --- reading ---------------------------------------------------------------------------
    def _open(self, name: str, mode: str = "rb") -> MinioFile:
        arguments.check_open_mode(mode)
        key = object_key(name)
        reader = run_sync(ObjectReader.open, self.config.connection, self.bucket_name, key)
        return MinioFile(reader, name, self, read_ahead=self.config.read_ahead)

    @on_lasting_loop
    async def aopen(self, name: str, mode: str = "rb") -> AsyncMinioFile:
        """Open an object for reading (``"rb"`` only), fetching bytes as they are read; a missing
        object raises at once. Sync ``open()`` returns a :class:`~async_minio_storage.MinioFile`."""
        arguments.check_open_mode(mode)
        key = object_key(name)
        reader = await ObjectReader.open(self.config.connection, self.bucket_name, key)
        return AsyncMinioFile(reader, name)

    @on_lasting_loop
    async def _astat(self, name: str) -> ObjectRecord:
        return await wire.stat_object(await self._connection(), self.bucket_name, object_key(name))

    def stat(self, name: str) -> ObjectRecord:
        """Sync twin of :meth:`astat`."""
        return run_sync(self.astat, name)

    async def astat(self, name: str) -> ObjectRecord:
        """The object's :class:`~async_minio_storage.files.ObjectInfo` (size, ETag, modification
        time, content type) from one ``HEAD``; :exc:`FileNotFoundError` if it is missing."""
        return await self._astat(name)

    def exists(self, name: str) -> bool:
        """Sync twin of :meth:`aexists`."""
        return run_sync(self.aexists, name)

    async def aexists(self, name: str) -> bool:
        """True if the object exists. Raises, rather than answering False, when unsure."""
        try:
            await self._astat(name)
        except FileNotFoundError:
            return False
        return True

    def size(self, name: str) -> int:
        """Sync twin of :meth:`asize`."""
        return run_sync(self.asize, name)

    async def asize(self, name: str) -> int:
        """The object's size in bytes, from one ``HEAD``; :exc:`FileNotFoundError` if missing."""
        return (await self._astat(name)).size

    def get_modified_time(self, name: str) -> datetime:
        """Sync twin of :meth:`aget_modified_time`."""
        return run_sync(self.aget_modified_time, name)

    async def aget_modified_time(self, name: str) -> datetime:
        """Aware (UTC) if ``USE_TZ``, else naive in the current time zone, as Django's own."""
        modified = (await self._astat(name)).last_modified
        assert modified is not None
        return modified if settings.USE_TZ else make_naive(modified)

    def get_accessed_time(self, name: str) -> datetime:
        """Always raises ``NotImplementedError``: S3 does not record reads."""
        raise NotImplementedError("S3 object stores do not record when an object was read.")

    def get_created_time(self, name: str) -> datetime:
        """Always raises ``NotImplementedError``: S3 records only :meth:`get_modified_time`."""
        raise NotImplementedError(
            "S3 object stores record only the last modification; use get_modified_time()."
        )

    def listdir(self, path: str) -> tuple[list[str], list[str]]:
        """Sync twin of :meth:`alistdir`."""
        return run_sync(self.alistdir, path)

    @on_lasting_loop
    async def alistdir(self, path: str) -> tuple[list[str], list[str]]:
        """``(directories, files)`` directly under ``path``, one delimited listing (paged)."""
        prefix = directory_prefix(path)
        return await list_directory(await self._connection(), self.bucket_name, prefix)

    # --- deleting --------------------------------------------------------------------------
    def delete(self, name: str) -> None:
        """Sync twin of :meth:`adelete`."""
        run_sync(self.adelete, name)

    @on_lasting_loop
    async def adelete(self, name: str) -> None:
        """Delete the object; deleting a missing object does nothing. No name: :exc:`ValueError`."""
        if not name:
            raise ValueError("The name must be given to delete().")
        await wire.delete_object(await self._connection(), self.bucket_name, object_key(name))

    # --- URLs ------------------------------------------------------------------------------
    def url(
        self,
        name: str | None,
        expire: timedelta | float | None = None,
        parameters: Mapping[str, str] | None = None,
    ) -> str:
        """The URL a browser uses to fetch the object. Makes no request and needs no loop.

        Objects in a public bucket get a plain URL. Others get a presigned GET URL for the
        external endpoint, valid for ``expire`` (a :class:`~datetime.timedelta` or seconds, at
        most 7 days; default ``MINIO_URL_EXPIRY_HOURS``). ``parameters`` are signed into the
        URL, for example ``{"response-content-disposition": 'attachment; filename="a.pdf"'}``; a
        URL with parameters is always presigned, since S3 ignores them on anonymous requests.
        Only before ``MINIO_CREDENTIALS`` gave its first keys does it wait (for the provider) or,
        on a loop's thread, raise :exc:`~django.core.exceptions.SynchronousOnlyOperation`."""
        if name is None:
            raise ValueError("url() needs the name of an object.")
        return object_url(
            self.config,
            self.bucket_name,
            object_key(name),
            public=self.is_public,
            expire=expire,
            parameters=parameters,
        )

    async def aurl(
        self,
        name: str,
        expire: timedelta | float | None = None,
        parameters: Mapping[str, str] | None = None,
    ) -> str:
        """Same as :meth:`url`, on the caller's loop; awaits the first keys of
        ``MINIO_CREDENTIALS`` if there are none yet, where ``url()`` on a loop's thread cannot."""
        identity = await self.config.credential_source.current()
        return object_url(
            self.config,
            self.bucket_name,
            object_key(name),
            public=self.is_public,
            expire=expire,
            parameters=parameters,
            identity=identity,
        )

    # --- buckets and health ---------------------------------------------------------------
    def ensure_bucket(self) -> bool:
        """Sync twin of :meth:`aensure_bucket`."""
        return run_sync(self.aensure_bucket)

    @on_lasting_loop
    async def aensure_bucket(self) -> bool:
        """Create this storage's bucket if it is missing; True if this call created it.
        Policies are left alone: ``initialize_buckets`` (or ``acheck_buckets()``) sets them."""
        return await buckets.ensure_bucket(await self._connection(), self.bucket_name)


# The drop-in name for projects coming from django-minio-backend.
MinioBackend = MinioStorage
