"""Django's contract for Storage subclasses: a hook that a subclass overrides is called.

Without overrides, saving is one conditional write per candidate name (the race tests in
``test_uploads`` hold it to "no overwrite, 100 same-name saves give 100 names"). A subclass
that overrides ``get_available_name``, ``is_name_available``, ``get_alternative_name``,
``exists`` or ``_save`` is saved in Django's order instead, sync or async, with its sync
overrides called on the caller's thread (``save``) or in a worker thread (``asave``).
"""

from __future__ import annotations

import re
import threading
import uuid

import pytest
from asgiref.sync import sync_to_async
from django.core.files.base import ContentFile
from django.core.files.storage import FileSystemStorage

from async_minio_storage import MinioStaticStorage
from async_minio_storage import MinioStorage
from async_minio_storage.storage import overridden_hooks
from tests.testapp.models import AsyncAttachment
from tests.testapp.models import Attachment
from tests.testapp.models import Avatar
from tests.testapp.models import LocalAttachment
from tests.testapp.models import OverwriteStorage


class UUIDStorage(MinioStorage):
    """Names made from UUIDs, so that a customer's file name never reaches the key."""

    def get_available_name(self, name: str, max_length: int | None = None) -> str:
        extension = name.rsplit(".", 1)[-1]
        return f"uploads/{uuid.uuid4().hex}.{extension}"


class RecordingSave(MinioStorage):
    """A ``_save`` override, called with the name Django's order chose."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.saved: list[tuple[str, int]] = []

    def _save(self, name: str, content: object) -> str:
        self.saved.append((name, threading.get_ident()))
        return super()._save(name, content)


class ReservedNames(MinioStorage):
    """Django 5.1's naming hook: the name reserved/a.txt is never available."""

    def is_name_available(self, name: str, max_length: int | None = None) -> bool:
        return name != "reserved/a.txt" and super().is_name_available(name, max_length)


class OddAlternatives(MinioStorage):
    def get_alternative_name(self, file_root: str, file_ext: str) -> str:
        return f"{file_root}-again{file_ext}"


# --- which path a storage takes ------------------------------------------------------------


def test_this_packages_own_storages_keep_the_conditional_write():
    assert overridden_hooks(MinioStorage) == frozenset()
    assert overridden_hooks(MinioStaticStorage) == frozenset()


def test_a_subclass_with_an_override_is_saved_in_djangos_order():
    assert overridden_hooks(OverwriteStorage) == {"get_available_name"}
    assert overridden_hooks(RecordingSave) == {"_save"}
    assert overridden_hooks(ReservedNames) == {"is_name_available"}


# --- OverwriteStorage --------------------------------------------------------------------------


def test_overwrite_storage_replaces_the_file_under_the_same_name(bucket, s3_admin):
    storage = OverwriteStorage(bucket_name=bucket)
    storage.save("a.txt", ContentFile(b"old"))

    assert storage.save("a.txt", ContentFile(b"new")) == "a.txt"

    assert s3_admin.keys(bucket) == ["a.txt"]
    assert s3_admin.get(bucket, "a.txt") == b"new"


async def test_overwrite_storage_replaces_the_file_from_async_code(bucket, s3_admin):
    storage = OverwriteStorage(bucket_name=bucket)
    await storage.asave("a.txt", ContentFile(b"old"))

    assert await storage.asave("a.txt", ContentFile(b"new")) == "a.txt"

    assert s3_admin.keys(bucket) == ["a.txt"]
    assert s3_admin.get(bucket, "a.txt") == b"new"


@pytest.mark.django_db(transaction=True)
async def test_overwrite_storage_through_a_model_keeps_one_file(media_bucket, s3_admin):
    avatar = await Avatar.objects.acreate()
    await avatar.file.asave("avatar.png", ContentFile(b"first"))
    await sync_to_async(avatar.file.save)("avatar.png", ContentFile(b"second"))

    assert avatar.file.name == "avatar.png"
    assert s3_admin.keys(media_bucket) == ["avatar.png"]
    assert s3_admin.get(media_bucket, "avatar.png") == b"second"


# --- other hooks -------------------------------------------------------------------------------


def test_a_save_override_is_called_on_the_callers_thread(bucket, s3_admin):
    storage = RecordingSave(bucket_name=bucket)

    name = storage.save("doc.txt", ContentFile(b"x"))

    assert storage.saved == [("doc.txt", threading.get_ident())]
    assert s3_admin.get(bucket, name) == b"x"


async def test_a_save_override_is_called_from_async_code_off_the_loop(bucket):
    storage = RecordingSave(bucket_name=bucket)

    await storage.asave("doc.txt", ContentFile(b"x"))

    assert [name for name, _ in storage.saved] == ["doc.txt"]
    assert storage.saved[0][1] != threading.get_ident()  # a worker thread, not the loop's


@pytest.mark.parametrize("api", ["sync", "async"])
async def test_uuid_names_keep_the_customers_file_name_out_of_the_key(bucket, s3_admin, api):
    storage = UUIDStorage(bucket_name=bucket)
    content = ContentFile(b"%PDF", name="Jane Doe's tax return.pdf")

    if api == "sync":
        name = await sync_to_async(storage.save)(None, content)
    else:
        name = await storage.asave(None, content)

    assert re.fullmatch(r"uploads/[0-9a-f]{32}\.pdf", name)
    assert s3_admin.keys(bucket) == [name]


def test_is_name_available_is_honoured_by_get_available_name_and_save(bucket):
    storage = ReservedNames(bucket_name=bucket)

    assert storage.get_available_name("reserved/a.txt").startswith("reserved/a_")
    assert storage.save("reserved/a.txt", ContentFile(b"x")).startswith("reserved/a_")
    assert storage.save("free/a.txt", ContentFile(b"x")) == "free/a.txt"


async def test_is_name_available_has_an_async_twin(bucket):
    storage = ReservedNames(bucket_name=bucket)

    assert not await storage.ais_name_available("reserved/a.txt")
    assert (await storage.aget_available_name("reserved/a.txt")).startswith("reserved/a_")
    assert (await storage.asave("reserved/a.txt", ContentFile(b"x"))).startswith("reserved/a_")


def test_an_alternative_name_override_names_the_second_file(bucket):
    storage = OddAlternatives(bucket_name=bucket)
    storage.save("a.txt", ContentFile(b"1"))

    assert storage.save("a.txt", ContentFile(b"2")) == "a-again.txt"


async def test_is_name_available_of_the_base_storage_answers_from_the_server(storage):
    await storage.asave("taken.txt", ContentFile(b"x"))

    assert not await storage.ais_name_available("taken.txt")
    assert await storage.ais_name_available("free.txt")
    assert not await storage.ais_name_available("free.txt", max_length=5)
    assert not await sync_to_async(storage.is_name_available)("taken.txt")


# --- content that is an unopened FieldFile -----------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_copying_an_unopened_file_between_rows_from_sync_code(media_bucket, s3_admin):
    original = Attachment.objects.create(file=ContentFile(b"contract", name="contract.pdf"))
    source = Attachment.objects.get(pk=original.pk)  # its file is not open yet
    copy = Attachment()

    copy.file.save("copy.pdf", source.file)

    assert s3_admin.get(media_bucket, copy.file.name) == b"contract"


@pytest.mark.django_db(transaction=True)
async def test_copying_an_unopened_file_between_rows_from_an_async_view(media_bucket, s3_admin):
    original = await AsyncAttachment.objects.acreate()
    await original.file.asave("contract.pdf", ContentFile(b"contract"))
    source = await AsyncAttachment.objects.aget(pk=original.pk)
    copy = await AsyncAttachment.objects.acreate()

    await copy.file.asave("copy.pdf", source.file)

    assert s3_admin.get(media_bucket, copy.file.name) == b"contract"


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("api", ["sync", "async"])
async def test_an_unopened_file_of_the_file_system_storage_is_copied(media_bucket, s3_admin, api):
    local = await sync_to_async(LocalAttachment.objects.create)()
    await sync_to_async(local.file.save)("notes.txt", ContentFile(b"on disk"))
    source = await LocalAttachment.objects.aget(pk=local.pk)
    assert isinstance(source.file.storage, FileSystemStorage)
    storage = MinioStorage(bucket_name=media_bucket)

    if api == "sync":
        name = await sync_to_async(storage.save)("from-disk.txt", source.file)
    else:
        name = await storage.asave("from-disk.txt", source.file)

    assert s3_admin.get(media_bucket, name) == b"on disk"
