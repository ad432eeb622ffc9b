"""``manage.py clean_orphaned_minio_files``: objects no row refers to are deleted, nothing else.

Against the real server. ``Attachment`` and ``AsyncAttachment`` store in the media bucket;
``Document`` in a bucket of its own when a test asks for one (``documents_bucket``), else in
the media bucket too; ``StaticAsset`` points (wrongly) at the static bucket.
"""

from __future__ import annotations

import asyncio
import io
import time
from collections.abc import Iterator
from datetime import UTC
from datetime import datetime
from datetime import timedelta

import pytest
from django.core.files.base import ContentFile
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import override_settings

from async_minio_storage import MinioStorage
from async_minio_storage import orphans
from async_minio_storage.bulk import batches
from async_minio_storage.client import get_connection
from async_minio_storage.management.commands import clean_orphaned_minio_files
from async_minio_storage.orphans import Inventory
from async_minio_storage.orphans import Verdict
from async_minio_storage.orphans import reference_key
from async_minio_storage.orphans import verdict
from async_minio_storage.sync_edge import run_on_own_loop
from async_minio_storage.uploads_cleanup import UploadsReport
from async_minio_storage.uploads_cleanup import UploadVerdict
from async_minio_storage.uploads_cleanup import find_upload_targets
from async_minio_storage.uploads_cleanup import upload_verdict
from async_minio_storage.wire import IncompleteUpload
from async_minio_storage.wire import ObjectRecord
from async_minio_storage.wire import abort_multipart_upload
from async_minio_storage.wire import list_incomplete_uploads
from tests.conftest import MEDIA_BUCKET
from tests.conftest import STATIC_BUCKET
from tests.conftest import run
from tests.fault_proxy import FaultProxy
from tests.s3_server import free_ports
from tests.testapp.models import AsyncAttachment
from tests.testapp.models import Attachment
from tests.testapp.models import Document

pytestmark = pytest.mark.django_db(transaction=True)

COMMAND = "clean_orphaned_minio_files"
NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
CUTOFF = NOW - timedelta(hours=1)


def clean(*arguments: str) -> str:
    """Run the command; return what it printed on stdout."""
    out = io.StringIO()
    call_command(COMMAND, *arguments, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def clean_with_stderr(*arguments: str) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command(COMMAND, *arguments, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def line_for(output: str, bucket: str) -> str:
    """The bucket's report line (not its progress lines, which end in "...")."""
    lines = output.splitlines()
    (line,) = [line for line in lines if line.startswith(f"{bucket}:") and not line.endswith("...")]
    return line


@pytest.fixture
def documents_bucket(bucket: str) -> Iterator[str]:
    """A pooled bucket for ``Document`` alone."""
    with override_settings(TESTAPP_DOCUMENTS_BUCKET=bucket):
        yield bucket


# --- the rules, without a server ------------------------------------------------------------


def stored(key: str, age: timedelta = timedelta(days=1), size: int = 1) -> ObjectRecord:
    return ObjectRecord(key, size, etag=None, last_modified=NOW - age)


def test_an_unreferenced_object_older_than_the_cutoff_is_an_orphan():
    assert verdict(stored("a.txt"), {}, CUTOFF) is Verdict.ORPHAN


def test_a_referenced_object_is_kept_however_old():
    assert verdict(stored("a.txt"), {"a.txt": "app.Model.file"}, CUTOFF) is Verdict.REFERENCED


def test_an_unreferenced_object_newer_than_the_cutoff_is_kept():
    assert verdict(stored("a.txt", timedelta(minutes=5)), {}, CUTOFF) is Verdict.TOO_NEW


def test_an_object_of_unknown_age_is_kept():
    assert (
        verdict(ObjectRecord("a.txt", 1, etag=None, last_modified=None), {}, CUTOFF)
        is Verdict.TOO_NEW
    )


def test_a_directory_marker_is_not_a_file():
    assert verdict(stored("folder/"), {}, CUTOFF) is Verdict.DIRECTORY_MARKER


def test_field_values_become_the_keys_the_storage_wrote():
    assert reference_key("2026-01-01/a.txt") == "2026-01-01/a.txt"
    assert reference_key("docs\\a.txt") == "docs/a.txt"
    assert reference_key("") is None
    assert reference_key(None) is None


def test_a_row_whose_name_is_refused_today_still_protects_its_object():
    # Names with C1 control characters were stored before they were refused.
    old_name = "reports/a\x85b.pdf"

    assert reference_key(old_name) == old_name
    assert verdict(stored(old_name), {old_name: "app.Report.file"}, CUTOFF) is Verdict.REFERENCED


def test_a_row_written_during_the_listing_keeps_its_object():
    inventory = Inventory(references_before={})
    inventory.add(stored("new-row.txt"))

    judgement = inventory.judge({"new-row.txt": "app.Model.file"}, CUTOFF)

    assert judgement.orphans == []
    assert judgement.referenced == 1


def test_only_unreferenced_objects_are_kept_in_memory_while_listing():
    inventory = Inventory(references_before={"kept.txt": "app.Model.file"})
    for key in ["kept.txt", "orphan.txt", "folder/"]:
        inventory.add(stored(key))

    assert inventory.unreferenced == [stored("orphan.txt")]
    assert inventory.listed == 3
    assert inventory.directory_markers == 1


def test_missing_references_are_found_from_the_listing():
    references = {"here.txt": "app.A.file", "gone.txt": "app.A.file", "late.txt": "app.B.file"}
    inventory = Inventory(references_before={"here.txt": "app.A.file", "gone.txt": "app.A.file"})
    inventory.add(stored("here.txt"))
    inventory.add(stored("late.txt"))

    judgement = inventory.judge(references, CUTOFF)

    assert judgement.missing == [("gone.txt", "app.A.file")]


def test_deletions_go_in_batches_of_at_most_the_size():
    assert [len(batch) for batch in batches(list(range(2500)), 1000)] == [1000, 1000, 500]


# --- the command, against the server --------------------------------------------------------


def arrange_media(s3_admin, media_bucket) -> None:
    """Two rows of two models referring to two objects, and two orphans."""
    for key in ["att/kept.txt", "async/kept.txt", "orphan-1.txt", "deep/orphan-2.txt"]:
        s3_admin.put(media_bucket, key, b"12345")
    Attachment.objects.create(file="att/kept.txt")
    AsyncAttachment.objects.create(file="async/kept.txt")


def test_a_dry_run_reports_the_orphans_and_deletes_nothing(media_bucket, s3_admin):
    arrange_media(s3_admin, media_bucket)
    before = s3_admin.keys(media_bucket)

    output = clean("--dry-run", "--min-age", "0", "-v", "2")

    assert s3_admin.keys(media_bucket) == before
    assert "2 orphaned" in line_for(output, media_bucket)
    assert "2 would be deleted (10 bytes)" in line_for(output, media_bucket)
    assert "  orphan: orphan-1.txt (5 bytes)" in output
    assert "  orphan: deep/orphan-2.txt (5 bytes)" in output
    assert "Would delete 2 orphaned objects" in output


def test_a_run_deletes_exactly_the_orphans(media_bucket, s3_admin):
    arrange_media(s3_admin, media_bucket)

    output = clean("--min-age", "0")

    assert s3_admin.keys(media_bucket) == ["async/kept.txt", "att/kept.txt"]
    line = line_for(output, media_bucket)
    assert "4 objects listed, 2 referenced, 2 orphaned" in line
    assert "2 deleted (10 bytes freed)" in line
    assert "Deleted 2 of 2 orphaned objects (10 bytes freed)" in output


def test_objects_newer_than_the_minimum_age_are_kept(media_bucket, s3_admin):
    arrange_media(s3_admin, media_bucket)
    before = s3_admin.keys(media_bucket)

    output = clean()  # the default --min-age: one hour

    assert s3_admin.keys(media_bucket) == before
    assert "0 orphaned, 2 kept as newer than 3600 s" in line_for(output, media_bucket)


def test_directory_markers_are_left_alone(media_bucket, s3_admin):
    s3_admin.put(media_bucket, "folder/", b"")

    output = clean("--min-age", "0")

    assert "folder/" in s3_admin.keys(media_bucket)
    assert "1 directory markers left; 0 deleted" in line_for(output, media_bucket)


def test_check_missing_reports_a_row_whose_object_is_gone(media_bucket, s3_admin):
    s3_admin.put(media_bucket, "here.txt", b"x")
    Attachment.objects.create(file="here.txt")
    Attachment.objects.create(file="2026-01-01/gone.pdf")

    output = clean("--check-missing", "--dry-run")

    assert "  missing: 2026-01-01/gone.pdf (referred to by testapp.Attachment.file)" in output
    assert "here.txt" not in output
    assert "1 referenced object(s) missing." in output


def test_keys_are_compared_within_their_bucket(media_bucket, documents_bucket, s3_admin):
    s3_admin.put(media_bucket, "shared/report.pdf", b"media")
    s3_admin.put(documents_bucket, "shared/report.pdf", b"documents")
    Attachment.objects.create(file="shared/report.pdf")  # no Document refers to it

    clean("--min-age", "0")

    assert s3_admin.keys(media_bucket) == ["shared/report.pdf"]
    assert s3_admin.keys(documents_bucket) == []


def test_bucket_restricts_the_run_to_the_named_buckets(media_bucket, documents_bucket, s3_admin):
    s3_admin.put(media_bucket, "orphan.txt", b"x")
    s3_admin.put(documents_bucket, "orphan.txt", b"x")

    output = clean("--min-age", "0", "--bucket", documents_bucket)

    assert s3_admin.keys(media_bucket) == ["orphan.txt"]
    assert s3_admin.keys(documents_bucket) == []
    assert f"{media_bucket}:" not in output


def test_an_unknown_bucket_is_refused(media_bucket):
    with pytest.raises(CommandError, match=r"No FileField stores in bucket.*no-such-bucket"):
        clean("--bucket", "no-such-bucket")


def test_a_negative_minimum_age_is_refused(media_bucket):
    with pytest.raises(CommandError, match="min-age"):
        clean("--min-age", "-1")


def test_keys_under_a_kept_prefix_are_never_deleted(media_bucket, s3_admin):
    for key in ["exports/2026-11.csv", "exports/deep/old.csv", "orphan.txt", "exportsX.txt"]:
        s3_admin.put(media_bucket, key, b"x")

    output = clean("--min-age", "0", "--keep-prefix", "exports/")

    assert s3_admin.keys(media_bucket) == ["exports/2026-11.csv", "exports/deep/old.csv"]
    assert "2 kept by --keep-prefix; 2 deleted" in line_for(output, media_bucket)


def test_a_kept_key_is_not_reported_missing(media_bucket, s3_admin):
    s3_admin.put(media_bucket, "exports/report.csv", b"x")
    Attachment.objects.create(file="exports/report.csv")

    output = clean("--check-missing", "--dry-run", "--keep-prefix", "exports/")

    assert "0 referenced object(s) missing." in output


def test_an_empty_kept_prefix_is_refused(media_bucket):
    with pytest.raises(CommandError, match="--keep-prefix needs a prefix"):
        clean("--keep-prefix", "/")


def test_thousands_of_objects_are_listed_and_deleted_in_pages(
    documents_bucket, s3_admin, monkeypatch
):
    monkeypatch.setattr(orphans, "PROGRESS_EVERY", 1000)
    storage = MinioStorage(bucket_name=documents_bucket)
    names = [f"bulk/{number:04}.txt" for number in range(2500)]

    async def upload() -> list[str]:
        return await asyncio.gather(*(storage.asave(name, ContentFile(b"abc")) for name in names))

    assert run_on_own_loop(upload()) == names
    referenced = names[::5] + names[1::5]  # 1000 of them
    Document.objects.bulk_create(Document(file=name) for name in referenced)

    started = time.monotonic()
    output = clean("--min-age", "0")
    elapsed = time.monotonic() - started

    assert f"{documents_bucket}: 1,000 objects listed..." in output
    assert f"{documents_bucket}: 2,000 objects listed..." in output
    line = line_for(output, documents_bucket)
    assert "2500 objects listed, 1000 referenced, 1500 orphaned" in line
    assert "1500 deleted (4.4 KB freed)" in line
    assert s3_admin.keys(documents_bucket) == sorted(referenced)
    print(f"2,500 objects listed and 1,500 deleted in {elapsed:.2f} s")


def test_the_static_bucket_is_never_touched(media_bucket, static_bucket, s3_admin):
    s3_admin.put(static_bucket, "css/site.css", b"body{}")  # StaticAsset has no row for it

    output, errors = clean_with_stderr("--min-age", "0")

    assert s3_admin.keys(static_bucket) == ["css/site.css"]
    assert f"Skipping bucket {static_bucket} of testapp.StaticAsset.file" in errors
    assert f"{static_bucket}:" not in output


def test_a_media_bucket_that_is_the_static_bucket_is_not_cleaned(static_bucket, s3_admin):
    s3_admin.put(static_bucket, "css/site.css", b"body{}")

    with override_settings(MINIO_MEDIA_FILES_BUCKET=STATIC_BUCKET):
        output, errors = clean_with_stderr("--min-age", "0")

    assert s3_admin.keys(static_bucket) == ["css/site.css"]
    assert f"Skipping bucket {static_bucket} of testapp.Attachment.file" in errors
    assert "No bucket to clean: the buckets in question hold static files." in output


def test_asking_for_the_static_bucket_cleans_nothing(media_bucket, static_bucket, s3_admin):
    s3_admin.put(static_bucket, "css/site.css", b"body{}")
    s3_admin.put(media_bucket, "orphan.txt", b"x")

    output = clean("--min-age", "0", "--bucket", static_bucket)

    assert s3_admin.keys(static_bucket) == ["css/site.css"]
    assert s3_admin.keys(media_bucket) == ["orphan.txt"]
    assert "No bucket to clean: the buckets in question hold static files." in output


def test_a_server_that_cannot_be_reached_exits_non_zero(media_bucket):
    (closed_port,) = free_ports(1)

    with (
        override_settings(MINIO_ENDPOINT=f"127.0.0.1:{closed_port}", MINIO_CONNECT_TIMEOUT=2),
        pytest.raises(CommandError, match=r"Could not clean 1 bucket.*could not be reached"),
    ):
        clean("--min-age", "0")


def test_a_failed_delete_exits_non_zero_and_counts_nothing_deleted(
    media_bucket, s3_admin, s3_server
):
    s3_admin.put(media_bucket, "orphan.txt", b"x")
    out = io.StringIO()

    with FaultProxy(s3_server.endpoint) as faults:
        faults.cut_every_upload(after_bytes=0)  # the listing has no body; a delete has one
        with (
            override_settings(MINIO_ENDPOINT=faults.endpoint),
            pytest.raises(CommandError, match="a delete request for 1 objects failed"),
        ):
            call_command(COMMAND, "--min-age", "0", stdout=out, stderr=io.StringIO())

    assert s3_admin.keys(media_bucket) == ["orphan.txt"]
    assert "1 orphaned" in line_for(out.getvalue(), media_bucket)
    assert "0 deleted" in line_for(out.getvalue(), media_bucket)


def test_a_row_written_while_the_bucket_is_listed_keeps_its_object(
    media_bucket, s3_admin, monkeypatch
):
    for key in ["first.txt", "second.txt"]:
        s3_admin.put(media_bucket, key, b"x")
    listing = orphans.list_bucket

    async def listing_during_which_a_row_is_written(connection, bucket):
        async for stored in listing(connection, bucket):
            yield stored
            if stored.key == "first.txt":
                await Attachment.objects.acreate(file="second.txt")

    monkeypatch.setattr(orphans, "list_bucket", listing_during_which_a_row_is_written)

    clean("--min-age", "0")

    assert s3_admin.keys(media_bucket) == ["second.txt"]


# --- --incomplete-uploads --------------------------------------------------------------------


def upload(key: str, initiated: datetime | None) -> IncompleteUpload:
    return IncompleteUpload(key, upload_id=f"id-{key}", initiated=initiated)


def test_an_upload_started_before_the_cutoff_is_stale():
    old = upload("a.bin", CUTOFF - timedelta(seconds=1))

    assert upload_verdict(old, CUTOFF, abort_unknown_age=False) is UploadVerdict.STALE


def test_an_upload_started_after_the_cutoff_is_too_new():
    new = upload("a.bin", CUTOFF + timedelta(seconds=1))

    assert upload_verdict(new, CUTOFF, abort_unknown_age=True) is UploadVerdict.TOO_NEW


def test_an_upload_of_unknown_start_time_is_kept_unless_there_is_no_minimum_age():
    unknown = upload("a.bin", None)

    assert upload_verdict(unknown, CUTOFF, abort_unknown_age=False) is UploadVerdict.UNKNOWN_AGE
    assert upload_verdict(unknown, CUTOFF, abort_unknown_age=True) is UploadVerdict.STALE


def test_an_upload_under_a_kept_prefix_is_kept_however_old():
    old = upload("exports/a.csv", CUTOFF - timedelta(days=30))

    assert (
        upload_verdict(old, CUTOFF, abort_unknown_age=True, kept_prefixes=("exports/",))
        is UploadVerdict.KEPT_BY_PREFIX
    )


def test_uploads_of_unknown_start_time_are_counted_and_explained():
    """The output for a server that writes upload times without an offset (the one the suite
    runs gives them): nothing to arrange on it, so the report is built here."""
    report = UploadsReport("media", "s3:9000", dry_run=False, found=3, aborted=1)
    report.stale = [upload("old.bin", NOW - timedelta(days=2))]
    report.kept = [
        (upload("unknown.bin", None), UploadVerdict.UNKNOWN_AGE),
        (upload("new.bin", NOW), UploadVerdict.TOO_NEW),
    ]
    out = io.StringIO()
    command = clean_orphaned_minio_files.Command(stdout=out, stderr=io.StringIO())
    command.verbosity, command.min_age = 2, timedelta(hours=1)
    command.labels = {("s3:9000", "media"): "media"}

    command.print_uploads_report(report)
    command.print_uploads_summary([report], dry_run=False)

    assert out.getvalue().splitlines() == [
        "media: 3 incomplete uploads found; 1 aborted, 1 kept as newer than 3600 s, "
        "1 kept: start time unknown, 0 error(s).",
        "  aborted: old.bin (upload id-old.bin, started 2025-12-30T12:00:00+00:00)",
        "  kept, start time unknown: unknown.bin (upload id-unknown.bin, start time unknown)",
        "  kept, too new: new.bin (upload id-new.bin, started 2026-01-01T12:00:00+00:00)",
        "Aborted 1 of 3 incomplete uploads in 1 bucket(s).",
        "1 incomplete upload(s) kept: start time unknown (the server wrote it without a time "
        "zone, so it cannot be compared with --min-age). --min-age 0 aborts them, and any "
        "upload still in progress.",
    ]


def test_the_upload_pass_covers_the_static_bucket_and_every_fields_bucket(documents_bucket):
    buckets = [target.bucket for target in find_upload_targets()]

    assert sorted(buckets) == sorted([MEDIA_BUCKET, documents_bucket, STATIC_BUCKET])


class Uploads:
    """Incomplete uploads a test starts, read back through the package's own listing, and
    aborted when the test ends, before its buckets go back to their pools (``S3Admin`` lists
    them with miniopy-async, which cannot parse the times SeaweedFS writes with an offset)."""

    def __init__(self, admin) -> None:
        self.admin = admin
        self.buckets: set[str] = set()

    def start(self, bucket: str, *keys: str) -> list[str]:
        """Start a multipart upload of each key, and send nothing more; their upload ids."""
        self.buckets.add(bucket)

        async def start() -> list[str]:
            async with self.admin._client() as client:
                return [await client._create_multipart_upload(bucket, key, {}) for key in keys]

        return run(start())

    def listed(self, bucket: str) -> list[IncompleteUpload]:
        async def listed() -> list[IncompleteUpload]:
            connection = await get_connection(MinioStorage(bucket_name=bucket).config.connection)
            return await list_incomplete_uploads(connection, bucket)

        return run_on_own_loop(listed())

    def keys(self, bucket: str) -> list[str]:
        return sorted(found.key for found in self.listed(bucket))

    def start_times_known(self, bucket: str) -> bool:
        listed = self.listed(bucket)
        assert listed, "no upload to tell from"
        return all(found.initiated is not None for found in listed)

    def abort_all(self) -> None:
        async def abort(bucket: str, found: IncompleteUpload) -> None:
            connection = await get_connection(MinioStorage(bucket_name=bucket).config.connection)
            await abort_multipart_upload(connection, bucket, found.key, found.upload_id)

        for bucket in self.buckets:
            for found in self.listed(bucket):
                run_on_own_loop(abort(bucket, found))


@pytest.fixture
def uploads(s3_admin) -> Iterator[Uploads]:
    """Ask for it after the bucket fixtures, so that it is torn down before them."""
    started = Uploads(s3_admin)
    yield started
    started.abort_all()


def test_incomplete_uploads_dry_run_reports_them_and_aborts_nothing(documents_bucket, uploads):
    ids = uploads.start(documents_bucket, "big/one.bin", "two.bin")

    output = clean(
        "--incomplete-uploads", "--dry-run", "--min-age", "0", "--bucket", documents_bucket, "-v2"
    )

    assert uploads.keys(documents_bucket) == ["big/one.bin", "two.bin"]
    assert line_for(output, documents_bucket) == (
        f"{documents_bucket}: 2 incomplete uploads found; 2 would be aborted, 0 kept as newer "
        "than 0 s, 0 kept: start time unknown, 0 error(s)."
    )
    assert f"  would abort: big/one.bin (upload {ids[0]}, started " in output
    assert f"  would abort: two.bin (upload {ids[1]}, started " in output
    assert "Would abort 2 of 2 incomplete uploads in 1 bucket(s); nothing was aborted" in output


def test_incomplete_uploads_are_aborted_and_objects_left_alone(documents_bucket, s3_admin, uploads):
    s3_admin.put(documents_bucket, "orphan.txt", b"no row refers to me")
    uploads.start(documents_bucket, "big/one.bin", "two.bin", "two.bin")

    output = clean("--incomplete-uploads", "--min-age", "0", "--bucket", documents_bucket)

    assert uploads.keys(documents_bucket) == []
    assert s3_admin.incomplete_uploads(documents_bucket) == []
    assert s3_admin.keys(documents_bucket) == ["orphan.txt"]  # only the upload pass ran
    assert line_for(output, documents_bucket) == (
        f"{documents_bucket}: 3 incomplete uploads found; 3 aborted, 0 kept as newer than 0 s, "
        "0 kept: start time unknown, 0 error(s)."
    )
    assert "Aborted 3 of 3 incomplete uploads in 1 bucket(s)." in output
    assert "orphaned" not in output


def test_incomplete_uploads_newer_than_the_minimum_age_are_kept(documents_bucket, uploads):
    uploads.start(documents_bucket, "one.bin", "two.bin")
    known = uploads.start_times_known(documents_bucket)

    output = clean("--incomplete-uploads", "--min-age", "86400", "--bucket", documents_bucket)

    assert uploads.keys(documents_bucket) == ["one.bin", "two.bin"]
    too_new, unknown = (2, 0) if known else (0, 2)
    assert line_for(output, documents_bucket) == (
        f"{documents_bucket}: 2 incomplete uploads found; 0 aborted, {too_new} kept as newer "
        f"than 86400 s, {unknown} kept: start time unknown, 0 error(s)."
    )
    assert "Aborted 0 of 2 incomplete uploads in 1 bucket(s)." in output


def test_incomplete_uploads_in_the_static_bucket_are_aborted(static_bucket, s3_admin, uploads):
    s3_admin.put(static_bucket, "css/site.css", b"body{}")
    uploads.start(static_bucket, "css/big.css")

    output, errors = clean_with_stderr(
        "--incomplete-uploads", "--min-age", "0", "--bucket", static_bucket
    )

    assert uploads.keys(static_bucket) == []
    assert s3_admin.keys(static_bucket) == ["css/site.css"]
    assert "1 incomplete uploads found; 1 aborted" in line_for(output, static_bucket)
    assert "Skipping" not in errors


def test_incomplete_uploads_under_a_kept_prefix_are_kept(documents_bucket, uploads):
    uploads.start(documents_bucket, "exports/2026-11.csv", "big.bin")

    output = clean(
        "--incomplete-uploads",
        "--min-age",
        "0",
        "--keep-prefix",
        "exports/",
        "--bucket",
        documents_bucket,
    )

    assert uploads.keys(documents_bucket) == ["exports/2026-11.csv"]
    line = line_for(output, documents_bucket)
    assert "2 incomplete uploads found; 1 aborted" in line
    assert "1 kept by --keep-prefix, 0 error(s)." in line


def test_a_refused_abort_exits_non_zero_and_the_other_uploads_are_aborted(
    documents_bucket, s3_server, uploads
):
    uploads.start(documents_bucket, "one.bin", "two.bin")
    out = io.StringIO()

    with FaultProxy(s3_server.endpoint) as faults:
        faults.answer_next(1, status=403, method="DELETE")  # the listing is a GET
        with (
            override_settings(MINIO_ENDPOINT=faults.endpoint),
            pytest.raises(CommandError, match=r"Could not clean 1 bucket.*could not abort upload"),
        ):
            call_command(
                COMMAND,
                "--incomplete-uploads",
                "--min-age",
                "0",
                "--bucket",
                documents_bucket,
                stdout=out,
                stderr=io.StringIO(),
            )

    assert len(uploads.keys(documents_bucket)) == 1
    line = line_for(out.getvalue(), documents_bucket)
    assert "2 incomplete uploads found; 1 aborted" in line
    assert "1 error(s)." in line
    assert "Aborted 1 of 2 incomplete uploads" in out.getvalue()


def test_incomplete_uploads_on_a_server_that_cannot_be_reached_exit_non_zero(documents_bucket):
    (closed_port,) = free_ports(1)

    with (
        override_settings(MINIO_ENDPOINT=f"127.0.0.1:{closed_port}", MINIO_CONNECT_TIMEOUT=2),
        pytest.raises(
            CommandError, match=r"Could not clean 1 bucket.*listing the incomplete uploads failed"
        ),
    ):
        clean("--incomplete-uploads", "--min-age", "0", "--bucket", documents_bucket)


def test_check_missing_is_refused_with_incomplete_uploads(media_bucket):
    with pytest.raises(CommandError, match="--check-missing has no meaning"):
        clean("--incomplete-uploads", "--check-missing")


def test_an_unknown_bucket_is_refused_with_incomplete_uploads(media_bucket):
    with pytest.raises(CommandError, match=r"No FileField or configured storage.*no-such-bucket"):
        clean("--incomplete-uploads", "--bucket", "no-such-bucket")
