"""Connections are reused across calls, and ``url()`` opens none.

Each test points a storage at a counting TCP proxy in front of the server.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

from django.core.files.base import ContentFile
from django.test import Client
from django.test import override_settings

from async_minio_storage import MinioStorage
from async_minio_storage import client
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


def test_async_views_under_wsgi_share_the_portals_connections(bucket, proxy, fresh_connections):
    """Django runs each async view under WSGI on a loop of its own, which ends with the
    request: the view's storage calls are done on the portal loop, over its pool."""
    MinioStorage(bucket_name=bucket).save("here.txt", ContentFile(b"here"))
    browser = Client()

    with override_settings(MINIO_ENDPOINT=proxy.endpoint):
        answers = [browser.get(f"/aexists/{bucket}/?name=here.txt") for _ in range(30)]
        missing = browser.get(f"/aexists/{bucket}/?name=missing.txt")

    assert [answer.content for answer in answers] == [b"True"] * 30
    assert missing.content == b"False"
    assert proxy.accepted == 1  # one kept-alive connection for 31 requests (was one each)


async def test_on_a_lasting_loop_the_call_runs_where_it_was_made(bucket, proxy):
    # pytest-asyncio's loop is not one of asgiref's: nothing is handed to the portal.
    storage = MinioStorage(bucket_name=bucket, MINIO_ENDPOINT=proxy.endpoint)

    assert await storage.aexists("anything.txt") is False
    assert storage.config.connection in client._clients[asyncio.get_running_loop()]


def test_files_read_by_async_views_under_wsgi_stay_on_the_portals_connections(
    bucket, proxy, fresh_connections
):
    large = bytes(range(256)) * 1024  # 256 KiB: read through the response, not held whole
    MinioStorage(bucket_name=bucket).save("large.bin", ContentFile(large))
    browser = Client()

    with override_settings(MINIO_ENDPOINT=proxy.endpoint):
        answers = [browser.get(f"/aread/{bucket}/?name=large.bin") for _ in range(5)]

    assert [answer.content for answer in answers] == [large] * 5
    assert proxy.accepted == 1
