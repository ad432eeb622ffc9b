"""Regions and URL styles: a region the server does not sign for is reported naming
``MINIO_REGION`` and the region it asked for; ``MINIO_ADDRESSING`` chooses path-style or
virtual-hosted-style URLs (auto: virtual on AWS S3's hosts)."""

from __future__ import annotations

from datetime import UTC
from datetime import datetime
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from django.core.exceptions import ImproperlyConfigured
from miniopy_async import signer
from miniopy_async.credentials import Credentials

from async_minio_storage import MinioStorage
from async_minio_storage import signing
from async_minio_storage.errors import StorageRequestError
from async_minio_storage.errors import WrongRegion
from async_minio_storage.redacted import Secret
from tests.misbehaving_server import MisbehavingServer

MINIO_WRONG_REGION = (
    b'<?xml version="1.0" encoding="UTF-8"?><Error><Code>AuthorizationHeaderMalformed</Code>'
    b"<Message>The authorization header is malformed; the region is wrong; expecting "
    b"'eu-central-1'.</Message><Resource>/media/a.txt</Resource><RequestId>1</RequestId>"
    b"</Error>"
)


def storage_at(endpoint: str, **options: object) -> MinioStorage:
    return MinioStorage(
        bucket_name="media",
        MINIO_ENDPOINT=endpoint,
        MINIO_ACCESS_KEY="key",
        MINIO_SECRET_KEY="secret",
        MINIO_RETRY_ATTEMPTS=1,
        **options,
    )


def test_minios_wrong_region_answer_names_the_setting_and_the_region():
    with MisbehavingServer(400, MINIO_WRONG_REGION, content_type="application/xml") as server:
        storage = storage_at(server.endpoint)

        with pytest.raises(WrongRegion) as raised:
            storage.delete("a.txt")

    assert raised.value.expected == "eu-central-1"
    assert "MINIO_REGION is 'us-east-1': set MINIO_REGION = 'eu-central-1'" in str(raised.value)


def test_aws_bucket_region_header_on_a_head_names_the_region():
    # AWS answers a HEAD for a bucket of another region with 400 and x-amz-bucket-region.
    headers = {"x-amz-bucket-region": "ap-southeast-2"}
    with MisbehavingServer(400, b"", headers=headers) as server:
        storage = storage_at(server.endpoint)

        with pytest.raises(WrongRegion, match="set MINIO_REGION = 'ap-southeast-2'"):
            storage.exists("a.txt")


def test_an_unrelated_400_is_not_a_region_problem():
    body = b"<Error><Code>InvalidArgument</Code><Message>Bad part number</Message></Error>"
    with MisbehavingServer(400, body, content_type="application/xml") as server:
        storage = storage_at(server.endpoint)

        with pytest.raises(StorageRequestError, match="InvalidArgument") as raised:
            storage.delete("a.txt")

    assert not isinstance(raised.value, WrongRegion)


@pytest.mark.parametrize("region", ["us east 1", "-us-east-1", "x" * 64, "eu/west"])
def test_an_invalid_region_is_refused_when_settings_are_read(region: str):
    with pytest.raises(ImproperlyConfigured, match="MINIO_REGION must be a region name"):
        storage_at("127.0.0.1:9000", MINIO_REGION=region).config  # noqa: B018


# --- URL styles -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("endpoint", "addressing", "bucket", "expected"),
    [
        (
            "s3.eu-west-1.amazonaws.com",
            "auto",
            "media",
            "https://media.s3.eu-west-1.amazonaws.com/a.txt",
        ),
        ("s3.amazonaws.com", "auto", "my.media", "https://s3.amazonaws.com/my.media/a.txt"),
        ("minio.example.com", "auto", "media", "https://minio.example.com/media/a.txt"),
        ("minio.example.com", "virtual", "media", "https://media.minio.example.com/a.txt"),
        (
            "s3.eu-west-1.amazonaws.com",
            "path",
            "media",
            "https://s3.eu-west-1.amazonaws.com/media/a.txt",
        ),
    ],
)
def test_addressing_chooses_the_url_style(endpoint, addressing, bucket, expected):
    storage = MinioStorage(
        bucket_name=bucket,
        MINIO_ENDPOINT=endpoint,
        MINIO_ACCESS_KEY="key",
        MINIO_SECRET_KEY="secret",
        MINIO_USE_HTTPS=True,
        MINIO_REGION="eu-west-1",
        MINIO_ADDRESSING=addressing,
        MINIO_PUBLIC_BUCKETS=[bucket],
    )

    assert storage.url("a.txt") == expected
    assert urlsplit(storage.url("a.txt", parameters={"x-id": "1"})).path == urlsplit(expected).path


def test_a_virtual_hosted_presigned_url_is_signed_as_miniopy_async_signs_it():
    now = datetime(2026, 12, 1, tzinfo=UTC)
    ours = signing.presign_url(
        method="GET",
        base_url="https://s3.eu-west-1.amazonaws.com",
        bucket="media",
        key="reports/q4 2026.pdf",
        region="eu-west-1",
        access_key="AKIAEXAMPLE",
        secret_key=Secret("secret/EXAMPLE"),
        expires=timedelta(minutes=10),
        now=now,
        virtual_host=True,
    )
    url = urlsplit("https://media.s3.eu-west-1.amazonaws.com/reports/q4%202026.pdf")
    reference = signer.presign_v4(
        "GET", url, "eu-west-1", Credentials("AKIAEXAMPLE", "secret/EXAMPLE"), now, 600
    )

    assert ours == reference.geturl()


def test_an_unknown_addressing_style_is_refused():
    with pytest.raises(ImproperlyConfigured, match="MINIO_ADDRESSING must be 'auto', 'path'"):
        storage_at("127.0.0.1:9000", MINIO_ADDRESSING="dns").config  # noqa: B018
