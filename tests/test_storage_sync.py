"""The synchronous Storage API, as Django, the admin and management commands call it."""

from __future__ import annotations

import io
import urllib.request
from datetime import UTC
from datetime import datetime
from datetime import timedelta
from unittest import mock

import pytest
from django.core.files.base import ContentFile
from django.core.files.base import File
from django.test import override_settings

from async_minio_storage import MinioFile
from async_minio_storage import MinioStorage
from async_minio_storage import sync_edge


def test_save_returns_the_name_and_stores_the_bytes(storage, s3_admin):
    name = storage.save("notes/hello.txt", ContentFile(b"hello world"))

    assert name == "notes/hello.txt"
    assert s3_admin.get(storage.bucket_name, "notes/hello.txt") == b"hello world"


def test_save_guesses_the_content_type_from_the_name(storage, s3_admin):
    storage.save("page.html", ContentFile(b"<p>hi</p>"))
    storage.save("data.unknownext", ContentFile(b"?"))

    assert s3_admin.content_type(storage.bucket_name, "page.html") == "text/html"
    assert (
        s3_admin.content_type(storage.bucket_name, "data.unknownext") == "application/octet-stream"
    )


def test_saving_a_taken_name_keeps_the_old_object_and_stores_under_a_new_name(storage, s3_admin):
    first = storage.save("report.pdf", ContentFile(b"first"))
    second = storage.save("report.pdf", ContentFile(b"second"))

    assert first == "report.pdf"
    assert second != first
    assert second.startswith("report_")
    assert second.endswith(".pdf")
    assert s3_admin.get(storage.bucket_name, first) == b"first"
    assert s3_admin.get(storage.bucket_name, second) == b"second"


def test_replace_existing_overwrites_the_object(bucket, s3_admin):
    storage = MinioStorage(bucket_name=bucket, replace_existing=True)

    storage.save("avatar.png", ContentFile(b"old"))
    name = storage.save("avatar.png", ContentFile(b"new"))

    assert name == "avatar.png"
    assert s3_admin.get(bucket, "avatar.png") == b"new"


def test_save_respects_max_length_when_it_picks_an_alternative(storage):
    storage.save("a-rather-long-file-name.txt", ContentFile(b"1"))

    name = storage.save("a-rather-long-file-name.txt", ContentFile(b"2"), max_length=30)

    assert len(name) <= 30
    assert name.endswith(".txt")


def test_save_reads_from_the_start_of_a_file_already_read(storage):
    content = ContentFile(b"whole content")
    content.read()

    name = storage.save("rewound.txt", content)

    assert storage.open(name).read() == b"whole content"


def test_save_accepts_a_plain_file_object(storage, tmp_path):
    path = tmp_path / "on-disk.bin"
    path.write_bytes(b"\x00\x01" * 1000)

    with path.open("rb") as handle:
        name = storage.save("on-disk.bin", File(handle))

    assert storage.size(name) == 2000


def test_exists_size_and_delete(storage):
    storage.save("a.txt", ContentFile(b"12345"))

    assert storage.exists("a.txt")
    assert storage.size("a.txt") == 5
    storage.delete("a.txt")
    assert not storage.exists("a.txt")


def test_deleting_a_missing_object_does_nothing(storage):
    storage.delete("never-was.txt")


def test_missing_objects_raise_file_not_found(storage):
    with pytest.raises(FileNotFoundError):
        storage.open("missing.txt")
    with pytest.raises(FileNotFoundError):
        storage.size("missing.txt")
    with pytest.raises(FileNotFoundError):
        storage.get_modified_time("missing.txt")


def test_open_returns_a_django_file_that_reads_in_pieces(storage):
    storage.save("letters.txt", ContentFile(b"abcdefghij"))

    with storage.open("letters.txt") as file:
        assert isinstance(file, MinioFile)
        assert file.size == 10
        assert file.read(3) == b"abc"
        assert file.read(3) == b"def"
        assert file.read() == b"ghij"
        assert file.read() == b""


def test_open_file_chunks_cover_the_whole_object(storage):
    payload = bytes(range(256)) * 1000
    storage.save("chunks.bin", ContentFile(payload))

    with storage.open("chunks.bin") as file:
        chunks = list(file.chunks(chunk_size=10_000))

    assert b"".join(chunks) == payload
    assert {len(chunk) for chunk in chunks[:-1]} == {10_000}


def test_open_file_can_seek_back_and_forth(storage):
    storage.save("seek.txt", ContentFile(b"0123456789"))

    with storage.open("seek.txt") as file:
        file.seek(7)
        assert file.read(2) == b"78"
        file.seek(2)
        assert file.read(3) == b"234"
        assert file.tell() == 5
        file.seek(-1, io.SEEK_END)
        assert file.read() == b"9"


def test_open_file_iterates_lines_and_works_with_text_wrappers(storage):
    storage.save("lines.csv", ContentFile(b"a,b\n1,2\n"))

    with storage.open("lines.csv") as file:
        assert list(file) == [b"a,b\n", b"1,2\n"]
        file.seek(0)
        text = io.TextIOWrapper(file.file, encoding="utf-8")
        assert text.readlines() == ["a,b\n", "1,2\n"]


def test_a_closed_file_can_be_reopened(storage):
    storage.save("again.txt", ContentFile(b"again"))
    file = storage.open("again.txt")
    file.read()
    file.close()

    with file.open() as reopened:
        assert reopened.read() == b"again"


def test_files_open_read_only(storage):
    storage.save("ro.txt", ContentFile(b"x"))

    with pytest.raises(ValueError, match="rb"):
        storage.open("ro.txt", "wb")
    with storage.open("ro.txt") as file, pytest.raises(io.UnsupportedOperation):
        file.write(b"y")


def test_get_modified_time_is_aware_with_use_tz(storage):
    before = datetime.now(UTC) - timedelta(seconds=5)
    storage.save("when.txt", ContentFile(b"x"))

    modified = storage.get_modified_time("when.txt")

    assert modified.tzinfo is not None
    assert before <= modified <= datetime.now(UTC) + timedelta(seconds=5)


@override_settings(USE_TZ=False)
def test_get_modified_time_is_naive_local_time_without_use_tz(storage):
    storage.save("naive.txt", ContentFile(b"x"))

    modified = storage.get_modified_time("naive.txt")

    assert modified.tzinfo is None


def test_created_and_accessed_times_are_not_recorded_by_s3(storage):
    with pytest.raises(NotImplementedError):
        storage.get_created_time("x.txt")
    with pytest.raises(NotImplementedError):
        storage.get_accessed_time("x.txt")


def test_path_is_not_supported(storage):
    with pytest.raises(NotImplementedError):
        storage.path("x.txt")


def test_listdir_lists_one_level(storage):
    for name in ("top.txt", "docs/a.txt", "docs/b.txt", "docs/deep/c.txt", "img/x.png"):
        storage.save(name, ContentFile(b"."))

    assert storage.listdir("") == (["docs", "img"], ["top.txt"])
    assert storage.listdir("docs") == (["deep"], ["a.txt", "b.txt"])
    assert storage.listdir("docs/") == (["deep"], ["a.txt", "b.txt"])
    assert storage.listdir("nothing-here") == ([], [])


def test_url_of_a_private_object_is_presigned_and_downloads(storage):
    storage.save("secret.txt", ContentFile(b"for your eyes"))

    url = storage.url("secret.txt")

    assert "X-Amz-Signature=" in url
    assert urllib.request.urlopen(url).read() == b"for your eyes"


def test_url_of_a_public_object_is_plain_and_downloads(public_storage):
    public_storage.save("logo.txt", ContentFile(b"public bytes"))

    url = public_storage.url("logo.txt")

    assert "X-Amz" not in url
    assert urllib.request.urlopen(url).read() == b"public bytes"


def test_open_file_refuses_bad_seeks(storage):
    storage.save("seek-errors.txt", ContentFile(b"abc"))

    with storage.open("seek-errors.txt") as file:
        with pytest.raises(ValueError, match="negative"):
            file.seek(-1)
        with pytest.raises(ValueError, match="whence"):
            file.seek(0, 7)
        assert file.seek(1, io.SEEK_CUR) == 1
        assert file.read() == b"bc"


def test_reading_a_small_file_costs_one_request_and_one_trip_to_the_loop(bucket, proxy):
    storage = MinioStorage(bucket_name=bucket, MINIO_ENDPOINT=proxy.endpoint)
    storage.save("small.txt", ContentFile(b"s" * 10240))
    trips = []
    real_run = sync_edge.PortalLoop.run

    def counted(portal, coroutine):
        trips.append(coroutine.__qualname__)
        return real_run(portal, coroutine)

    with mock.patch.object(sync_edge.PortalLoop, "run", counted), storage.open("small.txt") as f:
        assert f.read() == b"s" * 10240

    assert trips == ["ObjectReader.open"]  # the read is served from what opening read
