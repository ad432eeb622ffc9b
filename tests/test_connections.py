"""Connections are reused across calls, and ``url()`` opens none.

Each test points a storage at a counting TCP proxy in front of the server.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

from django.core.files.base import ContentFile

from async_minio_storage import MinioStorage
from async_minio_storage.wire import HASH_ON_LOOP_LIMIT
from tests.s3_server import free_ports


def test_sixty_sequential_sync_calls_open_at_most_four_connections(
    bucket, proxy, fresh_connections
):
    storage = MinioStorage(bucket_name=bucket, MINIO_ENDPOINT=proxy.endpoint)

    for number in range(20):
        name = storage.save(f"reuse/{number}.txt", ContentFile(b"reuse"))
        assert storage.exists(name)
        with storage.open(name) as file:
            assert file.read() == b"reuse"

    assert proxy.accepted <= 4


async def test_awaited_calls_on_one_loop_share_connections(bucket, proxy):
    storage = MinioStorage(bucket_name=bucket, MINIO_ENDPOINT=proxy.endpoint)

    for number in range(30):
        name = await storage.asave(f"reuse/{number}.txt", ContentFile(b"reuse"))
        assert await storage.asize(name) == 5

    assert proxy.accepted <= 2


def test_url_makes_no_connection(bucket, public_bucket, proxy):
    private = MinioStorage(bucket_name=bucket, MINIO_ENDPOINT=proxy.endpoint)
    public = MinioStorage(bucket_name=public_bucket, MINIO_ENDPOINT=proxy.endpoint)

    for number in range(200):
        private.url(f"photos/{number}.jpg")
        public.url(f"photos/{number}.jpg")

    assert proxy.accepted == 0


def test_url_needs_no_reachable_server(bucket):
    (closed_port,) = free_ports(1)
    storage = MinioStorage(bucket_name=bucket, MINIO_ENDPOINT=f"127.0.0.1:{closed_port}")

    assert storage.url("any.txt").startswith(f"http://127.0.0.1:{closed_port}/{bucket}/any.txt?")


async def test_concurrent_asaves_are_bounded_by_the_pool_size(bucket, proxy):
    storage = MinioStorage(
        bucket_name=bucket, MINIO_ENDPOINT=proxy.endpoint, MINIO_MAX_CONNECTIONS=4
    )

    await asyncio.gather(
        *(storage.asave(f"pool/{number}.txt", ContentFile(b"p")) for number in range(40))
    )

    assert proxy.accepted <= 4


class CountingExecutor(ThreadPoolExecutor):
    """A loop's default executor that counts the work handed to it."""

    def __init__(self) -> None:
        super().__init__(max_workers=2)
        self.submitted = 0

    def submit(self, fn, /, *args, **kwargs):  # type: ignore[no-untyped-def]
        self.submitted += 1
        return super().submit(fn, *args, **kwargs)


def test_small_requests_are_signed_on_the_loop_without_a_worker_thread(bucket):
    storage = MinioStorage(bucket_name=bucket)
    executor = CountingExecutor()

    async def small_requests() -> tuple[bytes, bool]:
        asyncio.get_running_loop().set_default_executor(executor)
        name = await storage.asave("signed-on-loop.txt", ContentFile(b"small"))
        async with await storage.aopen(name) as file:
            content = await file.read()
        return content, await storage.aexists(name)

    try:
        assert asyncio.run(small_requests()) == (
            b"small",
            True,
        )  # the server checked each signature
    finally:
        executor.shutdown()

    assert executor.submitted == 0


def test_a_large_body_is_still_hashed_off_the_loop(bucket):
    storage = MinioStorage(bucket_name=bucket)
    executor = CountingExecutor()
    body = b"x" * (HASH_ON_LOOP_LIMIT + 1)

    async def large_upload() -> int:
        asyncio.get_running_loop().set_default_executor(executor)
        return await storage.asize(await storage.asave("large.bin", ContentFile(body)))

    try:
        assert asyncio.run(large_upload()) == len(body)
    finally:
        executor.shutdown()

    assert executor.submitted >= 1 or storage.config.connection.use_https
