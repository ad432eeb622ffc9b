"""The example project in a real browser: upload, large files, gallery, admin, download, health."""

from __future__ import annotations

import json
import os
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urljoin

import pytest
from playwright.sync_api import Browser
from playwright.sync_api import Page

from tests.browser.conftest import ARTIFACTS
from tests.browser.conftest import RunningExample


def png_image(width: int, height: int, rgb: tuple[int, int, int]) -> bytes:
    """A small, valid PNG of one colour."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        checksum = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", checksum)

    rows = b"".join(b"\x00" + bytes(rgb) * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


@pytest.fixture(scope="session")
def uploaded_png(example: RunningExample, browser, tmp_path_factory) -> dict[str, str]:
    """A PNG uploaded through the example's upload page, as a person would."""
    path = tmp_path_factory.mktemp("upload") / "sunset.png"
    path.write_bytes(png_image(64, 48, (240, 120, 40)))
    context = browser.new_context()
    page = context.new_page()
    page.goto(example.url)
    page.set_input_files("#file", str(path))
    page.check("input[value=public]")
    page.click("#upload-button")
    page.wait_for_selector("#result", state="visible")
    result = {
        "name": page.inner_text("#result-name"),
        "size": page.inner_text("#result-size"),
        "content_type": page.inner_text("#result-type"),
        "progress": page.eval_on_selector("#progress", "bar => bar.value"),
        "bytes": str(path.stat().st_size),
    }
    context.close()
    return result


def test_the_upload_page_stores_the_file_and_shows_what_was_stored(uploaded_png):
    assert uploaded_png["name"].endswith("/sunset.png")
    assert uploaded_png["size"] == uploaded_png["bytes"]
    assert uploaded_png["content_type"] == "image/png"
    assert uploaded_png["progress"] == 100


def test_the_gallery_shows_the_upload_and_the_image_loads(page: Page, example, uploaded_png):
    page.goto(f"{example.url}gallery/")
    image = page.locator("img[alt='sunset.png']").first
    image.wait_for()
    page.wait_for_function("image => image.complete", arg=image.element_handle())

    assert image.evaluate("image => image.naturalWidth") == 64
    assert "X-Amz-Signature" not in image.get_attribute("src")  # a public bucket: plain URL


def log_in(page: Page, example: RunningExample) -> None:
    page.goto(f"{example.url}admin/login/")
    page.fill("#id_username", "admin")
    page.fill("#id_password", example.admin_password)
    page.click("input[type=submit]")
    page.wait_for_url(f"{example.url}admin/")


def test_the_admin_uploads_through_a_model_file_field(page: Page, example, tmp_path):
    document = tmp_path / "contract.txt"
    document.write_bytes(b"Signed and sealed.\n" * 100)
    log_in(page, example)

    page.goto(f"{example.url}admin/gallery/privateattachment/add/")
    page.set_input_files("#id_file", str(document))
    page.click("input[name=_save]")

    assert "was added successfully" in page.inner_text(".messagelist")
    assert "contract.txt" in page.inner_text("#result_list")


def test_a_private_file_downloads_through_the_streaming_view(page: Page, example, tmp_path):
    content = bytes(range(256)) * 4096  # 1 MiB
    upload = tmp_path / "report.bin"
    upload.write_bytes(content)
    page.goto(example.url)
    page.set_input_files("#file", str(upload))
    page.check("input[value=private]")
    page.click("#upload-button")
    page.wait_for_selector("#result", state="visible")

    page.goto(f"{example.url}gallery/")
    with page.expect_download() as download:
        page.locator("li.item", has_text="report.bin").locator("a.download").click()

    saved = Path(download.value.path())
    assert download.value.suggested_filename == "report.bin"
    assert saved.read_bytes() == content


def test_the_health_endpoint_answers_ok(page: Page, example):
    response = page.goto(f"{example.url}health/")

    assert response is not None
    assert response.status == 200
    assert json.loads(page.inner_text("body"))["status"] == "ok"


# --- large files: straight from the browser to the object store --------------------------------


@dataclass(frozen=True)
class LargeUpload:
    """What the "Large files" page showed, and which requests it sent, for one upload."""

    content: bytes
    name: str
    size: str
    content_type: str
    progress: float
    percent: str
    download_url: str
    requests: list[tuple[str, str]]  # (method, URL)


@pytest.fixture(scope="session")
def large_upload(
    example: RunningExample, browser: Browser, tmp_path_factory: pytest.TempPathFactory
) -> LargeUpload:
    """A 6 MiB file sent through the "Large files" page, as a person would."""
    content = os.urandom(6 * 1024 * 1024)  # random bytes: any mix-up or truncation shows
    path = tmp_path_factory.mktemp("large") / "holiday-video.mp4"
    path.write_bytes(content)
    context = browser.new_context(viewport={"width": 1100, "height": 760})
    page = context.new_page()
    requests: list[tuple[str, str]] = []
    page.on("request", lambda request: requests.append((request.method, request.url)))
    page.goto(f"{example.url}large/")
    page.set_input_files("#large-file", str(path))
    page.click("#large-upload-button")
    page.wait_for_selector("#large-result:not([hidden]), #large-error:not([hidden])")
    assert page.locator("#large-error").is_hidden(), page.inner_text("#large-error")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=ARTIFACTS / "large_upload.png", full_page=True)
    upload = LargeUpload(
        content=content,
        name=page.inner_text("#large-result-name"),
        size=page.inner_text("#large-result-size"),
        content_type=page.inner_text("#large-result-type"),
        progress=page.eval_on_selector("#large-progress", "bar => bar.value"),
        percent=page.inner_text("#large-percent"),
        download_url=page.get_attribute("#large-result-download", "href") or "",
        requests=requests,
    )
    context.close()
    return upload


def test_a_large_file_goes_from_the_browser_straight_to_the_object_store(large_upload, example):
    puts = [url for method, url in large_upload.requests if method == "PUT"]
    posts = [url for method, url in large_upload.requests if method == "POST"]

    assert len(puts) == 1
    assert not puts[0].startswith(example.url)  # the object store, not Django
    assert "X-Amz-Signature=" in puts[0]
    assert posts == [f"{example.url}large/start/", f"{example.url}large/confirm/"]


def test_the_large_file_progress_bar_reaches_100_percent(large_upload):
    assert large_upload.progress == 100
    assert large_upload.percent == "100%"


def test_the_large_file_page_shows_what_was_stored(large_upload):
    assert large_upload.name.endswith("/holiday-video.mp4")
    assert large_upload.size == str(len(large_upload.content))
    assert large_upload.content_type == "video/mp4"


def test_the_large_file_downloads_intact_through_django(page: Page, example, large_upload):
    response = page.request.get(urljoin(example.url, large_upload.download_url))

    assert response.status == 200
    assert response.headers["content-disposition"] == 'attachment; filename="holiday-video.mp4"'
    assert response.body() == large_upload.content


def test_a_range_request_gets_just_those_bytes(page: Page, example, large_upload):
    url = urljoin(example.url, large_upload.download_url)

    response = page.request.get(url, headers={"Range": "bytes=0-9"})

    assert response.status == 206
    assert response.headers["content-range"] == f"bytes 0-9/{len(large_upload.content)}"
    assert response.body() == large_upload.content[:10]


def test_a_download_whose_etag_still_matches_gets_304(page: Page, example, large_upload):
    url = urljoin(example.url, large_upload.download_url)
    etag = page.request.head(url).headers["etag"]

    response = page.request.get(url, headers={"If-None-Match": etag})

    assert response.status == 304
    assert response.body() == b""


def test_the_gallery_lists_the_large_file(page: Page, example, large_upload):
    page.goto(f"{example.url}gallery/")
    item = page.locator("li.item", has_text="holiday-video.mp4")

    assert item.get_attribute("class") == "item private"
    assert item.locator("a.download").get_attribute("href") == large_upload.download_url
