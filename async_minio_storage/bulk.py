"""Many keys at once: whole listings, page after page, and deletes of 1,000 keys per request.

Each page and each delete is one request of :mod:`~async_minio_storage.wire`, with its own
retries and deadline; a request slot is taken for each request, never across pages.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from collections.abc import Iterator
from collections.abc import Sequence
from typing import TypeVar

from . import wire
from .client import Connection
from .wire import DELETE_BATCH
from .wire import DeleteRefusal
from .wire import ListingPage
from .wire import ObjectRecord

T = TypeVar("T")


async def list_pages(
    connection: Connection, bucket: str, *, prefix: str = "", delimiter: str = ""
) -> AsyncIterator[ListingPage]:
    """The listing of ``bucket`` under ``prefix``, a page at a time.

    Without a ``delimiter`` every key under ``prefix`` is listed; with ``"/"``, one level, its
    sub-folders in ``prefixes``.
    """
    continuation: str | None = None
    while True:
        page = await wire.list_objects_page(
            connection, bucket, prefix=prefix, delimiter=delimiter, continuation=continuation
        )
        yield page
        if page.continuation is None:
            return
        continuation = page.continuation


async def list_objects(
    connection: Connection, bucket: str, *, prefix: str = ""
) -> AsyncIterator[ObjectRecord]:
    """Every object under ``prefix``, directory markers included, page after page."""
    async for page in list_pages(connection, bucket, prefix=prefix):
        for listed in page.objects:
            yield listed


async def list_directory(
    connection: Connection, bucket: str, prefix: str
) -> tuple[list[str], list[str]]:
    """``(directories, files)`` directly under ``prefix`` (a ``names.directory_prefix``),
    relative to it: Django's ``listdir``, from one delimited listing read page after page.
    Directory markers (keys ending in ``/``, the prefix's own included) are not files."""
    directories: list[str] = []
    files: list[str] = []
    async for page in list_pages(connection, bucket, prefix=prefix, delimiter="/"):
        directories.extend(sub[len(prefix) :].rstrip("/") for sub in page.prefixes)
        for listed in page.objects:
            relative = listed.key[len(prefix) :]
            if relative and not listed.is_directory_marker:
                files.append(relative)
    return directories, files


def batches(items: Sequence[T], size: int = DELETE_BATCH) -> Iterator[Sequence[T]]:
    """``items`` in consecutive slices of at most ``size``."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


async def delete_batch(
    connection: Connection, bucket: str, keys: Sequence[str]
) -> list[DeleteRefusal]:
    """Delete up to 1,000 keys with one request; return the server's refusals.

    The server answers per key: every key without a refusal was deleted (or was not there).
    A refusal naming no key refused the whole request.
    """
    return await wire.delete_objects(connection, bucket, keys)
