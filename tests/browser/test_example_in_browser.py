"""The example project in a real browser: upload, gallery, admin, streaming download, health."""

from __future__ import annotations

import json
import struct
import zlib
from pathlib import Path

import pytest
from playwright.sync_api import Page

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
