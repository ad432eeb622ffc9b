"""Connections are reused across calls, and ``url()`` opens none.

Each test points a storage at a counting TCP proxy in front of the server.
"""

from __future__ import annotations

import asyncio

from django.core.files.base import ContentFile

from async_minio_storage import MinioStorage
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
