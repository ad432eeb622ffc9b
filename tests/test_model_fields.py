"""Standard model FileFields, saved from sync code and from async views."""

from __future__ import annotations

import urllib.request
from datetime import UTC
from datetime import datetime

import pytest
from asgiref.sync import sync_to_async
from django.core.exceptions import SuspiciousFileOperation
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db.migrations.writer import MigrationWriter

from async_minio_storage import iso_date_prefix
from tests.testapp.models import Attachment

pytestmark = pytest.mark.django_db(transaction=True)


def today() -> str:
    return datetime.now(UTC).date().isoformat()


def test_iso_date_prefix_puts_files_under_todays_date():
    assert iso_date_prefix(None, "photo.jpg") == f"{today()}/photo.jpg"


def test_a_model_saves_its_file_through_the_storage(media_bucket, s3_admin):
    attachment = Attachment.objects.create(
        file=SimpleUploadedFile("contract.pdf", b"%PDF-1.7", content_type="application/pdf")
    )

    assert attachment.file.name == f"{today()}/contract.pdf"
    assert s3_admin.get(media_bucket, attachment.file.name) == b"%PDF-1.7"
    assert s3_admin.content_type(media_bucket, attachment.file.name) == "application/pdf"
    assert attachment.file.size == 8
    assert urllib.request.urlopen(attachment.file.url).read() == b"%PDF-1.7"


def test_the_same_upload_twice_gets_two_names(media_bucket):
    first = Attachment.objects.create(file=SimpleUploadedFile("a.txt", b"1"))
    second = Attachment.objects.create(file=SimpleUploadedFile("a.txt", b"2"))

    assert first.file.name != second.file.name
    assert first.file.read() == b"1"
    assert second.file.read() == b"2"


def test_a_file_field_file_reads_and_reopens(media_bucket):
    attachment = Attachment.objects.create(file=ContentFile(b"line 1\nline 2\n", name="log.txt"))
    attachment = Attachment.objects.get(pk=attachment.pk)

    with attachment.file.open("rb") as file:
        assert list(file) == [b"line 1\n", b"line 2\n"]
    attachment.file.open()
    assert attachment.file.read() == b"line 1\nline 2\n"


def test_deleting_the_file_removes_the_object(media_bucket, s3_admin):
    attachment = Attachment.objects.create(file=ContentFile(b"bye", name="bye.txt"))
    name = attachment.file.name

    attachment.file.delete()

    assert name not in s3_admin.keys(media_bucket)
    assert not attachment.file


def test_a_traversing_file_name_is_refused_and_nothing_is_stored(media_bucket, s3_admin):
    attachment = Attachment(file=None)

    with pytest.raises(SuspiciousFileOperation):
        attachment.file.save("../escape.txt", ContentFile(b"x"), save=False)

    assert s3_admin.keys(media_bucket) == []


async def test_an_async_view_saves_a_model_with_a_file(media_bucket, s3_admin):
    attachment = Attachment(file=SimpleUploadedFile("async.txt", b"from an async view"))

    await attachment.asave()  # Django runs save() in a sync_to_async thread

    assert attachment.file.name == f"{today()}/async.txt"
    assert s3_admin.get(media_bucket, attachment.file.name) == b"from an async view"
    assert await attachment.file.storage.asize(attachment.file.name) == 18


async def test_an_async_view_uploads_first_and_then_saves_the_row(media_bucket):
    storage = Attachment._meta.get_field("file").storage
    name = await storage.asave(iso_date_prefix(None, "direct.txt"), ContentFile(b"direct"))

    attachment = await sync_to_async(Attachment.objects.create)(file=name)

    assert attachment.file.name == name
    assert "X-Amz-Signature=" in attachment.file.url


def test_a_storage_callable_keeps_migrations_free_of_bucket_names():
    field = Attachment._meta.get_field("file")

    _, _, _, kwargs = field.deconstruct()
    serialized, _ = MigrationWriter.serialize(kwargs["storage"])

    assert serialized == "tests.testapp.models.private_storage"
