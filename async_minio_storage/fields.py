"""A model ``FileField`` whose files can be saved, deleted, opened and measured with ``await``.

Django's ``FieldFile.save()`` and ``.delete()`` are synchronous, so an async view that stores a
model's file either blocks the loop or hops to a thread. ``async_minio_storage.fields.FileField``
is Django's ``FileField`` with ``a*`` twins on its files::

    class Invoice(models.Model):
        pdf = FileField(storage=invoices, upload_to=iso_date_prefix)

    invoice = Invoice()
    await invoice.pdf.asave("q3.pdf", uploaded_file)   # uploads, then ``await invoice.asave()``
    url = await invoice.pdf.aurl()
    await invoice.pdf.adelete()

Everything synchronous behaves exactly as Django's. The twins await the storage's own ``a*``
methods, and fall back to ``sync_to_async`` for a storage that has none.
"""

from __future__ import annotations

from collections.abc import Awaitable
from collections.abc import Callable
from typing import Any

from asgiref.sync import sync_to_async
from django.db import models
from django.db.models.fields.files import FieldFile

__all__ = ["AsyncFieldFile", "FileField"]


def _twin(storage: Any, name: str) -> Callable[..., Awaitable[Any]]:
    """The storage's coroutine ``a<name>``, or its sync ``<name>`` run in a thread."""
    coroutine_function = getattr(storage, f"a{name}", None)
    if coroutine_function is not None:
        return coroutine_function  # type: ignore[no-any-return]
    return sync_to_async(getattr(storage, name))


class AsyncFieldFile(FieldFile):
    """Django's ``FieldFile`` with ``asave``, ``adelete``, ``aopen``, ``aurl`` and ``asize``.

    Each runs on the caller's loop and awaits the storage's own ``a*`` method (for a storage
    without one, its sync method in a worker thread, through ``sync_to_async``), so it raises
    what that method raises. ``aopen``, ``aurl`` and ``asize`` raise :exc:`ValueError` when the
    field has no file, as Django's ``open``, ``url`` and ``size`` do.
    """

    async def asave(self, name: str, content: Any, save: bool = True) -> None:
        """Store ``content`` under the field's ``upload_to`` rules, then, unless ``save=False``,
        save the instance with ``await instance.asave()``."""
        name = self.field.generate_filename(self.instance, name)
        self.name = await _twin(self.storage, "save")(
            name, content, max_length=self.field.max_length
        )
        setattr(self.instance, self.field.attname, self.name)
        self._committed = True
        if save:
            await self.instance.asave()

    asave.alters_data = True  # type: ignore[attr-defined]

    async def adelete(self, save: bool = True) -> None:
        """Delete the stored object, clear the field, then, unless ``save=False``, save the
        instance. Nothing happens without a file."""
        if not self:
            return
        # As FieldFile.delete: close the file first, if one is open.
        if hasattr(self, "_file"):
            self.close()
            del self.file
        await _twin(self.storage, "delete")(self.name)
        self.name = None
        setattr(self.instance, self.field.attname, self.name)
        self._committed = False
        if save:
            await self.instance.asave()

    adelete.alters_data = True  # type: ignore[attr-defined]

    def _needs_file(self) -> None:
        # As Django's FieldFile._require_file(), which its type stubs do not declare.
        if not self:
            raise ValueError(f"The '{self.field.name}' attribute has no file associated with it.")

    async def aopen(self, mode: str = "rb") -> Any:
        """The stored object, opened for reading (an
        :class:`~async_minio_storage.AsyncMinioFile` with this package's storage)."""
        self._needs_file()
        return await _twin(self.storage, "open")(self.name, mode)

    async def aurl(self) -> str:
        """The file's URL, from the storage's ``aurl``
        (:meth:`~async_minio_storage.MinioStorage.aurl` with this package's storage)."""
        self._needs_file()
        url: str = await _twin(self.storage, "url")(self.name)
        return url

    async def asize(self) -> int:
        """The size in bytes: of the file itself while it is not saved yet (no request), else
        from the storage's ``asize`` (one ``HEAD`` with this package's storage)."""
        self._needs_file()
        if not self._committed:
            return int(self.file.size)
        size: int = await _twin(self.storage, "size")(self.name)
        return size


class FileField(models.FileField):
    """Django's ``FileField``, whose files are :class:`AsyncFieldFile`.

    Migrations serialise it as ``async_minio_storage.fields.FileField``; swapping it for
    Django's field (or back) changes no column.
    """

    #: The class of this field's files, in place of Django's ``FieldFile``.
    attr_class = AsyncFieldFile
