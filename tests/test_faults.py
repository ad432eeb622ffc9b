"""Faults between the storage and the server, injected by a proxy, for the sync and async APIs.

Each call must end in bounded time with a clear error, leave nothing half-written on the
server, and the next call must work once the fault is gone.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Iterator

import pytest
from django.core.files.base import ContentFile

from async_minio_storage import MinioStorage
from async_minio_storage import StorageUnavailable
from tests.fault_proxy import FaultProxy

MiB = 1024 * 1024


@pytest.fixture
def faults(s3_server) -> Iterator[FaultProxy]:
    with FaultProxy(s3_server.endpoint) as proxy:
        yield proxy


@pytest.fixture
def storage_behind(bucket, faults) -> MinioStorage:
    """A storage that reaches the server only through the fault proxy, with short timeouts."""
    return MinioStorage(
        bucket_name=bucket,
        MINIO_ENDPOINT=faults.endpoint,
        MINIO_CONNECT_TIMEOUT=2,
        MINIO_READ_TIMEOUT=1,
        MINIO_HEALTH_TIMEOUT=1,
        MINIO_MULTIPART_THRESHOLD=5 * MiB,
        MINIO_MULTIPART_PART_SIZE=5 * MiB,
    )


def test_a_server_that_is_down_fails_fast(storage_behind, faults):
    faults.refuse()
    started = time.monotonic()

    with pytest.raises(StorageUnavailable):
        storage_behind.exists("x.txt")
    with pytest.raises(StorageUnavailable):
        storage_behind.save("x.txt", ContentFile(b"x"))

    assert time.monotonic() - started < 5
    assert not storage_behind.is_minio_available()


async def test_a_server_that_is_down_fails_fast_for_async_callers(storage_behind, faults):
    faults.refuse()

    with pytest.raises(StorageUnavailable):
        await storage_behind.aexists("x.txt")
    with pytest.raises(StorageUnavailable):
        await storage_behind.asave("x.txt", ContentFile(b"x"))
    assert not await storage_behind.ais_minio_available()


def test_a_stalled_server_times_out_and_the_next_call_works(storage_behind, faults):
    faults.stall()
    started = time.monotonic()

    with pytest.raises(StorageUnavailable, match="in time"):
        storage_behind.exists("x.txt")

    assert time.monotonic() - started < 5  # MINIO_READ_TIMEOUT is 1 s
    faults.heal()
    assert storage_behind.save("after.txt", ContentFile(b"back")) == "after.txt"
    assert storage_behind.open("after.txt").read() == b"back"


async def test_a_stalled_server_times_out_for_async_callers_too(storage_behind, faults):
    faults.stall()

    with pytest.raises(StorageUnavailable):
        await storage_behind.asave("x.txt", ContentFile(b"x"))

    faults.heal()
    assert await storage_behind.asave("after.txt", ContentFile(b"back")) == "after.txt"


def test_a_slow_server_is_waited_for_within_the_timeout(storage_behind, faults):
    faults.delay(0.3)

    assert storage_behind.save("slow.txt", ContentFile(b"slow")) == "slow.txt"


def test_transient_503s_are_retried_and_the_save_succeeds(storage_behind, faults, s3_admin):
    faults.answer_next(2)

    name = storage_behind.save("retried.txt", ContentFile(b"third time lucky"))

    assert faults.requests_answered == 2
    assert s3_admin.get(storage_behind.bucket_name, name) == b"third time lucky"


async def test_transient_503s_are_retried_for_reads_too(storage_behind, faults):
    await storage_behind.asave("exists.txt", ContentFile(b"x"))
    faults.answer_next(2)

    assert await storage_behind.aexists("exists.txt")
    assert faults.requests_answered == 2


def test_retries_are_bounded(storage_behind, faults):
    faults.answer_next(10)

    with pytest.raises(StorageUnavailable) as refused:
        storage_behind.save("never.txt", ContentFile(b"x"))

    assert refused.value.status == 503
    assert faults.requests_answered == 3  # MINIO_RETRY_ATTEMPTS


def test_a_connection_cut_during_an_upload_leaves_no_object(storage_behind, faults, s3_admin):
    faults.cut_every_upload(50_000)

    with pytest.raises(StorageUnavailable):
        storage_behind.save("cut.bin", ContentFile(os.urandom(MiB)))

    assert s3_admin.keys(storage_behind.bucket_name) == []


def test_one_cut_during_an_upload_is_retried_on_a_new_connection(storage_behind, faults, s3_admin):
    data = os.urandom(MiB)
    faults.cut_next(50_000, "upload")

    name = storage_behind.save("retried.bin", ContentFile(data))

    assert s3_admin.get(storage_behind.bucket_name, name) == data  # whole, not a part of it
    assert faults.accepted == 2


async def test_a_connection_cut_during_a_multipart_upload_leaves_nothing(
    storage_behind, faults, s3_admin
):
    faults.cut_every_upload(2 * MiB)

    with pytest.raises(StorageUnavailable):
        await storage_behind.asave("cut.bin", ContentFile(os.urandom(12 * MiB)))

    assert s3_admin.keys(storage_behind.bucket_name) == []
    assert s3_admin.incomplete_uploads(storage_behind.bucket_name) == []


def test_a_cut_multipart_upload_from_sync_code_leaves_nothing(storage_behind, faults, s3_admin):
    faults.cut_every_upload(2 * MiB)

    with pytest.raises(StorageUnavailable):
        storage_behind.save("cut.bin", ContentFile(os.urandom(12 * MiB)))

    assert s3_admin.keys(storage_behind.bucket_name) == []
    assert s3_admin.incomplete_uploads(storage_behind.bucket_name) == []


def test_a_download_cut_midway_raises_instead_of_returning_fewer_bytes(storage_behind, faults):
    storage_behind.save("whole.bin", ContentFile(os.urandom(MiB)))
    faults.drop_connections()
    faults.cut_next(300_000, "download")

    with pytest.raises(StorageUnavailable), storage_behind.open("whole.bin") as file:
        file.read()


async def test_an_async_download_cut_midway_raises(storage_behind, faults):
    await storage_behind.asave("whole.bin", ContentFile(os.urandom(MiB)))
    faults.drop_connections()
    faults.cut_next(300_000, "download")

    file = await storage_behind.aopen("whole.bin")
    with pytest.raises(StorageUnavailable):
        async for _ in file.chunks():
            pass
    await file.close()


def test_after_a_server_restart_the_next_call_succeeds(storage_behind, faults):
    storage_behind.save("before.txt", ContentFile(b"before"))

    faults.drop_connections()  # the server went away and came back
    time.sleep(0.2)

    assert storage_behind.save("after.txt", ContentFile(b"after")) == "after.txt"
    assert storage_behind.exists("before.txt")


async def test_after_a_server_restart_the_next_async_call_succeeds(storage_behind, faults):
    await storage_behind.asave("before.txt", ContentFile(b"before"))

    faults.drop_connections()
    await asyncio.sleep(0.2)

    assert await storage_behind.aexists("before.txt")
    assert await storage_behind.asave("after.txt", ContentFile(b"after")) == "after.txt"
