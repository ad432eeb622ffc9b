"""URLs: presigned for private buckets, plain for public ones, checked by a server that verifies
signatures and policies."""

from __future__ import annotations

import urllib.error
import urllib.request
from datetime import UTC
from datetime import datetime
from datetime import timedelta
from urllib.parse import parse_qs
from urllib.parse import urlsplit

import pytest
from django.core.files.base import ContentFile

from async_minio_storage import MinioStorage
from async_minio_storage.signing import presign_url

AWKWARD_NAMES = [
    "with space.txt",
    "plus+sign.txt",
    "hash#tag.txt",
    "question?.txt",
    "amp&equals=.txt",
    "tilde~(paren)'quote'!*.txt",
    "ünïcødé/名前.txt",
    "percent%20literal.txt",
    "semi;colon,comma$dollar@at.txt",
]


def fetch(
    url: str, headers: dict[str, str] | None = None, method: str = "GET", data: bytes | None = None
) -> tuple[int, bytes, dict[str, str]]:
    """Request ``url`` as a browser would; return status, body and headers, errors included."""
    request = urllib.request.Request(url, headers=headers or {}, method=method, data=data)
    try:
        with urllib.request.urlopen(request) as response:
            return response.status, response.read(), dict(response.headers)
    except urllib.error.HTTPError as error:
        with error:
            return error.code, error.read(), dict(error.headers)


def test_a_presigned_url_downloads_the_object(storage):
    storage.save("report.txt", ContentFile(b"quarterly numbers"))

    status, body, _ = fetch(storage.url("report.txt"))

    assert (status, body) == (200, b"quarterly numbers")


def test_a_tampered_signature_is_refused(storage):
    storage.save("report.txt", ContentFile(b"quarterly numbers"))
    url = storage.url("report.txt")
    signature = parse_qs(urlsplit(url).query)["X-Amz-Signature"][0]
    tampered = url.replace(signature, signature[:-1] + ("0" if signature[-1] != "0" else "1"))

    status, _, _ = fetch(tampered)

    assert status == 403


def test_a_url_for_another_object_cannot_be_made_by_editing_the_path(storage):
    storage.save("mine.txt", ContentFile(b"mine"))
    storage.save("yours.txt", ContentFile(b"yours"))

    status, _, _ = fetch(storage.url("mine.txt").replace("mine.txt", "yours.txt"))

    assert status == 403


def test_an_expired_url_is_refused(storage, s3_server):
    storage.save("old.txt", ContentFile(b"old"))
    config = storage.config
    url = presign_url(
        method="GET",
        base_url=config.external_base_url,
        bucket=storage.bucket_name,
        key="old.txt",
        region=config.region,
        access_key=config.access_key,
        secret_key=config.secret_key,
        expires=timedelta(seconds=60),
        now=datetime.now(UTC) - timedelta(minutes=10),
    )

    status, _, _ = fetch(url)

    assert status == 403


def test_a_url_signed_with_a_wrong_secret_is_refused(bucket):
    MinioStorage(bucket_name=bucket).save("x.txt", ContentFile(b"x"))
    impostor = MinioStorage(bucket_name=bucket, MINIO_SECRET_KEY="not-the-secret-key")

    status, _, _ = fetch(impostor.url("x.txt"))

    assert status == 403


@pytest.mark.parametrize("name", AWKWARD_NAMES)
def test_awkward_names_give_working_presigned_urls(storage, name):
    saved = storage.save(name, ContentFile(name.encode()))

    status, body, _ = fetch(storage.url(saved))

    assert saved == name
    assert (status, body) == (200, name.encode())


@pytest.mark.parametrize("name", AWKWARD_NAMES)
def test_awkward_names_give_working_public_urls(public_storage, name):
    saved = public_storage.save(name, ContentFile(name.encode()))

    status, body, _ = fetch(public_storage.url(saved))

    assert (status, body) == (200, name.encode())


def test_public_urls_are_plain_and_allow_only_reading(public_storage):
    public_storage.save("banner.txt", ContentFile(b"banner"))
    url = public_storage.url("banner.txt")
    bucket_url = url.rsplit("/", 1)[0] + "/"

    assert urlsplit(url).query == ""
    assert fetch(url)[:2] == (200, b"banner")
    assert fetch(bucket_url)[0] == 403  # no anonymous listing
    assert fetch(url, method="PUT", data=b"defaced")[0] == 403  # no anonymous writes
    assert fetch(url, method="DELETE")[0] == 403
    assert fetch(url)[1] == b"banner"


def test_private_objects_are_not_readable_without_a_signature(storage):
    storage.save("private.txt", ContentFile(b"private"))
    plain = storage.url("private.txt").split("?", 1)[0]

    assert fetch(plain)[0] == 403


def test_url_takes_a_per_call_expiry(storage):
    url = storage.url("x.txt", expire=timedelta(minutes=5))
    in_seconds = storage.url("x.txt", expire=90)

    assert parse_qs(urlsplit(url).query)["X-Amz-Expires"] == ["300"]
    assert parse_qs(urlsplit(in_seconds).query)["X-Amz-Expires"] == ["90"]


def test_url_expiry_defaults_to_the_setting(bucket):
    storage = MinioStorage(bucket_name=bucket, MINIO_URL_EXPIRY_HOURS=timedelta(hours=2))

    assert parse_qs(urlsplit(storage.url("x.txt")).query)["X-Amz-Expires"] == ["7200"]


@pytest.mark.parametrize(
    "expire", [timedelta(days=8), timedelta(0), -5, 604_801, 1e300, float("nan"), float("inf")]
)
def test_url_refuses_an_expiry_s3_would_refuse(storage, expire):
    with pytest.raises(ValueError, match="between 1 second and 7 days"):
        storage.url("x.txt", expire=expire)


def test_url_parameters_override_response_headers(storage):
    storage.save("data.bin", ContentFile(b"csv,data"))

    url = storage.url(
        "data.bin",
        parameters={
            "response-content-disposition": "attachment; filename*=UTF-8''r%C3%A9sum%C3%A9.csv",
            "response-content-type": "text/csv",
        },
    )
    status, body, headers = fetch(url)

    assert (status, body) == (200, b"csv,data")
    assert headers["Content-Disposition"] == "attachment; filename*=UTF-8''r%C3%A9sum%C3%A9.csv"
    assert headers["Content-Type"] == "text/csv"


def test_public_urls_with_parameters_are_presigned(public_storage):
    public_storage.save("photo.txt", ContentFile(b"photo"))

    url = public_storage.url("photo.txt", parameters={"response-content-disposition": "attachment"})
    status, _, headers = fetch(url)

    assert "X-Amz-Signature=" in url
    assert status == 200
    assert headers["Content-Disposition"] == "attachment"


def test_url_parameters_must_be_strings(storage):
    with pytest.raises(TypeError):
        storage.url("x.txt", parameters={"response-expires": 5})  # type: ignore[dict-item]


def test_urls_are_signed_for_the_external_endpoint(bucket, s3_server):
    internal = MinioStorage(bucket_name=bucket)
    internal.save("external.txt", ContentFile(b"through the proxy"))
    external = MinioStorage(
        bucket_name=bucket,
        MINIO_EXTERNAL_ENDPOINT="files.example.com",
        MINIO_EXTERNAL_ENDPOINT_USE_HTTPS=True,
    )

    url = external.url("external.txt")
    # A reverse proxy for files.example.com forwards the request with its Host header intact.
    status, body, _ = fetch(
        url.replace("https://files.example.com", s3_server.base_url),
        headers={"Host": "files.example.com"},
    )

    assert url.startswith(f"https://files.example.com/{bucket}/external.txt?")
    assert (status, body) == (200, b"through the proxy")


def test_default_ports_are_left_out_of_urls(bucket):
    storage = MinioStorage(
        bucket_name=bucket,
        MINIO_EXTERNAL_ENDPOINT="files.example.com:443",
        MINIO_EXTERNAL_ENDPOINT_USE_HTTPS=True,
    )

    assert storage.url("a.txt").startswith(f"https://files.example.com/{bucket}/a.txt?")


def test_url_needs_a_name(storage):
    with pytest.raises(ValueError, match="name"):
        storage.url(None)


def test_signed_header_values_are_compared_as_the_server_reads_them(bucket, s3_server, s3_admin):
    # The server trims a signed header's value and collapses its runs of spaces before checking
    # the signature; a URL signed over the value as written would be refused.
    content_type = "text/plain;  charset=utf-8"
    url = presign_url(
        method="PUT",
        base_url=s3_server.base_url,
        bucket=bucket,
        key="spaced.txt",
        region="us-east-1",
        access_key=s3_server.access_key,
        secret_key=s3_server.secret_key,
        expires=timedelta(minutes=5),
        headers={"Content-Type": content_type},
    )

    status, body, _ = fetch(url, {"Content-Type": content_type}, method="PUT", data=b"spaced")

    assert status == 200, body
    assert s3_admin.get(bucket, "spaced.txt") == b"spaced"
