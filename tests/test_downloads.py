"""The streaming download view: headers, ranges, conditional requests, permissions, disconnects.

Requests go through Django's real ASGI handler (``tests.asgi``), the view reads from the real
server, and nothing in between is mocked.
"""

from __future__ import annotations

import asyncio
import os
import re
import warnings
from collections.abc import Iterator
from email.utils import formatdate

import django
import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.files.base import ContentFile
from django.core.files.storage import FileSystemStorage
from django.test import Client
from django.test import override_settings
from django.urls import URLPattern
from django.urls import path

from async_minio_storage import MinioStorage
from async_minio_storage.downloads import ObjectDownloadView
from async_minio_storage.downloads import serve_object
from async_minio_storage.files import SMALL_BODY
from async_minio_storage.files import ObjectChanged
from async_minio_storage.ranges import ByteRange
from async_minio_storage.ranges import Unsatisfiable
from async_minio_storage.ranges import requested_range

from .asgi import asgi_request
from .tcp_proxy import TcpProxy

BODY = bytes(range(256)) * 40  # 10,240 bytes, every offset identifiable


def shared_only(request, name):
    return name.startswith("shared/")


async def header_says_yes(request, name):
    await asyncio.sleep(0)
    return request.headers.get("X-Allowed") == "yes"


def routes(*patterns: URLPattern) -> type:
    """A URLconf for ``ROOT_URLCONF``: any hashable object with ``urlpatterns`` will do."""
    return type("Routes", (), {"urlpatterns": list(patterns)})


def urlconf(storage: MinioStorage) -> type:
    async def as_attachment(request, name):
        return await serve_object(request, name, storage=storage, as_attachment=True)

    return routes(
        path("open/<path:name>", ObjectDownloadView.as_view(storage=storage, allow_all=True)),
        path("closed/<path:name>", ObjectDownloadView.as_view(storage=storage)),
        path(
            "shared/<path:name>",
            ObjectDownloadView.as_view(storage=storage, permission=shared_only),
        ),
        path(
            "asked/<path:name>",
            ObjectDownloadView.as_view(storage=storage, permission=header_says_yes),
        ),
        path("attachment/<path:name>", as_attachment),
    )


@pytest.fixture
def served(storage: MinioStorage, s3_admin) -> Iterator[MinioStorage]:
    """The storage's objects behind the test routes, with ``data.bin`` holding ``BODY``."""
    s3_admin.put(storage.bucket_name, "data.bin", BODY)
    with override_settings(ROOT_URLCONF=urlconf(storage)):
        yield storage


# --- the Range header, parsed --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("bytes=0-0", ByteRange(0, 1, 100)),  # first byte
        ("bytes=99-99", ByteRange(99, 100, 100)),  # last byte
        ("bytes=-1", ByteRange(99, 100, 100)),  # last byte, as a suffix
        ("bytes=-10", ByteRange(90, 100, 100)),
        ("bytes=-500", ByteRange(0, 100, 100)),  # a suffix longer than the object: all of it
        ("bytes=10-", ByteRange(10, 100, 100)),
        ("bytes=10-1000", ByteRange(10, 100, 100)),  # an end past the object is cut
        ("Bytes = 5 - 9", ByteRange(5, 10, 100)),
        (None, None),
        ("bytes=5-1", None),  # invalid: ignored
        ("bytes=0-1,5-6", None),  # several ranges: the whole object is a valid answer
        ("items=0-1", None),
        ("bytes=-", None),
        ("bytes=abc", None),
    ],
)
def test_requested_range(header, expected):
    assert requested_range(header, 100) == expected


@pytest.mark.parametrize(
    ("header", "size"), [("bytes=100-", 100), ("bytes=-0", 100), ("bytes=0-", 0), ("bytes=-5", 0)]
)
def test_unsatisfiable_ranges(header, size):
    with pytest.raises(Unsatisfiable):
        requested_range(header, size)


# --- whole objects -------------------------------------------------------------------------------


async def test_get_streams_the_object_with_its_headers(served):
    response = await asgi_request("GET", "/open/data.bin")

    assert response.status == 200
    assert response.body == BODY
    headers = response.headers
    assert headers["content-length"] == str(len(BODY))
    assert headers["content-type"] == "application/octet-stream"
    assert headers["accept-ranges"] == "bytes"
    assert re.fullmatch(r'"[^"]+"', headers["etag"])
    assert headers["last-modified"].endswith("GMT")
    assert headers["content-disposition"] == 'inline; filename="data.bin"'
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["cache-control"] == "private, no-cache"


async def test_head_answers_headers_without_a_body(served):
    response = await asgi_request("HEAD", "/open/data.bin")

    assert response.status == 200
    assert response.body == b""
    assert response.headers["content-length"] == str(len(BODY))
    assert "etag" in response.headers


async def test_an_empty_object(served, s3_admin):
    s3_admin.put(served.bucket_name, "empty.txt", b"", content_type="text/plain")

    response = await asgi_request("GET", "/open/empty.txt")

    assert (response.status, response.body) == (200, b"")
    assert response.headers["content-length"] == "0"


async def test_a_missing_object_is_404(served):
    assert (await asgi_request("GET", "/open/missing.bin")).status == 404
    assert (await asgi_request("HEAD", "/open/missing.bin", {"Range": "bytes=0-1"})).status == 404


async def test_a_traversal_name_is_refused(served):
    assert (await asgi_request("GET", "/open/a/../../etc/passwd")).status == 400


async def test_other_methods_are_not_allowed(served, rf):
    view = ObjectDownloadView.as_view(storage=served, allow_all=True)

    assert (await view(rf.post("/"), name="data.bin")).status_code == 405
    assert (await serve_object(rf.delete("/"), "data.bin", storage=served)).status_code == 405


# --- ranges --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "start", "stop"),
    [
        ("bytes=0-0", 0, 1),
        (f"bytes={len(BODY) - 1}-{len(BODY) - 1}", len(BODY) - 1, len(BODY)),
        ("bytes=-100", len(BODY) - 100, len(BODY)),
        ("bytes=5000-", 5000, len(BODY)),
        ("bytes=1000-1999", 1000, 2000),
    ],
    ids=["first-byte", "last-byte", "suffix", "open-ended", "middle"],
)
async def test_a_range_answers_206_with_those_bytes(served, header, start, stop):
    response = await asgi_request("GET", "/open/data.bin", {"Range": header})

    assert response.status == 206
    assert response.body == BODY[start:stop]
    assert response.headers["content-length"] == str(stop - start)
    assert response.headers["content-range"] == f"bytes {start}-{stop - 1}/{len(BODY)}"


async def test_an_unsatisfiable_range_answers_416(served):
    response = await asgi_request("GET", "/open/data.bin", {"Range": f"bytes={len(BODY)}-"})

    assert response.status == 416
    assert response.headers["content-range"] == f"bytes */{len(BODY)}"
    assert response.body == b""


async def test_if_range_with_the_current_etag_keeps_the_range(served):
    etag = (await asgi_request("HEAD", "/open/data.bin")).headers["etag"]

    response = await asgi_request("GET", "/open/data.bin", {"Range": "bytes=0-9", "If-Range": etag})

    assert (response.status, response.body) == (206, BODY[:10])


async def test_if_range_with_an_old_etag_sends_the_whole_object(served):
    response = await asgi_request(
        "GET", "/open/data.bin", {"Range": "bytes=0-9", "If-Range": '"an-older-version"'}
    )

    assert (response.status, response.body) == (200, BODY)


# --- conditional requests ------------------------------------------------------------------------


async def test_if_none_match_with_the_etag_answers_304(served):
    etag = (await asgi_request("HEAD", "/open/data.bin")).headers["etag"]

    response = await asgi_request("GET", "/open/data.bin", {"If-None-Match": etag})

    assert response.status == 304
    assert response.body == b""
    assert response.headers["etag"] == etag


async def test_if_none_match_with_another_etag_sends_the_object(served):
    response = await asgi_request("GET", "/open/data.bin", {"If-None-Match": '"other"'})
    assert (response.status, response.body) == (200, BODY)


async def test_if_modified_since_answers_304_when_unchanged(served):
    last_modified = (await asgi_request("HEAD", "/open/data.bin")).headers["last-modified"]

    response = await asgi_request("GET", "/open/data.bin", {"If-Modified-Since": last_modified})

    assert response.status == 304


async def test_if_modified_since_an_older_date_sends_the_object(served):
    long_ago = formatdate(0, usegmt=True)

    response = await asgi_request("GET", "/open/data.bin", {"If-Modified-Since": long_ago})

    assert (response.status, response.body) == (200, BODY)


async def test_if_match_with_another_etag_answers_412(served):
    response = await asgi_request("GET", "/open/data.bin", {"If-Match": '"other"'})
    assert response.status == 412


# --- Content-Disposition -------------------------------------------------------------------------


async def test_attachment_with_a_non_ascii_name_uses_rfc_5987(served, s3_admin):
    s3_admin.put(served.bucket_name, "reports/Übersicht 2026.pdf", b"%PDF", "application/pdf")

    response = await asgi_request("GET", "/attachment/reports/%C3%9Cbersicht%202026.pdf")

    assert response.status == 200
    assert response.headers["content-disposition"] == (
        "attachment; filename*=utf-8''%C3%9Cbersicht%202026.pdf"
    )
    assert response.headers["content-type"] == "application/pdf"


async def test_html_is_sent_as_an_attachment_unless_asked_otherwise(served, s3_admin):
    s3_admin.put(served.bucket_name, "page.html", b"<script>alert(1)</script>", "text/html")

    response = await asgi_request("GET", "/open/page.html")

    assert response.headers["content-disposition"] == 'attachment; filename="page.html"'


# --- permissions ---------------------------------------------------------------------------------


async def test_the_view_denies_everyone_by_default(served):
    assert (await asgi_request("GET", "/closed/data.bin")).status == 403


async def test_a_sync_permission_function_decides(served, s3_admin):
    s3_admin.put(served.bucket_name, "shared/notes.txt", b"shared", "text/plain")

    assert (await asgi_request("GET", "/shared/shared/notes.txt")).status == 200
    assert (await asgi_request("GET", "/shared/data.bin")).status == 403


async def test_an_async_permission_function_decides(served):
    allowed = await asgi_request("GET", "/asked/data.bin", {"X-Allowed": "yes"})
    refused = await asgi_request("GET", "/asked/data.bin")

    assert (allowed.status, allowed.body) == (200, BODY)
    assert refused.status == 403


async def test_has_permission_can_be_overridden(served):
    class OnlyBins(ObjectDownloadView):
        async def has_permission(self, request, name):
            return name.endswith(".bin")

    with override_settings(
        ROOT_URLCONF=routes(path("f/<path:name>", OnlyBins.as_view(storage=served)))
    ):
        assert (await asgi_request("GET", "/f/data.bin")).status == 200
        assert (await asgi_request("GET", "/f/data.txt")).status == 403


def test_only_a_minio_storage_can_be_served(rf, tmp_path):
    request = rf.get("/")
    with pytest.raises(ImproperlyConfigured, match="MinioStorage"):
        asyncio.run(serve_object(request, "a.txt", storage=FileSystemStorage(tmp_path)))


# --- streaming, memory and connections -----------------------------------------------------------


@pytest.mark.skipif(django.VERSION < (5, 0), reason="Django 4.2's ASGI handler ignores disconnects")
async def test_a_client_that_disconnects_returns_the_connection(bucket, s3_server):
    """The read stops and the pooled connection is released; the next download works."""
    big = os.urandom(8 * 1024 * 1024)
    await MinioStorage(bucket_name=bucket).asave("big.bin", ContentFile(big))
    with TcpProxy(s3_server.endpoint) as proxy, override_settings(MINIO_ENDPOINT=proxy.endpoint):
        storage = MinioStorage(bucket_name=bucket, MINIO_MAX_CONNECTIONS=1)
        with override_settings(ROOT_URLCONF=urlconf(storage)):
            cut = await asgi_request("GET", "/open/big.bin", disconnect_after=2)
            await asyncio.sleep(0.2)

            assert cut.body_messages == 2
            assert len(cut.body) < len(big)
            # The half-read response's connection was closed, not left pinned in the pool.
            assert proxy.open == 0

            after = await asyncio.wait_for(asgi_request("GET", "/open/big.bin"), 10)

    assert after.status == 200
    assert after.body == big


def test_under_wsgi_the_body_streams_without_buffering(served):
    """Django serves an async iterator to WSGI by reading it whole, with a warning; ours
    streams it through the sync edge instead."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        response = Client().get("/open/data.bin", headers={"Range": "bytes=10-19"})
        pieces = list(response)

    assert response.status_code == 206
    assert b"".join(pieces) == BODY[10:20]


async def test_a_file_replaced_while_read_is_not_mixed(storage, s3_admin):
    """Reading on after the object changed raises, rather than mixing two versions."""
    size = SMALL_BODY + 100  # larger than what opening reads whole
    s3_admin.put(storage.bucket_name, "v.bin", b"a" * size)
    async with await storage.aopen("v.bin") as file:
        assert await file.read(10) == b"a" * 10
        s3_admin.put(storage.bucket_name, "v.bin", b"b" * size)
        file.seek(50)
        with pytest.raises(ObjectChanged, match="changed while it was being read"):
            await file.read(10)


async def test_a_small_file_is_read_whole_at_opening_so_a_replacement_cannot_mix_in(
    storage, s3_admin, proxy
):
    storage = MinioStorage(bucket_name=storage.bucket_name, MINIO_ENDPOINT=proxy.endpoint)
    s3_admin.put(storage.bucket_name, "small.bin", b"a" * 100)
    async with await storage.aopen("small.bin") as file:
        s3_admin.put(storage.bucket_name, "small.bin", b"b" * 100)
        assert await file.read(10) == b"a" * 10
        file.seek(50)
        assert await file.read() == b"a" * 50  # the version that was opened, from memory
    assert proxy.accepted == 1  # one GET, no second request for the reads
