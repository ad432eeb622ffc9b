"""``MINIO_USE_HTTPS``: the same storage over TLS, through a TLS-terminating proxy.

The proxy's certificate comes from a throwaway CA (trustme) that the client trusts through
``SSL_CERT_FILE``, as a deployment with a private CA would.
"""

from __future__ import annotations

import ssl
import urllib.request
from collections.abc import Iterator

import pytest
import trustme
from django.core.files.base import ContentFile

from async_minio_storage import MinioStorage
from async_minio_storage import StorageUnavailable
from async_minio_storage import client
from tests.tcp_proxy import TcpProxy

MiB = 1024 * 1024


@pytest.fixture
def certificate_authority() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def tls_proxy(s3_server, certificate_authority, tmp_path, monkeypatch) -> Iterator[TcpProxy]:
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    certificate_authority.issue_cert("127.0.0.1").configure_cert(server_context)
    ca_file = tmp_path / "ca.pem"
    certificate_authority.cert_pem.write_to_path(str(ca_file))
    monkeypatch.setenv("SSL_CERT_FILE", str(ca_file))
    monkeypatch.setattr(client, "_ssl_contexts", {})  # built again from SSL_CERT_FILE
    with TcpProxy(s3_server.endpoint, tls=server_context) as proxy:
        yield proxy


@pytest.fixture
def tls_storage(bucket, tls_proxy) -> MinioStorage:
    return MinioStorage(
        bucket_name=bucket,
        MINIO_ENDPOINT=tls_proxy.endpoint,
        MINIO_USE_HTTPS=True,
        MINIO_MULTIPART_THRESHOLD=5 * MiB,
        MINIO_MULTIPART_PART_SIZE=5 * MiB,
    )


def test_saves_and_reads_over_https(tls_storage, s3_admin):
    small = tls_storage.save("tls/small.txt", ContentFile(b"over tls"))
    large = tls_storage.save("tls/large.bin", ContentFile(b"L" * (6 * MiB)))

    assert tls_storage.open(small).read() == b"over tls"
    assert tls_storage.size(large) == 6 * MiB
    assert s3_admin.get(tls_storage.bucket_name, large) == b"L" * (6 * MiB)


async def test_async_saves_and_reads_over_https(tls_storage):
    name = await tls_storage.asave("tls/async.txt", ContentFile(b"async over tls"))

    async with await tls_storage.aopen(name) as file:
        assert await file.read() == b"async over tls"


def test_presigned_https_urls_work(tls_storage, certificate_authority):
    tls_storage.save("tls/url.txt", ContentFile(b"https url"))
    url = tls_storage.url("tls/url.txt")
    context = ssl.create_default_context()
    certificate_authority.configure_trust(context)

    with urllib.request.urlopen(url, context=context) as response:
        assert response.read() == b"https url"
    assert url.startswith("https://")


def test_an_untrusted_certificate_is_refused(tls_storage, monkeypatch, tmp_path):
    other_ca = tmp_path / "other.pem"
    trustme.CA().cert_pem.write_to_path(str(other_ca))
    monkeypatch.setenv("SSL_CERT_FILE", str(other_ca))
    monkeypatch.setattr(client, "_ssl_contexts", {})
    storage = MinioStorage(
        bucket_name=tls_storage.bucket_name,
        MINIO_ENDPOINT=tls_storage.config.endpoint,
        MINIO_USE_HTTPS=True,
        MINIO_MAX_CONNECTIONS=7,  # a different client than the one that trusts the proxy
    )

    with pytest.raises(StorageUnavailable, match="certificate"):
        storage.exists("x.txt")


def test_a_ca_bundle_can_be_given_in_settings(
    tls_proxy, bucket, certificate_authority, tmp_path, monkeypatch
):
    monkeypatch.delenv("SSL_CERT_FILE")
    bundle = tmp_path / "bundle.pem"
    certificate_authority.cert_pem.write_to_path(str(bundle))
    storage = MinioStorage(
        bucket_name=bucket,
        MINIO_ENDPOINT=tls_proxy.endpoint,
        MINIO_USE_HTTPS=True,
        MINIO_CA_BUNDLE=str(bundle),
    )

    assert storage.save("bundle.txt", ContentFile(b"trusted")) == "bundle.txt"


def test_turning_certificate_checks_off_is_explicit_and_logged(
    tls_proxy, bucket, monkeypatch, tmp_path, caplog
):
    untrusted = tmp_path / "other.pem"
    trustme.CA().cert_pem.write_to_path(str(untrusted))
    monkeypatch.setenv("SSL_CERT_FILE", str(untrusted))
    storage = MinioStorage(
        bucket_name=bucket,
        MINIO_ENDPOINT=tls_proxy.endpoint,
        MINIO_USE_HTTPS=True,
        MINIO_CERT_CHECK=False,
    )

    with caplog.at_level("WARNING", logger="async_minio_storage.client"):
        assert storage.save("unchecked.txt", ContentFile(b"x")) == "unchecked.txt"

    assert "TLS certificate verification is off" in caplog.text
