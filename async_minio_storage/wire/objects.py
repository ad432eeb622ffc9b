"""Objects: HEAD, GET, PUT (conditional, exactly once), deletes and listing pages."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from collections.abc import Sequence
from typing import TYPE_CHECKING

import aiohttp
from aiohttp import ClientResponse
from miniopy_async.deleteobjects import DeleteObject
from miniopy_async.helpers import DictType

from async_minio_storage.errors import NameTaken
from async_minio_storage.errors import ObjectChanged
from async_minio_storage.errors import StorageUnavailable

from .bodies import RequestBody
from .bodies import digest_headers
from .bodies import send_body
from .miniopy import Client
from .miniopy import execute
from .policy import Attempt
from .policy import Request
from .policy import operation
from .records import SAVE_TOKEN_HEADER
from .records import DeleteRefusal
from .records import ListingPage
from .records import ObjectRecord
from .records import parse_listing
from .records import record_from_headers

if TYPE_CHECKING:
    from async_minio_storage.client import Connection


# The most S3 returns per page of a listing.
PAGE_SIZE = 1000
# The most S3 deletes per multi-object delete.
DELETE_BATCH = 1000


def new_save_token() -> str:
    """A token that tells one save's writes from every other's."""
    return uuid.uuid4().hex


async def stat_object(connection: Connection, bucket: str, key: str) -> ObjectRecord:
    """HEAD: the object's record; ``FileNotFoundError`` if it is missing."""

    async def send(client: Client, attempt: Attempt) -> ObjectRecord:
        # The HEAD that ``Minio.stat_object`` sends, without building its ``Object``: that
        # parsed the dates a second time (strptime, ~40 us of a sync exists()).
        response = await execute(client, "HEAD", bucket, key)
        try:
            return record_from_headers(key, response.headers)
        finally:
            response.release()

    return await operation(connection, Request.READ, send, bucket=bucket, key=key)


async def get_object(
    connection: Connection,
    bucket: str,
    key: str,
    *,
    start: int = 0,
    length: int = 0,
    if_match: str | None = None,
) -> ClientResponse:
    """Start a GET of the object (``length`` bytes from ``start``; 0 means to the end).

    Returns the response with its body unread: the caller reads it, and must release it.
    ``if_match`` (a quoted ETag) makes the server refuse, with :class:`ObjectChanged`, if the
    object is no longer that version.
    """
    headers: DictType | None = {"If-Match": if_match} if if_match else None

    async def send(client: Client, attempt: Attempt) -> ClientResponse:
        response: ClientResponse = await client.get_object(
            bucket, key, offset=start, length=length, request_headers=headers
        )
        return response

    try:
        return await operation(connection, Request.READ, send, bucket=bucket, key=key)
    except NameTaken as error:  # the 412 of If-Match: another version, not a taken name
        raise ObjectChanged(
            f"The object {bucket}/{key} changed while it was being read.",
            code="PreconditionFailed",
            status=412,
        ) from error


async def read_body(response: ClientResponse, size: int, *, bucket: str, key: str) -> bytes:
    """Up to ``size`` bytes of a GET's body, as the network delivers them (``b""`` at its end).

    Each read is bounded by ``MINIO_READ_TIMEOUT``; a broken or stalled transfer is
    :class:`StorageUnavailable`. A body is never retried here: the reader asks for the rest
    with a new ranged GET.
    """
    try:
        return await response.content.read(size)
    except (TimeoutError, aiohttp.ClientError, OSError) as error:
        raise StorageUnavailable(
            f"The download of {bucket}/{key} broke off: {type(error).__name__}: {error}"
        ) from error


async def our_saved_object(
    connection: Connection, bucket: str, key: str, token: str
) -> ObjectRecord | None:
    """The record of ``key`` if it holds the save ``token`` (our own earlier attempt), else
    None: missing, or another save's object."""
    try:
        record = await stat_object(connection, bucket, key)
    except FileNotFoundError:
        return None
    return record if record.save_token == token else None


async def put_object(
    connection: Connection,
    bucket: str,
    key: str,
    body: RequestBody,
    headers: Mapping[str, str],
    *,
    token: str,
    if_absent: bool,
) -> str:
    """PUT one object with its save ``token``; returns its ETag.

    With ``if_absent`` the server refuses to replace an object: :class:`NameTaken`, unless the
    object under ``key`` is this save's own (a repeat met the first attempt), which is success.
    """
    request_headers: DictType = {
        **headers,
        SAVE_TOKEN_HEADER: token,
        **await digest_headers(connection.settings.use_https, body),
    }
    if if_absent:
        request_headers["If-None-Match"] = "*"

    async def send(client: Client, attempt: Attempt) -> str:
        response = await send_body(client, connection, bucket, key, body, request_headers)
        response.release()
        return str(response.headers.get("ETag", "")).strip('"')

    try:
        return await operation(connection, Request.PUT_OBJECT, send, bucket=bucket, key=key)
    except NameTaken:
        ours = await our_saved_object(connection, bucket, key, token)
        if ours is None:
            raise
        return ours.etag or ""


async def list_objects_page(
    connection: Connection,
    bucket: str,
    *,
    prefix: str = "",
    delimiter: str = "",
    continuation: str | None = None,
) -> ListingPage:
    """One page (up to 1,000 keys) of the listing of ``bucket`` under ``prefix``.

    Parsed lean: miniopy-async's ``list_objects`` spends ~60 µs of the loop's time on each
    key (an XPath search per field, a ``strptime`` per date); one ``ElementTree`` walk here
    costs ~6 µs.
    """
    query: DictType = {
        "list-type": "2",
        "max-keys": str(PAGE_SIZE),
        # Keys are URL-encoded in the XML: XML 1.0 cannot carry every character a key may hold.
        "encoding-type": "url",
        "prefix": prefix,
        "delimiter": delimiter,
    }
    if continuation is not None:
        query["continuation-token"] = continuation

    async def send(client: Client, attempt: Attempt) -> str:
        response = await execute(client, "GET", bucket, query_params=query)
        return await response.text()

    return parse_listing(await operation(connection, Request.READ, send, bucket=bucket))


async def delete_object(connection: Connection, bucket: str, key: str) -> None:
    """Delete one object; deleting a missing object does nothing."""

    async def send(client: Client, attempt: Attempt) -> None:
        await client.remove_object(bucket, key)

    await operation(connection, Request.DELETE, send, bucket=bucket, key=key)


async def delete_objects(
    connection: Connection, bucket: str, keys: Sequence[str]
) -> list[DeleteRefusal]:
    """Delete up to 1,000 keys with one request; return the server's refusals.

    The server answers per key: every key without a refusal was deleted (or was not there).
    """
    if len(keys) > DELETE_BATCH:
        raise ValueError(f"At most {DELETE_BATCH} keys per request, not {len(keys)}.")

    async def send(client: Client, attempt: Attempt) -> list[DeleteRefusal]:
        return [
            DeleteRefusal(error.name, error.code, error.message or "")
            async for error in client.remove_objects(bucket, [DeleteObject(key) for key in keys])
        ]

    return await operation(connection, Request.DELETE, send, bucket=bucket)
