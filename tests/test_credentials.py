"""Credentials: fixed keys with a session token, a provider (``MINIO_CREDENTIALS``) refreshed
before its keys expire, rotation between two valid identities without a failed call, and no
credential in ``deconstruct()`` (what ``makemigrations`` writes)."""

from __future__ import annotations

import asyncio
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC
from datetime import datetime
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs
from urllib.parse import urlsplit
from urllib.parse import urlunsplit

import aiohttp
import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.exceptions import SynchronousOnlyOperation
from django.core.files.base import ContentFile
from django.db import models
from django.db.migrations.writer import MigrationWriter
from miniopy_async import signer
from miniopy_async.credentials import Credentials
from miniopy_async.credentials.providers import Provider
from miniopy_async.helpers import queryencode

from async_minio_storage import MinioStorage
from async_minio_storage import StorageUnavailable
from async_minio_storage import signing
from async_minio_storage.redacted import Secret
from async_minio_storage.wire.miniopy import disown_provider_session
from tests.misbehaving_server import MisbehavingServer
from tests.s3_server import S3Server
from tests.s3_server import SeaweedFS

from .test_urls import fetch

TOKEN = "FQoGZXIvYXdzEXAMPLE-session-token/with+slashes=="


class Keys(Provider):
    """A provider of keys that expire ``lifetime`` after each retrieval, cycling through
    ``pairs``: what AssumeRole or an instance profile hands out, minus the network."""

    def __init__(self, pairs: list[tuple[str, str]], lifetime: timedelta) -> None:
        self.pairs = pairs
        self.lifetime = lifetime
        self.calls = 0
        self.threads: set[str] = set()

    async def retrieve(self) -> Credentials:
        self.threads.add(threading.current_thread().name)
        access, secret = self.pairs[self.calls % len(self.pairs)]
        self.calls += 1
        return Credentials(access, secret, None, datetime.now(UTC) + self.lifetime)


class Failing(Provider):
    async def retrieve(self) -> Credentials:
        raise ValueError("http://169.254.169.254/latest/api/token failed with HTTP status 401")


class Hanging(Provider):
    async def retrieve(self) -> Credentials:
        await asyncio.Event().wait()
        raise AssertionError("never")


def access_key_of(url: str) -> str:
    return parse_qs(urlsplit(url).query)["X-Amz-Credential"][0].split("/")[0]


# --- a session token with fixed keys ----------------------------------------------------------


def test_a_session_token_is_signed_into_urls_as_miniopy_async_signs_it():
    now = datetime(2026, 12, 1, 12, tzinfo=UTC)
    ours = signing.presign_url(
        method="GET",
        base_url="https://files.example.com",
        bucket="media",
        key="a b.txt",
        region="eu-west-1",
        access_key="ASIAEXAMPLE",
        secret_key=Secret("secret/EXAMPLE"),
        session_token=TOKEN,
        expires=timedelta(hours=1),
        now=now,
    )
    # miniopy-async puts the token in the query before it signs (Minio.get_presigned_url).
    url = urlsplit("https://files.example.com/media/a%20b.txt")
    query = f"X-Amz-Security-Token={queryencode(TOKEN)}"
    reference = signer.presign_v4(
        "GET",
        url._replace(query=query),
        "eu-west-1",
        Credentials("ASIAEXAMPLE", "secret/EXAMPLE", TOKEN),
        now,
        3600,
    )

    assert parse_qs(urlsplit(ours).query) == parse_qs(reference.query)
    assert urlunsplit(reference).split("?")[0] == ours.split("?")[0]


def test_a_session_token_goes_with_every_request_and_into_post_policies():
    with MisbehavingServer(200, body=b"") as server:
        storage = MinioStorage(
            bucket_name="media",
            MINIO_ENDPOINT=server.endpoint,
            MINIO_ACCESS_KEY="ASIAEXAMPLE",
            MINIO_SECRET_KEY="secret",
            MINIO_SESSION_TOKEN=TOKEN,
            MINIO_RETRY_ATTEMPTS=1,
        )
        storage.exists("a.txt")
        storage.delete("a.txt")

    assert [seen.get("x-amz-security-token") for seen in server.headers_seen] == [TOKEN, TOKEN]
    assert parse_qs(urlsplit(storage.url("a.txt")).query)["X-Amz-Security-Token"] == [TOKEN]
    _, fields = signing.post_policy(
        base_url="http://x",
        bucket="media",
        key="a.txt",
        region="us-east-1",
        access_key="ASIAEXAMPLE",
        secret_key=Secret("secret"),
        session_token=TOKEN,
        expires=timedelta(minutes=5),
        content_type="text/plain",
        max_size=None,
    )
    assert fields["x-amz-security-token"] == TOKEN
    assert TOKEN in str(signing.base64.b64decode(fields["policy"]))


# --- a provider ---------------------------------------------------------------------------------


def test_a_provider_signs_requests_and_urls(bucket, s3_server: S3Server):
    keys = Keys([(s3_server.access_key, s3_server.secret_key)], timedelta(hours=1))
    storage = MinioStorage(bucket_name=bucket, MINIO_CREDENTIALS=keys)

    name = storage.save("from-a-provider.txt", ContentFile(b"provided"))

    assert storage.open(name).read() == b"provided"
    status, body, _ = fetch(storage.url(name))
    assert (status, body) == (200, b"provided")
    assert keys.calls == 1  # fetched once, then reused until close to expiry
    assert keys.threads == {"async-minio-storage-portal"}  # on the portal loop only


def test_a_provider_is_named_by_its_dotted_path(bucket, s3_server: S3Server, monkeypatch):
    monkeypatch.setenv("MINIO_ACCESS_KEY", s3_server.access_key)
    monkeypatch.setenv("MINIO_SECRET_KEY", s3_server.secret_key)
    storage = MinioStorage(
        bucket_name=bucket,
        MINIO_CREDENTIALS="miniopy_async.credentials.providers.EnvMinioProvider",
    )

    assert storage.exists("nothing-here.txt") is False
    assert storage.config.access_key is None  # the provider's keys, not the settings'


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("no.such.module.Provider", "cannot import 'no.such.module.Provider'"),
        (42, "MINIO_CREDENTIALS must be a miniopy_async.credentials provider"),
    ],
)
def test_a_bad_provider_setting_is_refused(value: Any, message: str):
    with pytest.raises(ImproperlyConfigured, match=message):
        MinioStorage(bucket_name="media", MINIO_CREDENTIALS=value).config  # noqa: B018


def test_a_provider_that_fails_raises_storage_unavailable_naming_it(bucket):
    storage = MinioStorage(bucket_name=bucket, MINIO_CREDENTIALS=Failing())

    with pytest.raises(StorageUnavailable, match=r"provider \(Failing\) failed: ValueError"):
        storage.exists("a.txt")


def test_a_provider_that_hangs_is_given_up_after_the_operation_timeout(bucket):
    storage = MinioStorage(
        bucket_name=bucket, MINIO_CREDENTIALS=Hanging(), MINIO_OPERATION_TIMEOUT=0.5
    )
    started = time.monotonic()

    with pytest.raises(StorageUnavailable, match=r"MINIO_OPERATION_TIMEOUT \(?0\.5 s"):
        storage.exists("a.txt")
    assert time.monotonic() - started < 2.5


async def test_url_on_a_loop_without_credentials_yet_names_aurl(bucket, s3_server: S3Server):
    keys = Keys([(s3_server.access_key, s3_server.secret_key)], timedelta(hours=1))
    storage = MinioStorage(bucket_name=bucket, MINIO_CREDENTIALS=keys)

    with pytest.raises(SynchronousOnlyOperation, match=r"await storage\.aurl\(\.\.\.\)"):
        storage.url("a.txt")
    url = await storage.aurl("a.txt")

    assert access_key_of(url) == s3_server.access_key
    assert access_key_of(storage.url("a.txt")) == s3_server.access_key  # now without a wait


@pytest.mark.once
def test_rotation_between_two_identities_fails_no_call(tmp_path: Path, s3_server: S3Server):
    """Keys that live 12 s are usable for 2 (the last 10 are not used): over the run the
    provider hands out the two identities in turn, while saves, reads and URLs go on from
    four threads. Not one call may fail, and every URL must open."""
    if not s3_server.is_seaweedfs:
        pytest.skip("needs a server of its own with two valid keys")
    weed = SeaweedFS(tmp_path)
    weed.more_keys = [("seaweed-test-second", "seaweed-test-second-secret-42")]
    server = weed.start()
    try:
        pairs = [(server.access_key, server.secret_key), *weed.more_keys]
        keys = Keys(pairs, timedelta(seconds=12))
        storage = MinioStorage(
            bucket_name="rotation",
            MINIO_ENDPOINT=server.endpoint,
            MINIO_CREDENTIALS=keys,
            MINIO_BUCKET_CHECK_ON_SAVE=True,
        )
        used: set[str] = set()

        def work(worker: int) -> int:
            done = 0
            deadline = time.monotonic() + 60
            while keys.calls < 5 and time.monotonic() < deadline:
                name = storage.save(f"w{worker}/{done}.txt", ContentFile(b"%d" % done))
                assert storage.open(name).read() == b"%d" % done
                url = storage.url(name)
                used.add(access_key_of(url))
                status, body, _ = fetch(url)
                assert (status, body) == (200, b"%d" % done)
                done += 1
            return done

        with ThreadPoolExecutor(4) as pool:
            done = sum(pool.map(work, range(4)))
    finally:
        weed.stop()

    assert keys.calls >= 5
    assert used == {server.access_key, "seaweed-test-second"}
    assert done > 4


# --- migrations -----------------------------------------------------------------------------


def test_deconstruct_never_writes_credentials():
    provider = Keys([("a", "b")], timedelta(hours=1))
    storage = MinioStorage(
        "media",
        MINIO_ACCESS_KEY="AKIA-IN-A-MIGRATION",
        MINIO_SECRET_KEY="never-in-a-migration",
        MINIO_SESSION_TOKEN=TOKEN,
        MINIO_REGION="eu-west-1",
    )
    field = models.FileField(storage=storage)
    field.set_attributes_from_name("document")

    path, args, kwargs = storage.deconstruct()
    written, _ = MigrationWriter.serialize(field)

    assert (path, args, kwargs) == (
        "async_minio_storage.MinioStorage",
        ("media",),
        {"MINIO_REGION": "eu-west-1"},
    )
    for secret in ("AKIA-IN-A-MIGRATION", "never-in-a-migration", TOKEN):
        assert secret not in written
    assert "eu-west-1" in written
    assert MinioStorage(MINIO_CREDENTIALS=provider).deconstruct()[2] == {}


async def test_after_a_fork_a_provider_forgets_the_session_it_made_in_the_parent():
    provider = Keys([("a", "b")], timedelta(hours=1))
    session = aiohttp.ClientSession()
    provider._session = session  # as miniopy-async's providers make one on their first refresh

    disown_provider_session(provider)

    assert provider._session is None  # the child's first refresh makes its own
    assert session.connector is not None
    assert session.connector.closed  # disowned: its finaliser closes nothing of the parent's


# AWS's SigV4 test suite, case post-sts-header-before: a POST whose session token is a signed
# header, service "service", region us-east-1, 2015-08-30T12:36:00Z, AWS's example keys.
AWS_SUITE_TOKEN = (
    "AQoDYXdzEPT//////////wEXAMPLEtc764bNrC9SAPBSM22wDOk4x4HIZ8j4FZTwdQWLWsKWHGBuFqwAeMicRXmxfp"
    "SPfIeoIYRqTflfKD8YUuwthAx7mSEI/qkPpKPi/kMcGdQrmGdeehM4IC1NtBmUpp2wUE8phUZampKsburEDy0KPkyQ"
    "DYwT7WZ0wq5VSXDvp75YU9HFvlRd8Tx6q6fE8YQcHNVXAkiY9q6d+xo0rKwT38xVqr7ZD0u0iPPkUL64lIZbqBAz+sc"
    "qKmlzm8FDrypNC9Yjc8fPOLn9FX9KSYvKTr4rvx3iSIlTJabIQwj2ICCR/oLxBA=="
)
AWS_SUITE_SIGNATURE = "85d96828115b5dc0cfc3bd16ad9e210dd772bbebba041836c64533a82be05ead"


def test_the_signer_reproduces_aws_sigv4_suite_case_with_a_session_token():
    headers, signed = signing._canonical_headers(
        {
            "Host": "example.amazonaws.com",
            "X-Amz-Date": "20150830T123600Z",
            "X-Amz-Security-Token": AWS_SUITE_TOKEN,
        }
    )
    empty_payload = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    canonical_request = "\n".join(("POST", "/", "", headers, signed, empty_payload))

    signature = signing._signature(
        canonical_request,
        "20150830T123600Z",
        "us-east-1",
        Secret("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"),
        service="service",
    )

    assert signed == "host;x-amz-date;x-amz-security-token"
    assert signature == AWS_SUITE_SIGNATURE
