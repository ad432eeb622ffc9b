"""Static files: collectstatic into the bucket, {% static %} URLs, and the manifest storage."""

from __future__ import annotations

import asyncio
import io
import os
import time
import urllib.request
import warnings
from collections.abc import Iterator
from pathlib import Path

import django
import pytest
from django.core.files.storage import storages
from django.core.management import call_command
from django.template import Context
from django.template import Template
from django.test import override_settings

from async_minio_storage import MinioManifestStaticStorage
from async_minio_storage import MinioStaticStorage
from async_minio_storage import MinioStorage

SOURCES = {
    "css/site.css": b"body { background: url('../img/logo.svg'); }\n",
    "js/app.js": b"console.log('hello');\n",
    "img/logo.svg": b"<svg xmlns='http://www.w3.org/2000/svg'/>",
    "img/dot.png": b"\x89PNG\r\n\x1a\n",
    "data/config.json": b'{"debug": false}',
    "pages/about.html": b"<h1>About</h1>",
}
CONTENT_TYPES = {
    "css/site.css": {"text/css"},
    "js/app.js": {"text/javascript", "application/javascript"},
    "img/logo.svg": {"image/svg+xml"},
    "img/dot.png": {"image/png"},
    "data/config.json": {"application/json"},
    "pages/about.html": {"text/html"},
}


@pytest.fixture
def static_sources(tmp_path: Path, static_bucket: str) -> Iterator[Path]:
    """A STATICFILES_DIRS folder with a file of each common type."""
    root = tmp_path / "static"
    for name, content in SOURCES.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(content)
    with override_settings(STATICFILES_DIRS=[str(root)]):
        yield root


def collectstatic() -> None:
    call_command("collectstatic", interactive=False, verbosity=0)


def static_url(path: str) -> str:
    return Template("{% load static %}{% static path %}").render(Context({"path": path}))


def fetch(url: str) -> bytes:
    with urllib.request.urlopen(url) as response:
        return response.read()


def test_collectstatic_uploads_every_file_with_its_content_type(static_sources, s3_admin):
    collectstatic()

    bucket = storages["staticfiles"].bucket_name
    for name, content in SOURCES.items():
        assert s3_admin.get(bucket, name) == content
        assert s3_admin.content_type(bucket, name) in CONTENT_TYPES[name]


def test_collectstatic_overwrites_changed_files_on_a_second_run(static_sources, s3_admin):
    collectstatic()
    changed = static_sources / "js/app.js"
    changed.write_bytes(b"console.log('changed');\n")
    later = time.time() + 60
    os.utime(changed, (later, later))

    collectstatic()

    bucket = storages["staticfiles"].bucket_name
    assert s3_admin.get(bucket, "js/app.js") == b"console.log('changed');\n"
    assert sorted(s3_admin.keys(bucket)) == sorted(SOURCES)


def test_static_urls_of_a_public_bucket_are_plain_and_work(static_sources):
    collectstatic()

    url = static_url("css/site.css")

    assert "X-Amz-Signature" not in url
    assert fetch(url) == SOURCES["css/site.css"]


def test_static_urls_of_a_private_bucket_are_presigned_and_work(static_sources, minio_settings):
    static = minio_settings["MINIO_STATIC_FILES_BUCKET"]
    with override_settings(
        MINIO_PUBLIC_BUCKETS=[b for b in minio_settings["MINIO_PUBLIC_BUCKETS"] if b != static],
        MINIO_PRIVATE_BUCKETS=[*minio_settings["MINIO_PRIVATE_BUCKETS"], static],
    ):
        collectstatic()
        url = static_url("img/logo.svg")

    assert "X-Amz-Signature=" in url
    assert fetch(url) == SOURCES["img/logo.svg"]


MANIFEST_STORAGES = {
    "default": {"BACKEND": "async_minio_storage.MinioStorage"},
    "staticfiles": {"BACKEND": "async_minio_storage.MinioManifestStaticStorage"},
}


def test_the_manifest_storage_serves_hashed_names(static_sources, s3_admin):
    with override_settings(STORAGES=MANIFEST_STORAGES):
        collectstatic()
        css_url = static_url("css/site.css")
        logo_url = static_url("img/logo.svg")

    bucket = storages["staticfiles"].bucket_name
    assert "staticfiles.json" in s3_admin.keys(bucket)
    assert "/css/site." in css_url
    assert css_url.split("?")[0].endswith(".css")
    assert "css/site.css" not in css_url  # the hashed name, e.g. css/site.4b6f0c1a2d3e.css
    css = fetch(css_url).decode()
    assert logo_url.rsplit("/", 1)[-1] in css  # references to other files are hashed too
    assert fetch(logo_url) == SOURCES["img/logo.svg"]


def test_building_the_manifest_storage_makes_no_request(static_bucket, proxy):
    storage = MinioManifestStaticStorage(MINIO_ENDPOINT=proxy.endpoint)

    assert isinstance(storage, MinioStaticStorage)
    assert proxy.accepted == 0
    assert storage.hashed_files == {}  # read on first use: no manifest in the bucket yet
    assert proxy.accepted == 1


async def test_the_manifest_is_read_when_first_used_in_an_async_view(static_sources):
    with override_settings(STORAGES=MANIFEST_STORAGES):
        await asyncio.to_thread(collectstatic)
    with override_settings(STORAGES=MANIFEST_STORAGES):  # a fresh storage, manifest unread
        url = static_url("js/app.js")  # its first use, on the loop's thread

    assert "js/app." in url
    assert "js/app.js" not in url


@pytest.mark.skipif(
    django.VERSION >= (5, 1), reason="Django 5.1 removed DEFAULT_FILE_STORAGE/STATICFILES_STORAGE"
)
def test_the_ancestors_storage_settings_work_on_django_4_2(static_sources):
    legacy = {
        "DEFAULT_FILE_STORAGE": "async_minio_storage.MinioBackend",
        "STATICFILES_STORAGE": "async_minio_storage.MinioBackendStatic",
    }
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PendingDeprecationWarning)  # RemovedInDjango51Warning
        with override_settings(STORAGES={}, **legacy):
            assert type(storages["default"]) is MinioStorage
            assert type(storages["staticfiles"]) is MinioStaticStorage
            collectstatic()
            assert fetch(static_url("pages/about.html")) == SOURCES["pages/about.html"]


def test_collectstatic_reports_what_it_copied(static_sources):
    out = io.StringIO()

    call_command("collectstatic", interactive=False, verbosity=1, stdout=out)

    assert f"{len(SOURCES)} static files copied" in out.getvalue()
