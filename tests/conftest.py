"""Fixtures: one real S3 server for the session, clean buckets for each test.

The server is ``weed mini``, or with ``ASYNC_MINIO_TEST_SERVER=cluster`` a SeaweedFS cluster of
separate processes (``tests/seaweed_cluster.py``), or the MinIO the ``ASYNC_MINIO_TEST_*``
variables name (``tests/s3_server.py``).

A new bucket's first write takes SeaweedFS ~0.2 s (it grows a volume), so buckets are created
once, warmed, and lent to tests from pools; a bucket is emptied when it comes back. Public
buckets get the anonymous read-only policy once, through the package's own code.
"""

from __future__ import annotations

import asyncio
import io
import secrets
from collections.abc import Coroutine
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from typing import TypeVar

import pytest
from django.test import override_settings
from miniopy_async import Minio
from miniopy_async.deleteobjects import DeleteObject
from miniopy_async.error import S3Error

from async_minio_storage import MinioStorage
from async_minio_storage import sync_edge
from async_minio_storage.buckets import initialize_buckets
from async_minio_storage.sync_edge import run_on_own_loop

from .s3_server import S3Server
from .s3_server import SeaweedFS
from .s3_server import server_from_environment
from .s3_server import wants_cluster
from .seaweed_cluster import SeaweedCluster
from .tcp_proxy import TcpProxy

T = TypeVar("T")
SESSION_PREFIX = f"ams-{secrets.token_hex(3)}"


def run(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine to completion from any test, sync or async."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


class S3Admin:
    """Direct access to the server with a plain miniopy-async client, to arrange and check."""

    def __init__(self, server: S3Server) -> None:
        self.server = server

    def _client(self) -> Minio:
        return Minio(
            self.server.endpoint,
            access_key=self.server.access_key,
            secret_key=self.server.secret_key,
            secure=self.server.use_https,
            region="us-east-1",
        )

    def put(
        self, bucket: str, key: str, data: bytes, content_type: str = "application/octet-stream"
    ) -> None:
        async def put() -> None:
            async with self._client() as client:
                await client.put_object(
                    bucket, key, io.BytesIO(data), len(data), content_type=content_type
                )

        run(put())

    def get(self, bucket: str, key: str) -> bytes:
        async def get() -> bytes:
            async with self._client() as client:
                response = await client.get_object(bucket, key)
                try:
                    return await response.read()
                finally:
                    response.release()

        return run(get())

    def content_type(self, bucket: str, key: str) -> str | None:
        async def head() -> str | None:
            async with self._client() as client:
                return (await client.stat_object(bucket, key)).content_type

        return run(head())

    def headers(self, bucket: str, key: str) -> dict[str, str]:
        """The headers a HEAD of the object answers, names in lower case."""

        async def head() -> dict[str, str]:
            async with self._client() as client:
                stat = await client.stat_object(bucket, key)
                return {name.lower(): value for name, value in (stat.metadata or {}).items()}

        return run(head())

    def keys(self, bucket: str) -> list[str]:
        async def keys() -> list[str]:
            async with self._client() as client:
                return sorted(
                    [
                        item.object_name or ""
                        async for item in client.list_objects(bucket, recursive=True)
                    ]
                )

        return run(keys())

    def delete(self, bucket: str, key: str) -> None:
        async def delete() -> None:
            async with self._client() as client:
                await client.remove_object(bucket, key)

        run(delete())

    def incomplete_uploads(self, bucket: str) -> list[str]:
        async def uploads() -> list[str]:
            async with self._client() as client:
                result = await client._list_multipart_uploads(bucket)
                return [upload.object_name or "" for upload in result.uploads]

        return run(uploads())

    def make_bucket(self, bucket: str) -> None:
        async def make() -> None:
            async with self._client() as client:
                await client.make_bucket(bucket)

        run(make())

    def bucket_exists(self, bucket: str) -> bool:
        async def exists() -> bool:
            async with self._client() as client:
                return await client.bucket_exists(bucket)

        return run(exists())

    def policy(self, bucket: str) -> str | None:
        async def policy() -> str | None:
            async with self._client() as client:
                try:
                    return await client.get_bucket_policy(bucket)
                except S3Error as error:
                    if error.code == "NoSuchBucketPolicy":
                        return None
                    raise

        return run(policy())

    def empty(self, bucket: str) -> None:
        async def empty() -> None:
            async with self._client() as client:
                uploads = await client._list_multipart_uploads(bucket)
                for upload in uploads.uploads:
                    await client._abort_multipart_upload(
                        bucket, upload.object_name, upload.upload_id
                    )
                keys = [
                    item.object_name or ""
                    async for item in client.list_objects(bucket, recursive=True)
                ]
                if keys:
                    errors = await client.remove_objects(
                        bucket, [DeleteObject(key) for key in keys]
                    )
                    assert not errors, errors
                # SeaweedFS keeps emptied "directories" listable until they are deleted too,
                # including those of objects a test deleted itself.
                directories: list[str] = []
                pending = [""]
                while pending:
                    prefix = pending.pop()
                    async for item in client.list_objects(bucket, prefix=prefix or None):
                        name = item.object_name
                        if item.is_dir and name and name != prefix and name not in directories:
                            directories.append(name)
                            pending.append(name)
                for directory in sorted(directories, key=lambda name: -name.count("/")):
                    await client.remove_object(bucket, directory)

        run(empty())

    def remove_bucket(self, bucket: str) -> None:
        async def remove() -> None:
            async with self._client() as client:
                await client.remove_bucket(bucket)

        if self.bucket_exists(bucket):
            self.empty(bucket)
            run(remove())


class BucketPool:
    """Warm buckets lent to one test at a time and emptied when they come back."""

    def __init__(self, admin: S3Admin, names: list[str]) -> None:
        self.admin = admin
        self.free = list(names)

    def take(self) -> str:
        return self.free.pop()

    def give_back(self, name: str) -> None:
        self.admin.empty(name)
        self.free.append(name)


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    given = server_from_environment()
    if given is not None:
        yield given
        return
    directory = Path(tmp_path_factory.mktemp("seaweedfs"))
    with SeaweedCluster(directory) if wants_cluster() else SeaweedFS(directory) as server:
        yield server


@pytest.fixture(scope="session")
def s3_admin(s3_server: S3Server) -> S3Admin:
    return S3Admin(s3_server)


PRIVATE_BUCKETS = [f"{SESSION_PREFIX}-private-{number}" for number in range(3)]
PUBLIC_BUCKETS = [f"{SESSION_PREFIX}-public-{number}" for number in range(2)]
MEDIA_BUCKET = f"{SESSION_PREFIX}-media"
STATIC_BUCKET = f"{SESSION_PREFIX}-static"


def server_settings(server: S3Server) -> dict[str, Any]:
    return {
        "MINIO_ENDPOINT": server.endpoint,
        "MINIO_ACCESS_KEY": server.access_key,
        "MINIO_SECRET_KEY": server.secret_key,
        "MINIO_USE_HTTPS": server.use_https,
    }


@pytest.fixture(scope="session", autouse=True)
def minio_settings(s3_server: S3Server, s3_admin: S3Admin) -> Iterator[dict[str, Any]]:
    """Point every storage at the test server, create the session's buckets, clean up after."""
    values = {
        **server_settings(s3_server),
        "MINIO_PRIVATE_BUCKETS": [*PRIVATE_BUCKETS, MEDIA_BUCKET],
        "MINIO_PUBLIC_BUCKETS": [*PUBLIC_BUCKETS, STATIC_BUCKET],
        "MINIO_MEDIA_FILES_BUCKET": MEDIA_BUCKET,
        "MINIO_STATIC_FILES_BUCKET": STATIC_BUCKET,
    }
    with override_settings(**values):
        storage = MinioStorage()
        run_on_own_loop(initialize_buckets([(storage.config, storage.bucket_name)]))
        warm = [*PRIVATE_BUCKETS, *PUBLIC_BUCKETS, MEDIA_BUCKET, STATIC_BUCKET]
        for bucket in warm:
            s3_admin.put(bucket, "warm-up", b"warm")
        for bucket in warm:
            s3_admin.empty(bucket)
        yield values
        sync_edge.stop_portal()
        for bucket in warm:
            s3_admin.remove_bucket(bucket)


@pytest.fixture(scope="session")
def private_pool(minio_settings: dict[str, Any], s3_admin: S3Admin) -> BucketPool:
    return BucketPool(s3_admin, PRIVATE_BUCKETS)


@pytest.fixture(scope="session")
def public_pool(minio_settings: dict[str, Any], s3_admin: S3Admin) -> BucketPool:
    return BucketPool(s3_admin, PUBLIC_BUCKETS)


@pytest.fixture
def bucket(private_pool: BucketPool) -> Iterator[str]:
    """An empty private bucket for this test alone."""
    name = private_pool.take()
    yield name
    private_pool.give_back(name)


@pytest.fixture
def public_bucket(public_pool: BucketPool) -> Iterator[str]:
    """An empty bucket whose policy lets anyone read its objects."""
    name = public_pool.take()
    yield name
    public_pool.give_back(name)


@pytest.fixture
def media_bucket(s3_admin: S3Admin) -> Iterator[str]:
    """The MINIO_MEDIA_FILES_BUCKET, emptied after the test."""
    yield MEDIA_BUCKET
    s3_admin.empty(MEDIA_BUCKET)


@pytest.fixture
def static_bucket(s3_admin: S3Admin) -> Iterator[str]:
    """The MINIO_STATIC_FILES_BUCKET (public), emptied after the test."""
    yield STATIC_BUCKET
    s3_admin.empty(STATIC_BUCKET)


@pytest.fixture
def storage(bucket: str) -> MinioStorage:
    return MinioStorage(bucket_name=bucket)


@pytest.fixture
def public_storage(public_bucket: str) -> MinioStorage:
    return MinioStorage(bucket_name=public_bucket)


@pytest.fixture
def proxy(s3_server: S3Server) -> Iterator[TcpProxy]:
    """A proxy in front of the server that counts the TCP connections made through it."""
    with TcpProxy(s3_server.endpoint) as started:
        yield started


@pytest.fixture
def fresh_connections() -> Iterator[None]:
    """Start the test with no pooled connections in the portal, and leave none behind."""
    sync_edge.stop_portal()
    yield
    sync_edge.stop_portal()
