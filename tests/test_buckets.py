"""``initialize_buckets`` and the on-start consistency check, against the real server."""

from __future__ import annotations

import io
import json
import sys
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest
from django.apps import apps
from django.core.management import CommandError
from django.core.management import call_command
from django.test import override_settings

from async_minio_storage import MinioStorage
from async_minio_storage.buckets import public_read_policy
from async_minio_storage.consistency import acheck_buckets
from tests.conftest import SESSION_PREFIX
from tests.conftest import S3Admin


class Buckets:
    private = f"{SESSION_PREFIX}-init-private"
    public = f"{SESSION_PREFIX}-init-public"
    media = f"{SESSION_PREFIX}-init-media"
    static = f"{SESSION_PREFIX}-init-static"
    all = (private, public, media, static)


@pytest.fixture
def declared(s3_admin: S3Admin) -> Iterator[type[Buckets]]:
    """Settings that declare four buckets the server does not have yet; removed afterwards."""
    with override_settings(
        MINIO_PRIVATE_BUCKETS=[Buckets.private, Buckets.media],
        MINIO_PUBLIC_BUCKETS=[Buckets.public, Buckets.static],
        MINIO_MEDIA_FILES_BUCKET=Buckets.media,
        MINIO_STATIC_FILES_BUCKET=Buckets.static,
    ):
        yield Buckets
    for bucket in Buckets.all:
        s3_admin.remove_bucket(bucket)


def initialize_buckets() -> str:
    out = io.StringIO()
    call_command("initialize_buckets", stdout=out)
    return out.getvalue()


def anonymous(method: str, url: str) -> int:
    request = urllib.request.Request(url, method=method, data=b"x" if method == "PUT" else None)
    try:
        with urllib.request.urlopen(request) as response:
            return response.status
    except urllib.error.HTTPError as error:
        with error:
            return error.code


def test_initialize_buckets_creates_every_declared_bucket(declared, s3_admin):
    output = initialize_buckets()

    for bucket in declared.all:
        assert s3_admin.bucket_exists(bucket)
        assert f"created bucket {bucket}" in output
    assert "Buckets are in order (6 changed)" in output


def test_the_public_policy_grants_anonymous_users_get_object_only(declared, s3_admin):
    initialize_buckets()

    (statement,) = json.loads(s3_admin.policy(declared.public))["Statement"]
    assert statement["Effect"] == "Allow"
    assert statement["Action"] in ("s3:GetObject", ["s3:GetObject"])
    assert statement["Resource"] in (
        f"arn:aws:s3:::{declared.public}/*",
        [f"arn:aws:s3:::{declared.public}/*"],
    )
    assert s3_admin.policy(declared.private) is None


def test_buckets_are_initialized_concurrently(declared, proxy):
    with override_settings(MINIO_ENDPOINT=proxy.endpoint):
        initialize_buckets()

    # One request after another would reuse a single connection; requests in flight together
    # each need their own.
    assert proxy.accepted >= 2


def test_public_buckets_may_be_read_but_not_listed_or_written(declared, s3_admin, s3_server):
    initialize_buckets()
    s3_admin.put(declared.public, "open.txt", b"open")
    s3_admin.put(declared.private, "closed.txt", b"closed")

    assert anonymous("GET", f"{s3_server.base_url}/{declared.public}/open.txt") == 200
    assert anonymous("GET", f"{s3_server.base_url}/{declared.public}/") == 403
    assert anonymous("PUT", f"{s3_server.base_url}/{declared.public}/new.txt") == 403
    assert anonymous("DELETE", f"{s3_server.base_url}/{declared.public}/open.txt") == 403
    assert anonymous("GET", f"{s3_server.base_url}/{declared.private}/closed.txt") == 403


def test_initialize_buckets_twice_changes_nothing_the_second_time(declared):
    initialize_buckets()

    assert "Buckets are in order (0 changed)" in initialize_buckets()


def test_a_private_bucket_loses_its_anonymous_policy(declared, s3_admin, s3_server):
    initialize_buckets()
    s3_admin.put(declared.private, "leaked.txt", b"leaked")
    with override_settings(MINIO_PRIVATE_BUCKETS=[], MINIO_PUBLIC_BUCKETS=[declared.private]):
        initialize_buckets()  # the bucket was public once
    assert anonymous("GET", f"{s3_server.base_url}/{declared.private}/leaked.txt") == 200

    output = initialize_buckets()

    assert f"removed the anonymous policy of private bucket {declared.private}" in output
    assert anonymous("GET", f"{s3_server.base_url}/{declared.private}/leaked.txt") == 403


def test_policy_hooks_are_applied_once(declared, s3_admin, s3_server):
    policy = public_read_policy(declared.private)
    policy["Statement"][0]["Resource"] = [f"arn:aws:s3:::{declared.private}/shared/*"]

    with override_settings(MINIO_POLICY_HOOKS=[(declared.private, policy)]):
        first = initialize_buckets()
        second = initialize_buckets()

    assert f"applied the MINIO_POLICY_HOOKS policy to bucket {declared.private}" in first
    assert "(0 changed)" in second
    assert json.loads(s3_admin.policy(declared.private))["Statement"][0]["Effect"] == "Allow"
    s3_admin.put(declared.private, "shared/a.txt", b"a")
    s3_admin.put(declared.private, "hidden/b.txt", b"b")
    assert anonymous("GET", f"{s3_server.base_url}/{declared.private}/shared/a.txt") == 200
    assert anonymous("GET", f"{s3_server.base_url}/{declared.private}/hidden/b.txt") == 403


def test_initialize_buckets_fails_loudly(declared):
    with (
        override_settings(MINIO_SECRET_KEY="wrong-secret-for-this-server"),
        pytest.raises(
            CommandError,
            match=r"Could not initialize the buckets.*(AccessDenied|SignatureDoesNotMatch)",
        ),
    ):
        initialize_buckets()


def test_the_consistency_check_runs_when_django_starts(declared, s3_admin, monkeypatch):
    monkeypatch.setattr(sys, "argv", ["manage.py", "runserver"])
    threads_before = threading.active_count()

    with override_settings(MINIO_CONSISTENCY_CHECK_ON_START=True):
        apps.get_app_config("async_minio_storage").ready()

    assert all(s3_admin.bucket_exists(bucket) for bucket in declared.all)
    assert threading.active_count() == threads_before  # no loop or thread left behind


@pytest.mark.parametrize("command", ["makemigrations", "check", "migrate", "collectstatic"])
def test_the_consistency_check_is_skipped_for_commands_that_need_no_server(
    declared, s3_admin, monkeypatch, command
):
    monkeypatch.setattr(sys, "argv", ["manage.py", command])

    with override_settings(MINIO_CONSISTENCY_CHECK_ON_START=True):
        apps.get_app_config("async_minio_storage").ready()

    assert not any(s3_admin.bucket_exists(bucket) for bucket in declared.all)


def test_the_consistency_check_is_off_by_default(declared, s3_admin, monkeypatch):
    monkeypatch.setattr(sys, "argv", ["manage.py", "runserver"])

    apps.get_app_config("async_minio_storage").ready()

    assert not s3_admin.bucket_exists(declared.private)


@pytest.mark.parametrize(
    "argv",
    [["/venv/bin/pytest", "-q"], ["/venv/lib/python3.11/site-packages/pytest/__main__.py"]],
)
def test_the_consistency_check_is_skipped_under_pytest(declared, s3_admin, monkeypatch, argv):
    monkeypatch.setattr(sys, "argv", argv)

    with override_settings(MINIO_CONSISTENCY_CHECK_ON_START=True):
        apps.get_app_config("async_minio_storage").ready()

    assert not s3_admin.bucket_exists(declared.private)


def test_a_storage_ensures_its_own_bucket(declared, s3_admin):
    storage = MinioStorage(bucket_name=declared.private)

    assert storage.ensure_bucket() is True
    assert storage.ensure_bucket() is False
    assert s3_admin.bucket_exists(declared.private)


async def test_a_storage_ensures_its_own_bucket_from_async_code(declared, s3_admin):
    storage = MinioStorage(bucket_name=declared.public)

    assert await storage.aensure_bucket() is True
    assert s3_admin.bucket_exists(declared.public)


async def test_acheck_buckets_brings_every_configured_bucket_in_line(declared, s3_admin):
    changes = await acheck_buckets()

    assert f"created bucket {declared.media}" in changes
    assert all(s3_admin.bucket_exists(bucket) for bucket in declared.all)
