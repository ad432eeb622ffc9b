"""Many keys at once: bucket listings and multi-object deletes, 1,000 keys per request.

Listings (ListObjectsV2) are parsed lean.

miniopy-async's ``list_objects`` turns each key into an ``Object``: a namespaced XPath search
per field and a ``strptime`` per date, about 60 µs of CPU per key, all on the event loop. A
page of 1,000 keys cost 60 ms there, most of a ``collectstatic`` that has nothing to upload,
and a bucket of 100,000 keys held the loop for six seconds in all. Here a page is one
``ElementTree`` parse and a walk over its children: about 6 ms for 1,000 keys, with dates
parsed only when asked for.

A request slot is taken for each request, never across pages (see ``client.Connection``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from collections.abc import Callable
from collections.abc import Iterator
from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar
from urllib.parse import unquote_plus
from xml.etree import ElementTree

from miniopy_async.api import Minio
from miniopy_async.deleteobjects import DeleteError
from miniopy_async.deleteobjects import DeleteObject
from miniopy_async.helpers import DictType

from .errors import StorageRequestError
from .errors import translated

T = TypeVar("T")

PAGE_SIZE = 1000  # the most S3 returns per page
DELETE_BATCH = 1000  # the most S3 deletes per multi-object delete

RequestSlot = Callable[[], AbstractAsyncContextManager[Minio]]


def is_directory_marker(key: str) -> bool:
    """A key ending in ``/`` is a folder made by an S3 console or tool, never a storage's file."""
    return key.endswith("/")


@dataclass(frozen=True, slots=True)
class ListedObject:
    """One key of a listing, as the server described it."""

    key: str
    size: int
    etag: str  # without its quotes; the MD5 of the content for single-request uploads
    modified: str  # ISO 8601, as listed; parsed by ``last_modified``

    @property
    def last_modified(self) -> datetime | None:
        """When the object was last written (aware, UTC), or None if the server did not say."""
        try:
            return datetime.fromisoformat(self.modified)
        except ValueError:
            return None

    @property
    def is_directory_marker(self) -> bool:
        return is_directory_marker(self.key)


@dataclass(frozen=True)
class ListingPage:
    objects: list[ListedObject]
    prefixes: list[str]  # "directories", when listed with a delimiter


async def list_pages(
    request: RequestSlot, bucket: str, *, prefix: str = "", delimiter: str = ""
) -> AsyncIterator[ListingPage]:
    """The listing of ``bucket`` under ``prefix``, a page at a time.

    ``request`` gives the client for one request within the loop's request slots
    (``MinioStorage._request`` or ``Connection.request``). Without a ``delimiter`` every key
    under ``prefix`` is listed; with ``"/"``, one level, its sub-folders in ``prefixes``.
    """
    query: DictType = {
        "list-type": "2",
        "max-keys": str(PAGE_SIZE),
        # Keys are URL-encoded in the XML: XML 1.0 cannot carry every character a key may hold.
        "encoding-type": "url",
        "prefix": prefix,
        "delimiter": delimiter,
    }
    while True:
        async with request() as client, translated(bucket=bucket):
            response = await client._execute("GET", bucket, query_params=query)
            text = await response.text()
        page, token = parse_page(text)
        yield page
        if token is None:
            return
        query["continuation-token"] = token


async def list_objects(
    request: RequestSlot, bucket: str, *, prefix: str = ""
) -> AsyncIterator[ListedObject]:
    """Every object under ``prefix``, directory markers included, page after page."""
    async for page in list_pages(request, bucket, prefix=prefix):
        for listed in page.objects:
            yield listed


def parse_page(text: str) -> tuple[ListingPage, str | None]:
    """A ListObjectsV2 answer: its page, and the token for the next one (None on the last)."""
    # The XML comes from the configured server, parsed as miniopy-async parses all of it.
    root = ElementTree.fromstring(text)  # noqa: S314
    namespace = root.tag[: root.tag.index("}") + 1] if root.tag.startswith("{") else ""
    contents, common_prefixes = f"{namespace}Contents", f"{namespace}CommonPrefixes"
    url_encoded = root.findtext(f"{namespace}EncodingType") == "url"

    def decoded(value: str) -> str:
        return unquote_plus(value) if url_encoded else value

    objects: list[ListedObject] = []
    prefixes: list[str] = []
    for element in root:
        if element.tag == contents:
            fields = {child.tag[len(namespace) :]: child.text or "" for child in element}
            objects.append(
                ListedObject(
                    key=decoded(fields.get("Key", "")),
                    size=int(fields.get("Size") or 0),
                    etag=fields.get("ETag", "").strip('"'),
                    modified=fields.get("LastModified", ""),
                )
            )
        elif element.tag == common_prefixes:
            prefixes.append(decoded(element.findtext(f"{namespace}Prefix") or ""))
    if (root.findtext(f"{namespace}IsTruncated") or "").lower() != "true":
        return ListingPage(objects, prefixes), None
    token = root.findtext(f"{namespace}NextContinuationToken")
    if not token:
        # Stopping here would pass a partial listing off as the whole bucket.
        raise StorageRequestError("The server cut a listing short without saying where it goes on.")
    return ListingPage(objects, prefixes), token


def batches(items: Sequence[T], size: int = DELETE_BATCH) -> Iterator[Sequence[T]]:
    """``items`` in consecutive slices of at most ``size``."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


async def delete_batch(request: RequestSlot, bucket: str, keys: Sequence[str]) -> list[DeleteError]:
    """Delete up to 1,000 keys with one request; return the server's refusals.

    The server answers per key: every key without a refusal was deleted (or was not there).
    A refusal naming no key refused the whole request.
    """
    if len(keys) > DELETE_BATCH:
        raise ValueError(f"At most {DELETE_BATCH} keys per request, not {len(keys)}.")
    async with request() as client, translated(bucket=bucket):
        return [
            error
            async for error in client.remove_objects(bucket, [DeleteObject(key) for key in keys])
        ]
