"""A save stores its file once, or fails cleanly, in a time the caller can plan for.

The fault proxy forwards a request to the real server and then fails its answer (503, or a cut
connection): the server did the work and the client does not know. The retry meets its own
first attempt; the save must still return one name, leave exactly one object under it with
the right bytes, and no incomplete multipart upload.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import io
import time
from collections.abc import Iterator

import pytest
from django.core.files.base import ContentFile

from async_minio_storage import MinioStorage
from async_minio_storage import StorageUnavailable
from async_minio_storage import sync_edge
from tests.conftest import S3Admin
from tests.fault_proxy import FaultProxy
from tests.s3_server import RestartableSeaweedFS
from tests.s3_server import server_from_environment

MiB = 1024 * 1024
SMALL = b"exactly once " * 100
# Three parts of 5 MiB, 5 MiB and 1 MiB.
LARGE = bytes(range(256)) * (11 * MiB // 256)


@pytest.fixture
def faults(s3_server) -> Iterator[FaultProxy]:
    with FaultProxy(s3_server.endpoint) as proxy:
        yield proxy


def behind(faults: FaultProxy, bucket: str, **options) -> MinioStorage:
    settings = {
        "MINIO_ENDPOINT": faults.endpoint,
        "MINIO_CONNECT_TIMEOUT": 2,
        "MINIO_READ_TIMEOUT": 2,
        "MINIO_MULTIPART_THRESHOLD": 5 * MiB,
        "MINIO_MULTIPART_PART_SIZE": 5 * MiB,
    }
    return MinioStorage(bucket_name=bucket, **(settings | options))


async def save(storage: MinioStorage, name: str, data: bytes | object, api: str) -> str:
    """``storage.asave``, or ``storage.save`` from a worker thread, as sync code calls it."""
    content = ContentFile(data) if isinstance(data, bytes) else data
    if api == "async":
        return await storage.asave(name, content)
    return await asyncio.to_thread(storage.save, name, content)


def assert_stored_once(s3_admin, bucket: str, name: str, data: bytes) -> None:
    assert s3_admin.keys(bucket) == [name]
    assert s3_admin.get(bucket, name) == data
    assert s3_admin.incomplete_uploads(bucket) == []


APIS = ["sync", "async"]


@pytest.mark.parametrize("api", APIS)
async def test_a_put_stored_but_answered_503_is_stored_once(bucket, faults, s3_admin, api):
    faults.fail_after_forwarding(1, status=503, method="PUT")

    name = await save(behind(faults, bucket), "report.txt", SMALL, api)

    assert name == "report.txt"
    assert faults.forwarded_then_failed == 1
    assert_stored_once(s3_admin, bucket, name, SMALL)


@pytest.mark.parametrize("api", APIS)
async def test_a_put_whose_answer_was_cut_is_stored_once(bucket, faults, s3_admin, api):
    faults.cut_after_forwarding(1, method="PUT")

    name = await save(behind(faults, bucket), "report.txt", SMALL, api)

    assert name == "report.txt"
    assert faults.forwarded_then_cut == 1
    assert_stored_once(s3_admin, bucket, name, SMALL)


@pytest.mark.parametrize("api", APIS)
async def test_a_completion_stored_but_answered_503_is_stored_once(bucket, faults, s3_admin, api):
    faults.fail_after_forwarding(1, status=503, method="POST", query="uploadId")

    name = await save(behind(faults, bucket), "video.bin", LARGE, api)

    assert name == "video.bin"
    assert faults.forwarded_then_failed == 1
    assert_stored_once(s3_admin, bucket, name, LARGE)


@pytest.mark.parametrize("api", APIS)
async def test_a_completion_whose_answer_was_cut_is_stored_once(bucket, faults, s3_admin, api):
    faults.cut_after_forwarding(1, method="POST", query="uploadId")

    name = await save(behind(faults, bucket), "video.bin", LARGE, api)

    assert name == "video.bin"
    assert_stored_once(s3_admin, bucket, name, LARGE)


@pytest.mark.parametrize("api", APIS)
async def test_a_started_upload_answered_503_leaves_no_upload_behind(bucket, faults, s3_admin, api):
    faults.fail_after_forwarding(1, status=503, method="POST", query="uploads")

    name = await save(behind(faults, bucket), "video.bin", LARGE, api)

    assert name == "video.bin"
    assert faults.forwarded_then_failed == 1
    assert_stored_once(s3_admin, bucket, name, LARGE)


async def test_a_part_stored_but_answered_503_is_sent_again(bucket, faults, s3_admin):
    faults.fail_after_forwarding(1, status=503, method="PUT", query="partNumber")

    name = await save(behind(faults, bucket), "video.bin", LARGE, "async")

    assert_stored_once(s3_admin, bucket, name, LARGE)


async def test_an_overwriting_save_whose_answer_was_lost_is_stored_once(bucket, faults, s3_admin):
    storage = behind(faults, bucket)
    storage.replace_existing = True
    await storage.asave("report.txt", ContentFile(b"old"))
    faults.fail_after_forwarding(1, status=503, method="PUT")

    assert await storage.asave("report.txt", ContentFile(SMALL)) == "report.txt"

    assert_stored_once(s3_admin, bucket, "report.txt", SMALL)


async def test_a_name_taken_by_another_file_still_moves_to_another_name(bucket, faults, s3_admin):
    storage = behind(faults, bucket)
    await storage.asave("report.txt", ContentFile(b"someone else's"))
    faults.fail_after_forwarding(1, status=503, method="PUT")

    name = await storage.asave("report.txt", ContentFile(SMALL))

    # The retry met a 412 from the other file, not from its own first attempt...
    assert name != "report.txt"
    assert s3_admin.get(bucket, "report.txt") == b"someone else's"
    # ... and the first attempt, which the server refused too, stored nothing.
    assert sorted(s3_admin.keys(bucket)) == sorted(["report.txt", name])
    assert s3_admin.get(bucket, name) == SMALL


@pytest.mark.parametrize("size", [4 * MiB, 11 * MiB], ids=["single PUT", "multipart part"])
async def test_a_server_that_stops_reading_the_body_fails_within_the_read_timeout(
    bucket, faults, s3_admin, size
):
    storage = behind(faults, bucket, MINIO_READ_TIMEOUT=1)
    faults.stop_reading_bodies()
    started = time.monotonic()

    with pytest.raises(StorageUnavailable, match="in time"):
        await storage.asave("stalled.bin", ContentFile(b"s" * size))

    assert time.monotonic() - started < 1 + 1.5  # MINIO_READ_TIMEOUT, and a margin
    faults.heal()
    assert s3_admin.keys(bucket) == []


def test_a_server_that_stops_reading_fails_a_sync_save_in_time_too(bucket, faults, s3_admin):
    storage = behind(faults, bucket, MINIO_READ_TIMEOUT=1)
    faults.stop_reading_bodies()
    started = time.monotonic()

    with pytest.raises(StorageUnavailable):
        storage.save("stalled.bin", ContentFile(b"s" * 4 * MiB))

    assert time.monotonic() - started < 1 + 1.5


def test_a_server_that_fails_every_put_fails_the_save_within_the_operation_deadline(bucket, faults):
    # Ten attempts with exponential backoff would take over 25 s; the deadline is 1 s.
    storage = behind(faults, bucket, MINIO_RETRY_ATTEMPTS=10, MINIO_OPERATION_TIMEOUT=1)
    faults.answer_next(100, status=500, method="PUT")
    started = time.monotonic()

    with pytest.raises(StorageUnavailable, match="MINIO_OPERATION_TIMEOUT"):
        storage.save("never.txt", ContentFile(b"x"))

    assert time.monotonic() - started < 1 + 0.5
    assert 1 < faults.requests_answered < 10


def test_a_5xx_that_outlives_the_retries_is_storage_unavailable(bucket, faults):
    storage = behind(faults, bucket)
    faults.answer_next(100, status=503)

    with pytest.raises(StorageUnavailable) as failed:
        storage.exists("x.txt")

    assert isinstance(failed.value, ConnectionError)
    assert failed.value.status == 503
    assert faults.requests_answered == 3  # MINIO_RETRY_ATTEMPTS


class KillsTheServerMidway:
    """Content whose reader kills the server by its PID once ``after`` bytes were read: the
    upload has started, some parts are sent, the rest never will be."""

    def __init__(self, data: bytes, weed: RestartableSeaweedFS, *, after: int) -> None:
        self._file = io.BytesIO(data)
        self._weed = weed
        self._after = after
        self.name = "crash.bin"
        self.size = len(data)

    def read(self, size: int = -1) -> bytes:
        if self._file.tell() >= self._after and self._weed.running:
            self._weed.kill()
        return self._file.read(size)

    def seek(self, offset: int) -> int:
        return self._file.seek(offset)


@pytest.mark.skipif(
    server_from_environment() is not None, reason="kills and restarts a server of its own"
)
@pytest.mark.parametrize("api", APIS)
async def test_an_upload_cut_by_a_server_crash_is_aborted_once_the_server_is_back(tmp_path, api):
    with RestartableSeaweedFS(tmp_path) as weed:
        admin = S3Admin(weed.server)
        admin.make_bucket("crash")
        storage = MinioStorage(
            bucket_name="crash",
            MINIO_ENDPOINT=weed.endpoint,
            MINIO_ACCESS_KEY=weed.access_key,
            MINIO_SECRET_KEY=weed.secret_key,
            MINIO_CONNECT_TIMEOUT=1,
            MINIO_READ_TIMEOUT=2,
            MINIO_MULTIPART_THRESHOLD=5 * MiB,
            MINIO_MULTIPART_PART_SIZE=5 * MiB,
            MINIO_MULTIPART_CONCURRENCY=1,
        )
        content = KillsTheServerMidway(LARGE, weed, after=10 * MiB)

        with pytest.raises(StorageUnavailable):
            await save(storage, "crash.bin", content, api)

        assert admin_sees_no_server(admin)
        weed.start()  # same ports, same data: the upload the crash cut is listed again
        # The abort goes on in the background until the server answers it (bounded in time).
        _, still_running = concurrent.futures.wait(sync_edge.background_work(), timeout=30)
        assert not still_running
        assert admin.incomplete_uploads("crash") == []
        assert admin.keys("crash") == []


def admin_sees_no_server(admin: S3Admin) -> bool:
    try:
        admin.keys("crash")
    except OSError:
        return True
    return False
