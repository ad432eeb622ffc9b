"""Load and resources: many uploads at once, and a long mixed soak that leaks nothing."""

from __future__ import annotations

import asyncio
import os
import threading
import tracemalloc
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from django.core.files.base import ContentFile

from async_minio_storage import sync_edge

# Minutes of load on one Django line are enough; the other lines run the rest of the suite.
pytestmark = pytest.mark.once


def open_descriptors() -> int:
    return len(list(Path("/proc/self/fd").iterdir()))


async def test_a_thousand_concurrent_asaves_are_all_stored(storage, s3_admin):
    payloads = [os.urandom(512) for _ in range(1000)]

    names = await asyncio.gather(
        *(storage.asave(f"many/{i}.bin", ContentFile(data)) for i, data in enumerate(payloads))
    )

    assert names == [f"many/{i}.bin" for i in range(1000)]
    assert len(s3_admin.keys(storage.bucket_name)) == 1000
    for i in (0, 499, 999):
        assert s3_admin.get(storage.bucket_name, names[i]) == payloads[i]


async def test_a_hundred_concurrent_asaves_of_one_name_keep_every_upload(storage, s3_admin):
    payloads = [b"upload %d" % i for i in range(100)]

    names = await asyncio.gather(
        *(storage.asave("same/report.pdf", ContentFile(data)) for data in payloads)
    )

    assert len(set(names)) == 100
    for name, data in zip(names, payloads, strict=True):
        assert s3_admin.get(storage.bucket_name, name) == data


OPERATIONS_PER_CYCLE = 6  # save, exists, size, open().read(), url(), delete


def sync_cycles(storage, prefix: str, cycles: int) -> int:
    for number in range(cycles):
        name = storage.save(f"{prefix}/{number}.txt", ContentFile(b"soak" * 256))
        assert storage.exists(name)
        assert storage.size(name) == 1024
        with storage.open(name) as file:
            assert len(file.read()) == 1024
        assert storage.url(name)
        storage.delete(name)
    return cycles * OPERATIONS_PER_CYCLE


async def async_cycles(storage, prefix: str, cycles: int) -> int:
    for number in range(cycles):
        name = await storage.asave(f"{prefix}/{number}.txt", ContentFile(b"soak" * 256))
        assert await storage.aexists(name)
        assert await storage.asize(name) == 1024
        async with await storage.aopen(name) as file:
            assert len(await file.read()) == 1024
        assert await storage.aurl(name)
        await storage.adelete(name)
    return cycles * OPERATIONS_PER_CYCLE


def soak(storage, label: str, cycles_per_worker: int) -> int:
    """Four threads of sync calls and an event loop of eight tasks, all at once."""

    async def async_part() -> int:
        done = await asyncio.gather(
            *(
                async_cycles(storage, f"{label}/async-{task}", cycles_per_worker)
                for task in range(8)
            )
        )
        return sum(done)

    with ThreadPoolExecutor(max_workers=4) as pool:
        sync_done = [
            pool.submit(sync_cycles, storage, f"{label}/sync-{worker}", cycles_per_worker)
            for worker in range(4)
        ]
        loop_thread_result: list[int] = []
        loop_thread = threading.Thread(
            target=lambda: loop_thread_result.append(asyncio.run(async_part()))
        )
        loop_thread.start()
        loop_thread.join()
        return sum(future.result() for future in sync_done) + loop_thread_result[0]


def test_a_long_mixed_soak_leaks_no_descriptors_and_no_memory(storage, fresh_connections):
    sync_edge.stop_portal()
    descriptors_before = open_descriptors()

    tracemalloc.start()
    try:
        first = soak(storage, "first", cycles_per_worker=70)
        memory_after_first, _ = tracemalloc.get_traced_memory()
        second = soak(storage, "second", cycles_per_worker=70)
        memory_after_second, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    sync_edge.stop_portal()  # the sync side's connections; the loop's closed with its loop

    assert first + second >= 10_000
    assert open_descriptors() <= descriptors_before
    assert memory_after_second - memory_after_first < 2 * 1024 * 1024
