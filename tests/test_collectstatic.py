"""collectstatic into the bucket: skipped unchanged files, concurrent uploads, cache headers.

The storage reaches the server through ``FaultProxy``, which records every request line, so
"uploads exactly the changed files" is counted in PUT requests, not inferred from output.
"""

from __future__ import annotations

import io
import json
import re
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.contrib.staticfiles.management.commands.collectstatic import (
    Command as DjangoCollectstatic,
)
from django.core.checks import run_checks
from django.core.management import call_command
from django.template import Context
from django.template import Template
from django.test import override_settings

from async_minio_storage import collecting
from async_minio_storage.errors import StorageRequestError

from .fault_proxy import FaultProxy

FILE_COUNT = 120


def source_files(count: int = FILE_COUNT) -> dict[str, bytes]:
    files = {
        f"js/module{number:03}.js": f"export const n = {number};\n".encode()
        for number in range(count)
    }
    files["css/site.css"] = b"body { background: url('../img/logo.svg'); }\n"
    files["img/logo.svg"] = b"<svg xmlns='http://www.w3.org/2000/svg'/>"
    return files


@pytest.fixture
def sources(tmp_path: Path) -> Path:
    root = tmp_path / "static"
    for name, content in source_files().items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(content)
    return root


@pytest.fixture
def proxy(s3_server) -> Iterator[FaultProxy]:
    with FaultProxy(s3_server.endpoint) as started:
        yield started


def static_storages(backend: str, proxy: FaultProxy, **options: object) -> dict:
    return {
        "default": {"BACKEND": "async_minio_storage.MinioStorage"},
        "staticfiles": {
            "BACKEND": backend,
            "OPTIONS": {"MINIO_ENDPOINT": proxy.endpoint, **options},
        },
    }


@pytest.fixture
def plain(sources, proxy, static_bucket) -> Iterator[str]:
    """MinioStaticStorage behind the proxy, collecting from ``sources``; yields the bucket."""
    storages = static_storages("async_minio_storage.MinioStaticStorage", proxy)
    with override_settings(STATICFILES_DIRS=[str(sources)], STORAGES=storages):
        yield static_bucket


@pytest.fixture
def manifest(sources, proxy, static_bucket) -> Iterator[str]:
    storages = static_storages("async_minio_storage.MinioManifestStaticStorage", proxy)
    with override_settings(STATICFILES_DIRS=[str(sources)], STORAGES=storages):
        yield static_bucket


def collectstatic(*arguments: str, command: object = "collectstatic") -> str:
    output = io.StringIO()
    call_command(command, *arguments, interactive=False, verbosity=1, stdout=output)
    return output.getvalue()


def puts(proxy: FaultProxy) -> list[str]:
    """The keys PUT through the proxy since the last call (multipart parts excluded)."""
    lines = [
        line for line in proxy.requests if line.startswith("PUT ") and "partNumber" not in line
    ]
    proxy.requests.clear()
    return sorted(line.split(" ")[1].split("?")[0].split("/", 2)[2] for line in lines)


# --- which files are uploaded --------------------------------------------------------------------


def test_the_first_run_uploads_every_file(plain, proxy, s3_admin):
    output = collectstatic()

    expected = source_files()
    assert puts(proxy) == sorted(expected)
    for name, content in expected.items():
        assert s3_admin.get(plain, name) == content
    assert f"{len(expected)} static files copied" in output
    assert f"Uploaded {len(expected)} objects" in output


def test_uploads_whose_answers_were_lost_leave_one_object_per_file(plain, proxy, s3_admin):
    # The server stores three PUTs and their answers are lost (503, then a cut connection).
    proxy.fail_after_forwarding(2, status=503, method="PUT")
    proxy.cut_after_forwarding(1, method="PUT")

    output = collectstatic()

    expected = source_files()
    assert proxy.forwarded_then_failed == 2
    assert proxy.forwarded_then_cut == 1
    assert sorted(s3_admin.keys(plain)) == sorted(expected)
    for name, content in expected.items():
        assert s3_admin.get(plain, name) == content
    assert f"Uploaded {len(expected)} objects" in output


def test_a_second_run_uploads_nothing_and_makes_one_listing(plain, proxy):
    collectstatic()
    proxy.requests.clear()

    output = collectstatic()

    assert len(proxy.requests) == 1  # no HEAD, no PUT, no DELETE: only the listing
    assert proxy.requests[0].startswith("GET ")
    assert "0 static files copied" in output
    assert f"{len(source_files())} unmodified" in output


def test_only_changed_files_are_uploaded_even_with_newer_timestamps(plain, proxy, sources):
    collectstatic()
    changed = [f"js/module{number:03}.js" for number in range(0, 100, 10)]
    for name in changed:
        (sources / name).write_bytes(b"export const changed = true;\n")
    for path in sources.rglob("*"):  # a fresh checkout: every file looks new
        path.touch()
    puts(proxy)

    output = collectstatic()

    assert puts(proxy) == sorted(changed)
    assert "10 static files copied" in output


def test_an_object_deleted_from_the_bucket_is_uploaded_again(plain, proxy, s3_admin):
    collectstatic()
    s3_admin.delete(plain, "css/site.css")
    puts(proxy)

    output = collectstatic()

    assert puts(proxy) == ["css/site.css"]
    assert s3_admin.get(plain, "css/site.css") == source_files()["css/site.css"]
    assert "1 static file copied" in output


def test_a_deleted_local_file_stays_unless_clear(plain, proxy, sources, s3_admin):
    collectstatic()
    (sources / "img/logo.svg").unlink()

    collectstatic()
    assert "img/logo.svg" in s3_admin.keys(plain)

    output = collectstatic("--clear")
    assert "img/logo.svg" not in s3_admin.keys(plain)
    assert "Deleting 'img/logo.svg'" in output
    assert sorted(s3_admin.keys(plain)) == sorted(set(source_files()) - {"img/logo.svg"})


def test_clear_deletes_in_bulk(plain, proxy):
    collectstatic()
    proxy.requests.clear()

    collectstatic("--clear")

    deletes = [line for line in proxy.requests if line.startswith(("DELETE ", "POST "))]
    assert len(deletes) == 1  # one multi-object delete for all the files
    assert "?delete" in deletes[0]


def test_dry_run_changes_nothing(plain, proxy, s3_admin, sources):
    output = collectstatic("--dry-run")

    assert s3_admin.keys(plain) == []
    assert "Pretending to copy" in output  # as Django's, at verbosity 1
    assert f"{len(source_files())} static files copied" in output
    assert puts(proxy) == []


def test_concurrency_is_an_option(plain, proxy):
    output = collectstatic("--concurrency", "2")

    assert "2 at a time" in output
    assert len(puts(proxy)) == len(source_files())


def test_uploads_fill_the_concurrency_whatever_the_connection_pool(sources, proxy, static_bucket):
    # The uploads have a pool of their own: MINIO_MAX_CONNECTIONS bounds everything else.
    storages = static_storages(
        "async_minio_storage.MinioStaticStorage", proxy, MINIO_MAX_CONNECTIONS=2
    )
    proxy.delay(0.05)  # slow answers: uploads pile up to the bound
    with override_settings(STATICFILES_DIRS=[str(sources)], STORAGES=storages):
        collectstatic("--concurrency", "12")

    connections_for_uploads = proxy.accepted - 1  # one for the listing
    assert connections_for_uploads == 12
    assert len(puts(proxy)) == len(source_files())


def test_uploads_in_flight_hold_a_bounded_number_of_bytes(plain, proxy, monkeypatch):
    monkeypatch.setattr(collecting, "BYTES_IN_FLIGHT", 50)  # two of the 20-byte modules
    proxy.delay(0.01)

    collectstatic("--concurrency", "12")

    connections_for_uploads = proxy.accepted - 1  # one for the listing
    assert connections_for_uploads == 2
    assert len(puts(proxy)) == len(source_files())  # the 45-byte style sheet went alone


def test_a_large_file_is_uploaded_in_parts(plain, proxy, sources, s3_admin):
    big = bytes(range(256)) * (24 * 1024)  # 6 MiB
    (sources / "video/intro.bin").parent.mkdir()
    (sources / "video/intro.bin").write_bytes(big)
    with override_settings(
        MINIO_MULTIPART_THRESHOLD=5 * 1024 * 1024, MINIO_MULTIPART_PART_SIZE=5 * 1024 * 1024
    ):
        collectstatic()

    assert s3_admin.get(plain, "video/intro.bin") == big


def test_djangos_own_command_still_works(plain, s3_admin):
    collectstatic(command=DjangoCollectstatic())

    assert sorted(s3_admin.keys(plain)) == sorted(source_files())


# --- cache headers -------------------------------------------------------------------------------


def test_static_files_get_a_short_cache_by_default(plain, s3_admin):
    collectstatic()

    assert s3_admin.headers(plain, "js/module001.js")["cache-control"] == "public, max-age=60"


def test_minio_cache_control_replaces_the_default(sources, proxy, static_bucket, s3_admin):
    storages = static_storages(
        "async_minio_storage.MinioStaticStorage", proxy, MINIO_CACHE_CONTROL="no-store"
    )
    with override_settings(STATICFILES_DIRS=[str(sources)], STORAGES=storages):
        collectstatic()

    assert s3_admin.headers(static_bucket, "js/module001.js")["cache-control"] == "no-store"


def test_hashed_files_are_immutable(manifest, s3_admin):
    collectstatic()

    stored = json.loads(s3_admin.get(manifest, "staticfiles.json"))["paths"]
    hashed_css = stored["css/site.css"]
    assert hashed_css != "css/site.css"
    assert s3_admin.headers(manifest, hashed_css)["cache-control"] == (
        "public, max-age=31536000, immutable"
    )
    assert s3_admin.headers(manifest, "css/site.css")["cache-control"] == "public, max-age=60"
    assert s3_admin.headers(manifest, "staticfiles.json")["cache-control"] == "no-cache"


# --- the manifest storage ------------------------------------------------------------------------


def static_url(path: str) -> str:
    return Template("{% load static %}{% static path %}").render(Context({"path": path}))


def test_manifest_urls_are_hashed_and_fetchable(manifest, proxy):
    collectstatic()

    url = static_url("css/site.css")
    with urllib.request.urlopen(url) as response:
        css = response.read()

    assert re.search(r"/css/site\.[0-9a-f]{12}\.css$", url)
    assert re.search(rb"logo\.[0-9a-f]{12}\.svg", css)  # the reference was rewritten too


def test_a_second_manifest_run_uploads_nothing(manifest, proxy):
    collectstatic()
    puts(proxy)

    output = collectstatic()

    assert puts(proxy) == []
    assert "0 static files copied" in output


def test_a_changed_file_uploads_it_and_its_hashed_copy_and_the_manifest(manifest, proxy, sources):
    collectstatic()
    puts(proxy)
    (sources / "js/module007.js").write_bytes(b"export const n = 'seven';\n")

    collectstatic()

    uploaded = puts(proxy)
    assert len(uploaded) == 3
    (hashed_copy,) = set(uploaded) - {"js/module007.js", "staticfiles.json"}
    assert re.fullmatch(r"js/module007\.[0-9a-f]{12}\.js", hashed_copy)


def test_a_failed_run_keeps_the_previous_manifest(manifest, proxy, sources, s3_admin):
    collectstatic()
    before = s3_admin.get(manifest, "staticfiles.json")
    (sources / "js/module003.js").write_bytes(b"export const n = 'three';\n")
    proxy.answer_next(50, status=403, method="PUT")  # the listing works; every upload fails

    with pytest.raises(StorageRequestError, match="SlowDown"):
        collectstatic("--concurrency", "1")

    proxy.heal()
    assert s3_admin.get(manifest, "staticfiles.json") == before
    for stored in json.loads(before)["paths"].values():
        assert stored in s3_admin.keys(manifest)


# --- the system check ----------------------------------------------------------------------------


def test_a_warning_when_djangos_collectstatic_would_run(plain):
    apps = [
        "django.contrib.auth",
        "django.contrib.contenttypes",
        "django.contrib.sessions",
        "django.contrib.staticfiles",
        "async_minio_storage",
        "tests.testapp",
    ]
    with override_settings(INSTALLED_APPS=apps):
        ids = [message.id for message in run_checks()]

    assert "async_minio_storage.W002" in ids
    assert "async_minio_storage.W002" not in [message.id for message in run_checks()]
