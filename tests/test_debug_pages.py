"""No secret on Django's debug page, its plain-text report or its error mails.

With ``DEBUG = True`` (and in every ``AdminEmailHandler`` mail) Django prints each local
variable of each frame of the traceback. Every error path the suite can provoke is raised here
with a recognisable secret key and session token, and both renderings are searched for them.
A control test shows that a plain local holding the secret is found, so the search can fail.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.core.files.base import ContentFile
from django.test import RequestFactory
from django.test import override_settings
from django.views.debug import ExceptionReporter

from async_minio_storage import MinioStorage
from async_minio_storage import signing
from async_minio_storage.redacted import Secret
from tests.misbehaving_server import MisbehavingServer
from tests.s3_server import free_ports
from tests.test_credentials import Failing

TESTS = str(Path(__file__).parent)
SECRET = "debug-page-SENTINEL-secret-9f8e7d6c"
TOKEN = "debug-page-SENTINEL-token-5a4b3c2d"


class ReporterWithoutTestFrames(ExceptionReporter):
    """Django's reporter, leaving out the frames of ``tests/``: those hold the secret the
    test passes in, as any caller's frame would, and are not this package's."""

    def get_traceback_frames(self) -> list[dict[str, Any]]:
        frames: list[dict[str, Any]] = super().get_traceback_frames()
        return [frame for frame in frames if not str(frame["filename"]).startswith(TESTS)]


def pages_of(error: BaseException, *, test_frames: bool = False) -> tuple[str, str]:
    """The technical 500 page and the plain-text report Django renders for ``error``."""
    request = RequestFactory().get("/upload/", HTTP_X_TRACE="1")
    reporter_class = ExceptionReporter if test_frames else ReporterWithoutTestFrames
    reporter = reporter_class(request, type(error), error, error.__traceback__)
    return reporter.get_traceback_html(), reporter.get_traceback_text()


def raised_by(call: Callable[[], Any]) -> BaseException:
    try:
        call()
    except Exception as error:
        return error
    raise AssertionError("expected an error")


def assert_no_secret_in_the_pages(error: BaseException) -> None:
    html, text = pages_of(error)
    assert "Local vars" in html  # the frames and their variables are on the page
    for page in (html, text):
        assert SECRET not in page
        assert TOKEN not in page


def test_the_search_finds_a_secret_that_a_frame_shows():
    def sign_badly(secret_key: str) -> None:
        raise ValueError("signing failed")

    error = raised_by(lambda: sign_badly(SECRET))

    html, _ = pages_of(error, test_frames=True)
    assert SECRET in html


@pytest.fixture
def wrong_secret_storage(bucket: str):
    with override_settings(DEBUG=True, MINIO_SECRET_KEY=SECRET):
        yield MinioStorage(bucket_name=bucket, MINIO_SESSION_TOKEN=TOKEN)


@pytest.mark.parametrize(
    "operation",
    [
        lambda storage: storage.save("a.txt", ContentFile(b"x")),
        lambda storage: storage.exists("a.txt"),
        lambda storage: storage.open("a.txt"),
        lambda storage: storage.delete("a.txt"),
        lambda storage: storage.listdir(""),
        lambda storage: storage.presigned_upload("a.txt"),
        lambda storage: asyncio.run(storage.aexists("a.txt")),
        lambda storage: asyncio.run(storage.asave("a.txt", ContentFile(b"x"))),
    ],
    ids=["save", "exists", "open", "delete", "listdir", "presigned_upload", "aexists", "asave"],
)
def test_a_refused_signature_shows_no_secret(wrong_secret_storage, operation):
    error = raised_by(lambda: operation(wrong_secret_storage))

    assert_no_secret_in_the_pages(error)


def test_an_unreachable_server_shows_no_secret(bucket):
    (closed_port,) = free_ports(1)
    storage = MinioStorage(
        bucket_name=bucket,
        MINIO_ENDPOINT=f"127.0.0.1:{closed_port}",
        MINIO_SECRET_KEY=SECRET,
        MINIO_SESSION_TOKEN=TOKEN,
        MINIO_RETRY_ATTEMPTS=1,
    )

    assert_no_secret_in_the_pages(raised_by(lambda: storage.save("a.txt", ContentFile(b"x"))))


def test_a_wrong_region_answer_shows_no_secret():
    body = (
        b"<Error><Code>AuthorizationHeaderMalformed</Code>"
        b"<Message>expecting 'eu-west-3'</Message></Error>"
    )
    with MisbehavingServer(400, body, content_type="application/xml") as server:
        storage = MinioStorage(
            bucket_name="media",
            MINIO_ENDPOINT=server.endpoint,
            MINIO_ACCESS_KEY="key",
            MINIO_SECRET_KEY=SECRET,
            MINIO_RETRY_ATTEMPTS=1,
        )
        assert_no_secret_in_the_pages(raised_by(lambda: storage.delete("a.txt")))


@pytest.mark.parametrize(
    "options",
    [
        {"MINIO_MAX_CONNECTIONS": 0},  # another setting is bad while the secret is in hand
        {"MINIO_REGION": "not a region"},  # once only miniopy-async's constructor checked it
        {"MINIO_ENDPOINT": "https://with-a-scheme"},
        {"MINIO_SECRET_KEY": [SECRET]},  # the secret itself is bad
    ],
    ids=["max-connections", "region", "endpoint", "secret-in-a-list"],
)
def test_a_bad_setting_shows_no_secret(options):
    given = {"MINIO_SECRET_KEY": SECRET, "MINIO_SESSION_TOKEN": TOKEN, **options}

    as_keywords = raised_by(lambda: MinioStorage(bucket_name="media", **given).config)
    with override_settings(**given):
        as_settings = raised_by(lambda: MinioStorage(bucket_name="media").config)

    assert_no_secret_in_the_pages(as_keywords)
    assert_no_secret_in_the_pages(as_settings)


def test_a_bad_constructor_argument_shows_no_secret():
    error = raised_by(
        lambda: MinioStorage("media", replace_existing="yes", MINIO_SECRET_KEY=SECRET)
    )

    assert_no_secret_in_the_pages(error)


def test_a_failure_inside_the_signing_functions_shows_no_secret():
    def sign() -> str:
        return signing.presign_url(
            method="GET",
            base_url="http://x",
            bucket="media",
            key="a.txt",
            region="us-east-1",
            access_key="key",
            secret_key=Secret(SECRET),
            session_token=Secret(TOKEN),
            expires=None,  # type: ignore[arg-type]
        )

    assert_no_secret_in_the_pages(raised_by(sign))


def test_a_failing_credentials_provider_shows_no_secret(bucket):
    with override_settings(MINIO_SECRET_KEY=SECRET):
        storage = MinioStorage(bucket_name=bucket, MINIO_CREDENTIALS=Failing())
        assert_no_secret_in_the_pages(raised_by(lambda: storage.exists("a.txt")))


def test_the_secret_is_not_in_the_storage_config_or_connection_reprs():
    storage = MinioStorage(bucket_name="media", MINIO_SECRET_KEY=SECRET, MINIO_SESSION_TOKEN=TOKEN)
    shown = [repr(storage), repr(storage.config), repr(storage.config.connection)]
    shown += [repr(vars(storage)), repr(storage.config.secret_key), repr(storage.deconstruct())]

    assert not [text for text in shown if SECRET in text or TOKEN in text]
    assert storage.config.secret_key == SECRET  # the value itself is intact


def test_the_page_of_a_view_that_failed_in_a_sync_storage_call(bucket, client):
    # The whole round: a view's error page as the browser would get it with DEBUG = True.
    with override_settings(DEBUG=True, MINIO_SECRET_KEY=SECRET, DEBUG_PROPAGATE_EXCEPTIONS=False):
        client.raise_request_exception = False
        response = client.get(f"/debug-page/{bucket}/")

    assert response.status_code == 500
    assert b"Local vars" in response.content or b"Traceback" in response.content
    assert SECRET.encode() not in response.content
