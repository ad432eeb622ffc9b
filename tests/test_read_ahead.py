"""Read-ahead of sync files (``MINIO_READ_AHEAD``), against the real server.

A file of ``storage.open()`` keeps reading the object on the loop while the caller consumes
what came before. These tests pin down what that must not change: the bytes (whole reads and
seeks), the memory (never more than the setting buffered ahead), the connections (closing
early leaves none pinned in the pool, no task running) and the errors (a cut transfer is still
``StorageUnavailable``, a replaced object ``ObjectChanged``).
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import random
import time
import tracemalloc
from collections.abc import Callable
from collections.abc import Iterator

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.exceptions import SynchronousOnlyOperation
from django.core.files.base import ContentFile

from async_minio_storage import MinioStorage
from async_minio_storage import StorageUnavailable
from async_minio_storage import sync_edge
from async_minio_storage.client import get_connection
from async_minio_storage.files import ObjectChanged
from async_minio_storage.sync_files import READ_AHEAD_CHUNK
from async_minio_storage.sync_files import SYNC_BUFFER_SIZE
from async_minio_storage.sync_files import SyncObjectStream
from tests.fault_proxy import FaultProxy
from tests.tcp_proxy import TcpProxy

KiB = 1024
MiB = 1024 * KiB


def stream_of(file) -> SyncObjectStream:
    """The raw stream under a MinioFile's buffer."""
    raw = file.file.raw
    assert isinstance(raw, SyncObjectStream)
    return raw


def wait_until(condition: Callable[[], bool], seconds: float = 10.0) -> bool:
    """Poll ``condition`` until it holds or ``seconds`` passed; whether it held."""
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def read_ahead_tasks() -> list[asyncio.Task[None]]:
    """The read-ahead tasks still running on the portal loop."""

    async def tasks() -> list[asyncio.Task[None]]:
        return [
            task
            for task in asyncio.all_tasks()
            if getattr(task.get_coro(), "__qualname__", "") == "ReadAhead._fill"
        ]

    return sync_edge.run_sync(tasks)


def connections_in_use(storage: MinioStorage) -> int:
    """Connections of the portal loop's pool that are taken (by a response not released)."""

    async def in_use() -> int:
        connection = await get_connection(storage.config.connection)
        connector = connection.http.connector
        assert connector is not None
        return len(connector._acquired)  # aiohttp's own count of connections handed out

    return sync_edge.run_sync(in_use)


@pytest.fixture(scope="module")
def big_object(private_pool) -> Iterator[tuple[str, bytes]]:
    """A 64 MiB object, uploaded once for the module: (bucket, its bytes)."""
    bucket = private_pool.take()
    data = os.urandom(64 * MiB)
    MinioStorage(bucket_name=bucket).save("big.bin", ContentFile(data))
    yield bucket, data
    private_pool.give_back(bucket)


# --- the bytes ---------------------------------------------------------------------------------


@pytest.mark.parametrize("read_ahead", [0, 4 * MiB])
def test_a_large_object_read_in_small_chunks_is_exact(big_object, read_ahead):
    bucket, data = big_object
    storage = MinioStorage(bucket_name=bucket, MINIO_READ_AHEAD=read_ahead)
    digest = hashlib.sha256()

    with storage.open("big.bin") as file:
        first = file.read(64 * KiB)
        digest.update(first)
        # The read-ahead runs when the setting asks for it, and only then.
        assert (stream_of(file).ahead is not None) == bool(read_ahead)
        for chunk in iter(lambda: file.read(64 * KiB), b""):
            digest.update(chunk)
        assert file.tell() == len(data)

    assert digest.hexdigest() == hashlib.sha256(data).hexdigest()


def test_chunks_and_read_all_are_exact_with_a_read_ahead_smaller_than_a_chunk(big_object):
    bucket, data = big_object
    storage = MinioStorage(bucket_name=bucket, MINIO_READ_AHEAD=100_000)

    with storage.open("big.bin") as file:
        assert b"".join(file.chunks(3 * MiB)) == data
        file.seek(60 * MiB + 7)
        assert file.read() == data[60 * MiB + 7 :]


@pytest.mark.parametrize("read_ahead", [0, 256 * KiB, 4 * MiB])
def test_random_seeks_and_reads_return_the_source_bytes(storage, read_ahead):
    data = os.urandom(9 * MiB + 123)
    storage.save("seek.bin", ContentFile(data))
    storage = MinioStorage(bucket_name=storage.bucket_name, MINIO_READ_AHEAD=read_ahead)
    rng = random.Random(17)
    position = 0

    with storage.open("seek.bin") as file:
        for _ in range(150):
            whence = rng.choice([os.SEEK_SET, os.SEEK_CUR, os.SEEK_END])
            target = rng.randrange(0, len(data) + 10)
            offset = {
                os.SEEK_SET: target,
                os.SEEK_CUR: target - position,
                os.SEEK_END: target - len(data),
            }[whence]
            position = file.seek(offset, whence)
            assert position == target
            size = rng.choice([1, 100, 64 * KiB, 700 * KiB, 3 * MiB, 6 * MiB])
            assert file.read(size) == data[position : position + size]
            position = min(position + size, max(position, len(data)))
            assert file.tell() == position


# --- the memory --------------------------------------------------------------------------------


def test_a_paused_reader_buffers_no_more_than_the_setting(big_object):
    """While the caller does not read, the read-ahead fills up to the bound and waits."""
    bucket, data = big_object
    limit = 2 * MiB
    storage = MinioStorage(bucket_name=bucket, MINIO_READ_AHEAD=limit)

    with storage.open("big.bin") as file:
        assert file.read(64 * KiB) == data[: 64 * KiB]
        stream = stream_of(file)
        ahead = stream.ahead
        assert ahead is not None
        # The caller pauses: the read-ahead must come to a stop, waiting for room.
        assert wait_until(lambda: ahead._waiting_for_room), stream.buffered_bytes
        assert stream.buffered_bytes == limit
        read_so_far = ahead._reader.position - stream.tell()
        assert read_so_far == limit

        samples = []
        for _ in range(20 * MiB // (64 * KiB)):
            file.read(64 * KiB)
            samples.append(stream.buffered_bytes)
        assert max(samples) <= limit
        assert wait_until(lambda: ahead._waiting_for_room)
        assert ahead._reader.position - stream.tell() == limit


@pytest.mark.parametrize("read_ahead", [0, 4 * MiB])
def test_memory_stays_flat_while_a_large_object_is_read_slowly(big_object, read_ahead):
    bucket, _ = big_object
    storage = MinioStorage(bucket_name=bucket, MINIO_READ_AHEAD=read_ahead)
    # The bound, plus the handoff being copied out, the file's buffer and aiohttp's buffers.
    allowed = read_ahead + READ_AHEAD_CHUNK + SYNC_BUFFER_SIZE + 2 * MiB

    file = storage.open("big.bin")
    tracemalloc.start()
    try:
        before, _ = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        for number, chunk in enumerate(iter(lambda: file.read(64 * KiB), b"")):
            del chunk
            if number % 64 == 0 and read_ahead:  # now and then the caller is slow
                ahead = stream_of(file).ahead
                assert ahead is not None
                assert wait_until(lambda: ahead._waiting_for_room or not ahead.running)  # noqa: B023
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
        file.close()

    assert peak - before <= allowed, (peak - before) / MiB


# --- the connections ---------------------------------------------------------------------------


def test_closing_early_releases_the_connection_and_ends_the_task(
    bucket, s3_server, fresh_connections
):
    MinioStorage(bucket_name=bucket).save("early.bin", ContentFile(os.urandom(24 * MiB)))
    with TcpProxy(s3_server.endpoint) as proxy:
        storage = MinioStorage(
            bucket_name=bucket,
            MINIO_ENDPOINT=proxy.endpoint,
            MINIO_MAX_CONNECTIONS=1,
            MINIO_CONNECT_TIMEOUT=2,
        )
        file = storage.open("early.bin")
        assert len(file.read(MiB)) == MiB
        ahead = stream_of(file).ahead
        assert ahead is not None
        assert ahead.running
        assert connections_in_use(storage) == 1

        file.close()

        assert wait_until(lambda: not read_ahead_tasks())
        assert not ahead.running
        assert ahead.buffered_bytes == 0
        assert wait_until(lambda: connections_in_use(storage) == 0)
        # Half read, the connection was closed rather than put back or left pinned.
        assert wait_until(lambda: proxy.open == 0)
        # With one connection in the pool, the next download gets it at once.
        with storage.open("early.bin") as again:
            assert len(again.read(2 * MiB)) == 2 * MiB


def test_a_file_read_to_the_end_leaves_no_task_or_connection_in_use(storage, fresh_connections):
    data = os.urandom(6 * MiB)
    storage.save("whole.bin", ContentFile(data))
    file = storage.open("whole.bin")
    assert file.read() == data
    ahead = stream_of(file).ahead
    assert ahead is not None

    assert wait_until(lambda: not ahead.running)
    assert not read_ahead_tasks()
    assert connections_in_use(storage) == 0
    file.close()


def test_seeking_elsewhere_cancels_the_read_ahead(storage):
    data = os.urandom(12 * MiB)
    storage.save("s.bin", ContentFile(data))

    with storage.open("s.bin") as file:
        assert file.read(10) == data[:10]
        first = stream_of(file).ahead
        assert first is not None

        file.seek(9 * MiB)
        assert wait_until(lambda: not first.running)
        assert file.read(10) == data[9 * MiB : 9 * MiB + 10]
        assert stream_of(file).ahead is not first


async def test_reading_on_a_loop_thread_is_refused_not_a_deadlock(storage):
    await storage.asave("loop.bin", ContentFile(os.urandom(3 * MiB)))
    file = await asyncio.to_thread(storage.open, "loop.bin")

    with pytest.raises(SynchronousOnlyOperation, match="aopen"):
        file.read(10)
    await asyncio.to_thread(file.close)


# --- the errors --------------------------------------------------------------------------------


@pytest.fixture
def faults(s3_server) -> Iterator[FaultProxy]:
    with FaultProxy(s3_server.endpoint) as proxy:
        yield proxy


def test_a_transfer_cut_while_reading_ahead_raises_storage_unavailable(bucket, faults):
    data = os.urandom(16 * MiB)
    MinioStorage(bucket_name=bucket).save("cut.bin", ContentFile(data))
    storage = MinioStorage(bucket_name=bucket, MINIO_ENDPOINT=faults.endpoint, MINIO_READ_TIMEOUT=2)
    faults.drop_connections()
    faults.cut_next(6 * MiB, "download")

    file = storage.open("cut.bin")
    received = bytearray(file.read(64 * KiB))
    assert stream_of(file).ahead is not None

    def read_on() -> None:
        for chunk in iter(lambda: file.read(64 * KiB), b""):
            received.extend(chunk)

    with pytest.raises(StorageUnavailable):
        read_on()
    # Nothing wrong was handed over before the error, and the file reads on from where it is
    # (the file's buffer drops what it held of the read that failed, as io.BufferedReader does).
    assert received == data[: len(received)]
    position = file.tell()
    assert len(received) <= position < len(data)
    assert file.read() == data[position:]
    file.close()


def test_an_object_replaced_while_read_ahead_raises_object_changed(storage, s3_admin):
    storage.save("v.bin", ContentFile(b"a" * (3 * MiB)))

    with storage.open("v.bin") as file:
        assert file.read(10) == b"a" * 10
        s3_admin.put(storage.bucket_name, "v.bin", b"b" * 100)
        file.seek(2 * MiB)  # past what the file buffered
        with pytest.raises(ObjectChanged):
            file.read(10)


# --- the setting -------------------------------------------------------------------------------


@pytest.mark.parametrize("value", [-1, 1024 * MiB + 1, 1.5, "4MiB", True])
def test_a_read_ahead_outside_its_range_is_refused(bucket, value):
    with pytest.raises(ImproperlyConfigured, match="MINIO_READ_AHEAD"):
        _ = MinioStorage(bucket_name=bucket, MINIO_READ_AHEAD=value).config


def test_the_read_ahead_defaults_to_4_mib(storage):
    assert storage.config.read_ahead == 4 * MiB
