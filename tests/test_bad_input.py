"""Bad input is refused up front, before any request; server trouble surfaces as clear errors."""

from __future__ import annotations

import asyncio

import pytest
from django.core.exceptions import SuspiciousFileOperation
from django.core.files.base import ContentFile

from async_minio_storage import MinioStorage
from async_minio_storage import StorageRequestError
from async_minio_storage import StorageUnavailable
from async_minio_storage.names import object_key
from tests.s3_server import free_ports

SUSPICIOUS_NAMES = [
    "../etc/passwd",
    "a/../../b.txt",
    "a/./b.txt",
    "/absolute.txt",
    "nul\x00byte.txt",
    "new\nline.txt",
    "tab\there.txt",
    "del\x7f.txt",
    "a//b.txt",
    "trailing/",
    "x/" * 512 + "x",  # 1025 bytes
    "é/" * 341 + "éé",  # 1027 bytes in UTF-8
    "y" * 256,  # one part over MinIO's 255 bytes
    "ü" * 128,  # 256 bytes in UTF-8
    "lone-surrogate-\udc80.txt",
    # Blank names: stored, they could not be read back (miniopy-async refuses blank keys).
    " ",
    "\x85",  # NEL, found by the property test in test_names_property.py
    "\u2028\u3000",
    # C1 control characters (U+0080-U+009F), refused like the C0 ones.
    "c1-\x80.txt",
    "csi-\x9b31m.txt",  # CSI: the terminal escape of a log line that shows the name
    "a\x85b.txt",  # NEL inside a name, not only as the whole name
    "dir\x9f/file.txt",
]


@pytest.mark.parametrize("name", SUSPICIOUS_NAMES)
def test_suspicious_names_are_refused(name):
    with pytest.raises(SuspiciousFileOperation):
        object_key(name)


def refuses_as_control_character(name: str) -> bool:
    try:
        object_key(name)
    except SuspiciousFileOperation as refusal:
        return "control character" in str(refusal)
    return False


def test_every_control_character_is_refused_and_its_neighbours_are_not():
    controls = [*range(0x20), 0x7F, *range(0x80, 0xA0)]  # C0, DEL, C1: Unicode's Cc
    neighbours = [0x20, 0x7E, 0xA0, 0xA1, 0xFF]

    accepted = [
        hex(code) for code in controls if not refuses_as_control_character(f"a{chr(code)}b")
    ]
    refused = [hex(code) for code in neighbours if refuses_as_control_character(f"a{chr(code)}b")]

    assert accepted == []
    assert refused == []


@pytest.mark.parametrize("name", SUSPICIOUS_NAMES)
def test_every_method_refuses_suspicious_names_before_any_request(bucket, proxy, name):
    storage = MinioStorage(bucket_name=bucket, MINIO_ENDPOINT=proxy.endpoint)

    for call in (
        lambda: storage.save(name, ContentFile(b"x")),
        lambda: storage.open(name),
        lambda: storage.exists(name),
        lambda: storage.size(name),
        lambda: storage.delete(name),
        lambda: storage.url(name),
        lambda: storage.get_modified_time(name),
    ):
        with pytest.raises(SuspiciousFileOperation):
            call()
    assert proxy.accepted == 0


async def test_async_methods_refuse_suspicious_names(storage):
    for call in (
        storage.asave("../x.txt", ContentFile(b"x")),
        storage.aopen("a//b"),
        storage.aexists("\x00"),
        storage.asize("/abs"),
        storage.adelete("a/../b"),
        storage.aurl("x" * 2000),
    ):
        with pytest.raises(SuspiciousFileOperation):
            await call


def test_a_1024_byte_key_is_accepted(storage):
    name = "/".join(["k" * 254] * 4) + "/k.md"
    assert len(name.encode()) == 1024

    assert storage.save(name, ContentFile(b"long")) == name
    assert storage.exists(name)


def test_listdir_refuses_traversal(storage):
    with pytest.raises(SuspiciousFileOperation):
        storage.listdir("../other")


def test_saving_none_is_refused(storage):
    with pytest.raises(ValueError, match="None"):
        storage.save("x.txt", None)


def test_saving_something_that_is_not_a_file_is_refused(storage):
    with pytest.raises(TypeError, match="read"):
        storage.save("x.txt", 12345)


def test_saving_without_a_name_is_refused(storage):
    with pytest.raises(ValueError, match="name"):
        storage.save("", ContentFile(b"x"))


def test_deleting_without_a_name_is_refused(storage):
    with pytest.raises(ValueError, match="name"):
        storage.delete("")


def test_an_unreachable_server_is_an_error_not_a_missing_file(bucket):
    (closed_port,) = free_ports(1)
    storage = MinioStorage(
        bucket_name=bucket, MINIO_ENDPOINT=f"127.0.0.1:{closed_port}", MINIO_CONNECT_TIMEOUT=2
    )

    with pytest.raises(StorageUnavailable) as unavailable:
        storage.exists("anything.txt")
    assert isinstance(unavailable.value, ConnectionError)
    with pytest.raises(StorageUnavailable):
        storage.save("x.txt", ContentFile(b"x"))
    with pytest.raises(StorageUnavailable):
        asyncio.run(storage.asize("x.txt"))


def test_refused_credentials_are_an_error_that_does_not_show_the_secret(bucket):
    secret = "definitely-wrong-secret-987654321"
    storage = MinioStorage(bucket_name=bucket, MINIO_SECRET_KEY=secret)

    with pytest.raises(StorageRequestError) as refused:
        storage.save("x.txt", ContentFile(b"x"))

    assert refused.value.code == "SignatureDoesNotMatch"
    assert refused.value.status == 403
    assert secret not in str(refused.value)
    assert secret not in repr(refused.value.__cause__)


def test_an_unknown_access_key_is_refused(bucket):
    storage = MinioStorage(bucket_name=bucket, MINIO_ACCESS_KEY="nobody-knows-me")

    with pytest.raises(StorageRequestError) as refused:
        storage.exists("x.txt")

    assert refused.value.status == 403
