"""Uploads: streamed in bounded memory, off the event loop, and never overwriting by accident."""

from __future__ import annotations

import asyncio
import hashlib
import io
import os
import threading
import tracemalloc
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.core.files.base import ContentFile
from django.core.files.base import File
from django.core.files.uploadedfile import TemporaryUploadedFile

from async_minio_storage import MinioStorage
from async_minio_storage import sync_edge
from async_minio_storage import uploads
from tests.conftest import SESSION_PREFIX

MiB = 1024 * 1024


class ThreadRecordingFile(io.FileIO):
    """A file on disk that remembers which threads read it."""

    def __init__(self, path: os.PathLike[str]) -> None:
        super().__init__(path, "rb")
        self.reading_threads: set[int] = set()

    def read(self, size: int = -1) -> bytes:
        self.reading_threads.add(threading.get_ident())
        return super().read(size)


class Unseekable(io.RawIOBase):
    """A stream that can only be read forward, like a pipe or a socket."""

    def __init__(self, data: bytes) -> None:
        self._data = io.BytesIO(data)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:  # type: ignore[no-untyped-def]
        chunk = self._data.read(min(len(buffer), 1000))
        buffer[: len(chunk)] = chunk
        return len(chunk)

    def seekable(self) -> bool:
        return False


@pytest.fixture
def big_file(tmp_path):
    """24 MiB on disk, more than the multipart threshold."""
    path = tmp_path / "big.bin"
    block = os.urandom(MiB)
    with path.open("wb") as handle:
        for _ in range(24):
            handle.write(block)
    return path


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_a_large_file_is_uploaded_in_parts(storage, big_file, s3_admin):
    with TemporaryUploadedFile("big.bin", "application/octet-stream", 24 * MiB, None) as upload:
        with big_file.open("rb") as source:
            upload.write(source.read())
        name = storage.save("uploads/big.bin", upload)

    assert storage.size(name) == 24 * MiB
    assert digest(s3_admin.get(storage.bucket_name, name)) == digest(big_file.read_bytes())
    assert storage.open(name).etag.endswith('-3"')  # three 10 MiB parts


def test_a_large_upload_holds_a_few_parts_in_memory_not_the_file(bucket, tmp_path):
    # 48 MiB, so that the bound below leaves room for whatever else the process allocates
    # meanwhile (a full test run once measured 20 MiB here) and is still half the file.
    path = tmp_path / "larger.bin"
    block = os.urandom(MiB)
    with path.open("wb") as handle:
        for _ in range(48):
            handle.write(block)
    storage = MinioStorage(
        bucket_name=bucket,
        MINIO_MULTIPART_THRESHOLD=5 * MiB,
        MINIO_MULTIPART_PART_SIZE=5 * MiB,
        MINIO_MULTIPART_CONCURRENCY=2,
    )
    storage.exists("warm-the-portal")

    tracemalloc.start()
    try:
        with path.open("rb") as handle:
            storage.save("bounded.bin", File(handle))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert storage.size("bounded.bin") == 48 * MiB
    assert peak < 24 * MiB  # two parts in flight and one being read: 15 MiB, and ~2 MiB more


def test_sync_saves_read_the_file_off_the_portal_loop(storage, big_file):
    storage.exists("start-the-portal")
    loop_thread = sync_edge.portal().thread.ident

    with ThreadRecordingFile(big_file) as handle:
        storage.save("off-loop.bin", File(handle))

    assert handle.reading_threads
    assert loop_thread not in handle.reading_threads


async def test_async_saves_read_the_file_off_the_event_loop(storage, big_file):
    loop_thread = threading.get_ident()

    with ThreadRecordingFile(big_file) as handle:
        await storage.asave("off-loop.bin", File(handle))

    assert handle.reading_threads
    assert loop_thread not in handle.reading_threads


def test_concurrent_saves_of_one_name_from_threads_lose_nothing(storage, s3_admin):
    def save(number: int) -> str:
        return storage.save("same.txt", ContentFile(b"writer %d" % number))

    with ThreadPoolExecutor(max_workers=8) as pool:
        names = list(pool.map(save, range(16)))

    assert len(set(names)) == 16
    stored = {s3_admin.get(storage.bucket_name, name) for name in names}
    assert stored == {b"writer %d" % number for number in range(16)}


async def test_concurrent_asaves_of_one_name_lose_nothing(storage, s3_admin):
    names = await asyncio.gather(
        *(storage.asave("same.txt", ContentFile(b"writer %d" % number)) for number in range(50))
    )

    assert len(set(names)) == 50
    assert "same.txt" in names
    for number, name in enumerate(names):
        assert s3_admin.get(storage.bucket_name, name) == b"writer %d" % number


class TakesTheNameMidway(io.BytesIO):
    """Upload content that, halfway through being read, lets another writer store an object
    under the name being uploaded to: the race a conditional completion must win."""

    def __init__(self, data: bytes, take_the_name) -> None:  # type: ignore[no-untyped-def]
        super().__init__(data)
        self.take_the_name = take_the_name

    def read(self, size: int | None = -1) -> bytes:
        if self.take_the_name and self.tell() >= 6 * MiB:
            self.take_the_name()
            self.take_the_name = None
        return super().read(size)


def test_a_name_taken_during_a_large_upload_is_not_overwritten(bucket, s3_admin):
    storage = MinioStorage(
        bucket_name=bucket, MINIO_MULTIPART_THRESHOLD=5 * MiB, MINIO_MULTIPART_PART_SIZE=5 * MiB
    )
    ours = os.urandom(12 * MiB)
    content = TakesTheNameMidway(ours, lambda: s3_admin.put(bucket, "contested.bin", b"theirs"))

    name = storage.save("contested.bin", File(content))

    assert name != "contested.bin"
    assert s3_admin.get(bucket, "contested.bin") == b"theirs"
    assert s3_admin.get(bucket, name) == ours
    assert s3_admin.incomplete_uploads(bucket) == []


def test_a_stream_that_cannot_be_read_again_fails_rather_than_overwrite(bucket, s3_admin):
    storage = MinioStorage(
        bucket_name=bucket, MINIO_MULTIPART_THRESHOLD=5 * MiB, MINIO_MULTIPART_PART_SIZE=5 * MiB
    )

    class ReadOnce(TakesTheNameMidway):
        def seekable(self) -> bool:
            return False

        def seek(self, *args: object) -> int:
            raise io.UnsupportedOperation("seek")

    content = ReadOnce(
        os.urandom(12 * MiB), lambda: s3_admin.put(bucket, "contested.bin", b"theirs")
    )

    with pytest.raises(FileExistsError, match="cannot be read again"):
        storage.save("contested.bin", File(content))

    assert s3_admin.get(bucket, "contested.bin") == b"theirs"
    assert s3_admin.incomplete_uploads(bucket) == []


def test_replace_existing_overwrites_large_objects_too(bucket, s3_admin):
    storage = MinioStorage(
        bucket_name=bucket,
        replace_existing=True,
        MINIO_MULTIPART_THRESHOLD=5 * MiB,
        MINIO_MULTIPART_PART_SIZE=5 * MiB,
    )

    storage.save("video.bin", ContentFile(b"a" * (6 * MiB)))
    name = storage.save("video.bin", ContentFile(b"b" * (6 * MiB)))

    assert name == "video.bin"
    assert s3_admin.get(bucket, "video.bin") == b"b" * (6 * MiB)


def test_a_failing_read_leaves_no_object_and_no_parts_behind(bucket, s3_admin):
    storage = MinioStorage(
        bucket_name=bucket, MINIO_MULTIPART_THRESHOLD=5 * MiB, MINIO_MULTIPART_PART_SIZE=5 * MiB
    )

    class BreaksHalfway(io.RawIOBase):
        sent = 0

        def readable(self) -> bool:
            return True

        def readinto(self, buffer) -> int:  # type: ignore[no-untyped-def]
            if self.sent >= 12 * MiB:
                raise OSError("the client went away")
            size = min(len(buffer), MiB)
            buffer[:size] = b"x" * size
            self.sent += size
            return size

    with pytest.raises(OSError, match="went away"):
        storage.save("broken.bin", File(BreaksHalfway()))

    assert s3_admin.keys(bucket) == []
    assert s3_admin.incomplete_uploads(bucket) == []


def test_an_empty_file_is_stored(storage):
    name = storage.save("empty.txt", ContentFile(b""))

    assert storage.size(name) == 0
    assert storage.open(name).read() == b""


def test_text_content_is_stored_as_utf8(storage):
    name = storage.save("text.txt", ContentFile("naïve text"))

    assert storage.open(name).read() == "naïve text".encode()


def test_a_stream_that_cannot_seek_is_stored(bucket):
    storage = MinioStorage(
        bucket_name=bucket, MINIO_MULTIPART_THRESHOLD=5 * MiB, MINIO_MULTIPART_PART_SIZE=5 * MiB
    )
    small, large = os.urandom(3000), os.urandom(7 * MiB)

    small_name = storage.save("small-stream.bin", File(Unseekable(small)))
    large_name = storage.save("large-stream.bin", File(Unseekable(large)))

    assert storage.open(small_name).read() == small
    assert storage.open(large_name).read() == large


def test_bucket_check_on_save_creates_a_missing_bucket_once(s3_admin):
    new_bucket = f"{SESSION_PREFIX}-created-on-save"
    storage = MinioStorage(bucket_name=new_bucket, MINIO_BUCKET_CHECK_ON_SAVE=True)
    try:
        storage.save("first.txt", ContentFile(b"1"))
        assert s3_admin.bucket_exists(new_bucket)

        s3_admin.remove_bucket(new_bucket)  # behind the storage's back
        with pytest.raises(FileNotFoundError, match="bucket"):
            storage.save("second.txt", ContentFile(b"2"))  # checked once per process, not again
    finally:
        s3_admin.remove_bucket(new_bucket)


def test_without_bucket_check_a_missing_bucket_is_a_clear_error():
    storage = MinioStorage(bucket_name=f"{SESSION_PREFIX}-never-created")

    with pytest.raises(FileNotFoundError, match="No bucket"):
        storage.save("x.txt", ContentFile(b"x"))


def test_an_upload_needing_too_many_parts_is_refused_and_aborted(bucket, s3_admin, monkeypatch):
    monkeypatch.setattr(uploads, "MAX_PARTS", 2)  # S3 allows 10,000; a 16 MiB file shows it
    storage = MinioStorage(
        bucket_name=bucket, MINIO_MULTIPART_THRESHOLD=5 * MiB, MINIO_MULTIPART_PART_SIZE=5 * MiB
    )

    with pytest.raises(ValueError, match="MINIO_MULTIPART_PART_SIZE"):
        storage.save("huge.bin", ContentFile(b"h" * (16 * MiB)))

    assert s3_admin.keys(bucket) == []
    assert s3_admin.incomplete_uploads(bucket) == []


class Lying(File):
    """A file whose size attribute is wrong, as a client's Content-Length can be."""

    def __init__(self, data: bytes, claimed_size: int | None) -> None:
        super().__init__(io.BytesIO(data), name="lying.bin")
        self._claimed_size = claimed_size

    @property
    def size(self) -> int | None:  # type: ignore[override]
        return self._claimed_size


@pytest.mark.parametrize("claimed_size", [None, 0, 5, 10**9])
def test_the_size_a_file_claims_is_not_trusted(storage, claimed_size, s3_admin):
    data = os.urandom(100_000)

    name = storage.save("lying.bin", Lying(data, claimed_size))

    assert s3_admin.get(storage.bucket_name, name) == data


def test_a_file_already_read_to_the_end_is_saved_whole(storage, tmp_path):
    path = tmp_path / "read.bin"
    path.write_bytes(b"already read")
    with path.open("rb") as handle:
        handle.read()
        name = storage.save("read.bin", File(handle))

    assert storage.open(name).read() == b"already read"


class AttachmentStorage(MinioStorage):
    """Per-object headers, the way a project would add them."""

    def get_object_parameters(self, name):
        parameters = super().get_object_parameters(name)
        if name.endswith(".pdf"):
            parameters["Content-Disposition"] = "attachment"
        if name.endswith(".gz"):
            parameters["Content-Type"] = "application/json"
            parameters["Content-Encoding"] = "gzip"
        return parameters


async def test_object_parameters_are_stored_with_the_object(bucket, s3_admin, settings):
    settings.MINIO_CACHE_CONTROL = "private, max-age=600"
    storage = AttachmentStorage(bucket_name=bucket)

    await storage.asave("report.pdf", ContentFile(b"%PDF"))
    await storage.asave("data.json.gz", ContentFile(b"\x1f\x8b"))

    pdf = s3_admin.headers(bucket, "report.pdf")
    assert pdf["content-disposition"] == "attachment"
    assert pdf["cache-control"] == "private, max-age=600"
    assert pdf["content-type"] == "application/pdf"
    packed = s3_admin.headers(bucket, "data.json.gz")
    assert (packed["content-type"], packed["content-encoding"]) == ("application/json", "gzip")


async def test_media_objects_get_no_cache_header_by_default(storage, s3_admin):
    await storage.asave("plain.txt", ContentFile(b"x"))

    assert "cache-control" not in s3_admin.headers(storage.bucket_name, "plain.txt")


async def test_a_header_value_with_a_line_break_is_refused(bucket, s3_admin):
    class Injecting(MinioStorage):
        def get_object_parameters(self, name):
            return {"Cache-Control": "no-cache\r\nX-Evil: 1"}

    with pytest.raises(ValueError, match="one-line text"):
        await Injecting(bucket_name=bucket).asave("a.txt", ContentFile(b"x"))
    assert s3_admin.keys(bucket) == []


async def test_header_values_are_signed_as_the_server_reads_them(bucket, s3_admin):
    # Servers sign a header value trimmed, with runs of spaces collapsed to one: a value
    # signed as sent would be refused (SignatureDoesNotMatch).
    class Spacious(MinioStorage):
        def get_object_parameters(self, name):
            return {"Content-Disposition": 'attachment;   filename="a  b.txt" '}

    await Spacious(bucket_name=bucket).asave("a.txt", ContentFile(b"x"))

    assert s3_admin.get(bucket, "a.txt") == b"x"
    assert s3_admin.headers(bucket, "a.txt")["content-disposition"].startswith("attachment;")


@pytest.mark.parametrize(
    "parameters",
    [
        {"Cache-Control": "no-cache", "cache-control": "max-age=60"},  # one header, twice
        {"Cache Control": "no-cache"},  # not a header name
        {"X-Amz-Meta-Note:": "x"},
    ],
)
async def test_object_parameters_that_are_not_headers_are_refused(bucket, s3_admin, parameters):
    class Confused(MinioStorage):
        def get_object_parameters(self, name):
            return parameters

    with pytest.raises(ValueError, match="get_object_parameters"):
        await Confused(bucket_name=bucket).asave("a.txt", ContentFile(b"x"))
    assert s3_admin.keys(bucket) == []
