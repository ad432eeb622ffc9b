"""``async_minio_storage.fields.FileField``: model files saved, deleted and read with ``await``."""

from __future__ import annotations

from datetime import UTC
from datetime import datetime

import pytest
from django.core.files.base import ContentFile
from django.db.migrations.writer import MigrationWriter

from async_minio_storage import AsyncMinioFile
from tests.testapp.models import AsyncAttachment
from tests.testapp.models import LocalAttachment

pytestmark = pytest.mark.django_db(transaction=True)


def today() -> str:
    return datetime.now(UTC).date().isoformat()


async def test_asave_uploads_then_saves_the_instance(media_bucket, s3_admin):
    attachment = AsyncAttachment()

    await attachment.file.asave("notes.txt", ContentFile(b"awaited all the way"))

    assert attachment.pk is not None
    assert attachment.file.name == f"{today()}/notes.txt"
    assert s3_admin.get(media_bucket, attachment.file.name) == b"awaited all the way"
    stored = await AsyncAttachment.objects.aget(pk=attachment.pk)
    assert stored.file.name == attachment.file.name


async def test_asave_without_saving_the_instance(media_bucket):
    attachment = AsyncAttachment()

    await attachment.file.asave("draft.txt", ContentFile(b"draft"), save=False)

    assert attachment.pk is None
    assert attachment.file.name == f"{today()}/draft.txt"


async def test_aurl_asize_and_aopen(media_bucket):
    attachment = AsyncAttachment()
    await attachment.file.asave("photo.txt", ContentFile(b"12345"))

    url = await attachment.file.aurl()
    size = await attachment.file.asize()
    async with await attachment.file.aopen() as file:
        assert isinstance(file, AsyncMinioFile)
        content = await file.read()

    assert "X-Amz-Signature=" in url
    assert size == 5
    assert content == b"12345"


async def test_adelete_removes_the_object_and_clears_the_field(media_bucket, s3_admin):
    attachment = AsyncAttachment()
    await attachment.file.asave("old.txt", ContentFile(b"old"))
    name = attachment.file.name

    await attachment.file.adelete()

    assert name not in s3_admin.keys(media_bucket)
    assert not attachment.file
    stored = await AsyncAttachment.objects.aget(pk=attachment.pk)
    assert not stored.file


async def test_file_operations_without_a_file_raise_as_django_does(media_bucket):
    attachment = AsyncAttachment()

    with pytest.raises(ValueError, match="no file associated"):
        await attachment.file.aurl()
    await attachment.file.adelete()  # nothing to delete: no error, as Django


async def test_a_new_file_is_committed_by_the_models_asave(media_bucket, s3_admin):
    attachment = AsyncAttachment(file=ContentFile(b"via pre_save", name="pre.txt"))

    await attachment.asave()  # Django's pre_save stores uncommitted files

    assert attachment.file.name == f"{today()}/pre.txt"
    assert s3_admin.get(media_bucket, attachment.file.name) == b"via pre_save"


async def test_deleting_the_instance_keeps_the_file_as_django_does(media_bucket, s3_admin):
    attachment = AsyncAttachment()
    await attachment.file.asave("kept.txt", ContentFile(b"kept"))

    await attachment.adelete()

    assert attachment.file.name in s3_admin.keys(media_bucket)


async def test_a_storage_without_async_methods_runs_in_a_thread(settings):
    attachment = LocalAttachment()

    await attachment.file.asave("local.txt", ContentFile(b"on disk"))

    assert attachment.file.name == "local/local.txt"
    assert await attachment.file.asize() == 7
    assert (await attachment.file.aurl()).endswith("local/local.txt")
    await attachment.file.adelete()
    assert not attachment.file


def test_synchronous_use_is_unchanged(media_bucket, s3_admin):
    attachment = AsyncAttachment()

    attachment.file.save("sync.txt", ContentFile(b"sync"))

    assert attachment.pk is not None
    assert s3_admin.get(media_bucket, attachment.file.name) == b"sync"
    assert attachment.file.size == 4


def test_the_field_serialises_for_migrations():
    field = AsyncAttachment._meta.get_field("file")

    path, _, kwargs = field.deconstruct()[1:]
    serialized, imports = MigrationWriter.serialize(field)

    assert path == "async_minio_storage.fields.FileField"
    assert kwargs["upload_to"].__name__ == "iso_date_prefix"
    assert serialized.startswith("async_minio_storage.fields.FileField(")
    assert "import async_minio_storage.fields" in imports
