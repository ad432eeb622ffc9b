"""Buckets and health probes."""

from __future__ import annotations

from typing import TYPE_CHECKING

from miniopy_async.error import S3Error

from .miniopy import Client
from .policy import Attempt
from .policy import Request
from .policy import operation

if TYPE_CHECKING:
    from async_minio_storage.client import Connection


async def bucket_exists(connection: Connection, bucket: str, *, probe: bool = False) -> bool:
    """True if the bucket exists. With ``probe``, under the health probe's policy (no retry)."""

    async def send(client: Client, attempt: Attempt) -> bool:
        return await client.bucket_exists(bucket)

    request = Request.PROBE if probe else Request.READ
    return await operation(connection, request, send, bucket=bucket)


async def make_bucket(connection: Connection, bucket: str) -> bool:
    """Create ``bucket``; False if it existed already (created meanwhile, or by a repeat)."""

    async def send(client: Client, attempt: Attempt) -> bool:
        try:
            await client.make_bucket(bucket)
        except S3Error as error:
            if error.code in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
                return False
            raise
        return True

    return await operation(connection, Request.BUCKET, send, bucket=bucket)


async def get_bucket_policy(connection: Connection, bucket: str) -> str | None:
    """The bucket's policy document, or None if it has none."""

    async def send(client: Client, attempt: Attempt) -> str | None:
        try:
            return await client.get_bucket_policy(bucket)
        except S3Error as error:
            if error.code == "NoSuchBucketPolicy":
                return None
            raise

    return await operation(connection, Request.READ, send, bucket=bucket)


async def set_bucket_policy(connection: Connection, bucket: str, policy: str | None) -> None:
    """Set the bucket's policy document; None deletes it."""

    async def send(client: Client, attempt: Attempt) -> None:
        if policy is None:
            await client.delete_bucket_policy(bucket)
        else:
            await client.set_bucket_policy(bucket, policy)

    await operation(connection, Request.BUCKET, send, bucket=bucket)


async def probe_status(connection: Connection, url: str) -> int:
    """The status of an unsigned GET of ``url`` (a health endpoint), sent once.

    Transport errors are raised as they are (the health module describes each); the caller
    bounds the wait.
    """
    async with connection.slots, connection.http.get(url) as response:
        return response.status
