"""The secret key never shows: not in errors, logs, reprs, the health view or ``manage.py check``.

Every test here runs with a recognisable secret and searches everything it can capture.
"""

from __future__ import annotations

import io
import logging
import traceback

import pytest
from django.core.files.base import ContentFile
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.test import Client
from django.test import override_settings

from async_minio_storage import MinioStorage
from tests.s3_server import free_ports

SECRET = "secret-SENTINEL-0123456789abcdef"


def texts_of(error: BaseException) -> list[str]:
    """Everything an error can show: its message, repr and formatted traceback, causes included."""
    return [str(error), repr(error), "".join(traceback.format_exception(error))]


def attempt_everything(storage: MinioStorage) -> list[str]:
    """Call every operation; collect what each shows, whether it works or fails."""
    said = [repr(storage), str(storage), repr(storage.config), repr(storage.config.connection)]
    calls = [
        lambda: storage.save("secret-test.txt", ContentFile(b"x")),
        lambda: storage.exists("secret-test.txt"),
        lambda: storage.size("secret-test.txt"),
        lambda: storage.open("secret-test.txt").read(),
        lambda: storage.delete("secret-test.txt"),
        lambda: storage.listdir(""),
        lambda: storage.url("secret-test.txt"),
    ]
    for call in calls:
        try:
            said.append(repr(call()))
        except Exception as error:  # every failure is searched, whatever it is
            said += texts_of(error)
    status = storage.is_minio_available()
    said += [repr(status), str(status.as_dict())]
    return said


def logged(caplog: pytest.LogCaptureFixture) -> list[str]:
    said = []
    for record in caplog.records:
        said.append(record.getMessage())
        if record.exc_info and record.exc_info[1] is not None:
            said += texts_of(record.exc_info[1])
    return said


def test_with_a_wrong_secret_nothing_shows_it(bucket, caplog):
    with caplog.at_level(logging.DEBUG), override_settings(MINIO_SECRET_KEY=SECRET):
        said = attempt_everything(MinioStorage(bucket_name=bucket))
        said.append(Client().get("/health/").content.decode())
        out = io.StringIO()
        call_command("check", stdout=out, stderr=out)
        said.append(out.getvalue())

    assert any("SignatureDoesNotMatch" in text or "403" in text for text in said)
    assert not [text for text in [*said, *logged(caplog)] if SECRET in text]


def test_with_the_server_down_nothing_shows_the_secret(bucket, caplog):
    (closed_port,) = free_ports(1)
    with caplog.at_level(logging.DEBUG), override_settings(MINIO_SECRET_KEY=SECRET):
        storage = MinioStorage(bucket_name=bucket, MINIO_ENDPOINT=f"127.0.0.1:{closed_port}")
        said = attempt_everything(storage)

    assert not [text for text in [*said, *logged(caplog)] if SECRET in text]


@pytest.mark.parametrize("secret", [[SECRET], {"key": SECRET}, (SECRET, SECRET)])
def test_an_invalid_secret_setting_is_refused_without_echoing_it(secret):
    with override_settings(MINIO_SECRET_KEY=secret), pytest.raises(SystemCheckError) as refused:
        call_command("check")

    assert "MINIO_SECRET_KEY" in str(refused.value)
    assert SECRET not in str(refused.value)
