"""django-minio-backend's defaults, which a project that switches keeps without a change.

Its static bucket is ``auto-generated-bucket-static-files`` and public; its constructor is
``MinioBackend(bucket_name, storage_name)``; ``initialize_buckets`` sets up the buckets that
the project uses.
"""

from __future__ import annotations

import io
import urllib.request
from collections.abc import Iterator

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.test import override_settings

from async_minio_storage import MinioBackend
from async_minio_storage import MinioBackendStatic
from async_minio_storage import MinioStaticStorage
from async_minio_storage import MinioStorage
from async_minio_storage.checks import check_minio_settings
from tests.conftest import SESSION_PREFIX
from tests.conftest import S3Admin

ANCESTOR_STATIC_BUCKET = "auto-generated-bucket-static-files"
MEDIA = f"{SESSION_PREFIX}-defaults-media"
STATIC = f"{SESSION_PREFIX}-defaults-static"


@pytest.fixture
def unlisted() -> Iterator[None]:
    """No bucket lists, and the default bucket names, as a project that never set them."""
    with override_settings(
        MINIO_PUBLIC_BUCKETS=[],
        MINIO_PRIVATE_BUCKETS=[],
        MINIO_STATIC_FILES_BUCKET=None,
        MINIO_MEDIA_FILES_BUCKET=None,
    ):
        yield


@pytest.fixture
def project(s3_admin: S3Admin) -> Iterator[None]:
    """A media storage and a static storage in STORAGES, with buckets the server lacks."""
    storages = {
        "default": {"BACKEND": "async_minio_storage.MinioStorage"},
        "staticfiles": {"BACKEND": "async_minio_storage.MinioStaticStorage"},
    }
    with override_settings(
        STORAGES=storages,
        MINIO_PUBLIC_BUCKETS=[],
        MINIO_PRIVATE_BUCKETS=[MEDIA],
        MINIO_MEDIA_FILES_BUCKET=MEDIA,
        MINIO_STATIC_FILES_BUCKET=STATIC,
    ):
        yield
    for bucket in (MEDIA, STATIC):
        if s3_admin.bucket_exists(bucket):
            s3_admin.remove_bucket(bucket)


def test_the_static_bucket_is_the_ancestors_and_public(unlisted):
    storage = MinioBackendStatic()

    assert storage.bucket_name == ANCESTOR_STATIC_BUCKET
    assert storage.is_public
    assert "X-Amz-Signature" not in storage.url("css/site.css")


def test_a_static_bucket_listed_as_private_gets_presigned_urls(unlisted):
    with override_settings(MINIO_PRIVATE_BUCKETS=[ANCESTOR_STATIC_BUCKET]):
        storage = MinioStaticStorage()

        assert not storage.is_public
        assert "X-Amz-Signature" in storage.url("css/site.css")


def test_the_media_bucket_stays_private_unless_listed(unlisted):
    assert not MinioStorage().is_public


def test_initialize_buckets_makes_the_static_bucket_readable_by_anyone(project, s3_admin):
    call_command("initialize_buckets", stdout=io.StringIO())
    s3_admin.put(STATIC, "css/site.css", b"body{}", "text/css")

    url = MinioStaticStorage().url("css/site.css")

    assert "X-Amz-Signature" not in url
    with urllib.request.urlopen(url) as response:  # anonymous: no signature, no keys
        assert response.read() == b"body{}"


def test_initialize_buckets_creates_only_the_buckets_the_project_uses(s3_admin):
    unused_static = f"{SESSION_PREFIX}-defaults-unused-static"
    storages = {
        "default": {"BACKEND": "async_minio_storage.MinioStorage"},
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    try:
        with override_settings(
            STORAGES=storages,
            MINIO_PUBLIC_BUCKETS=[],
            MINIO_PRIVATE_BUCKETS=[],
            MINIO_MEDIA_FILES_BUCKET=MEDIA,
            MINIO_STATIC_FILES_BUCKET=unused_static,
        ):
            call_command("initialize_buckets", stdout=io.StringIO())

        assert s3_admin.bucket_exists(MEDIA)
        assert not s3_admin.bucket_exists(unused_static)
    finally:
        for bucket in (MEDIA, unused_static):
            if s3_admin.bucket_exists(bucket):
                s3_admin.remove_bucket(bucket)


def test_the_ancestors_positional_arguments_are_bucket_name_and_storage_name():
    storage = MinioBackend("photos", "default")

    assert storage.bucket_name == "photos"
    assert storage.storage_name == "default"
    assert storage.replace_existing is False


def test_replace_existing_is_a_keyword_argument():
    with pytest.raises(ImproperlyConfigured, match="replace_existing is a keyword argument"):
        MinioStorage("photos", True)  # type: ignore[arg-type]


@pytest.mark.parametrize("value", ["default", 1, None])
def test_replace_existing_that_is_not_a_bool_is_refused(value):
    with pytest.raises(ImproperlyConfigured, match="replace_existing must be True or False"):
        MinioStorage(bucket_name="photos", replace_existing=value)


def test_the_public_static_bucket_draws_no_warning_for_being_unlisted(unlisted):
    storages = {
        "default": {"BACKEND": "async_minio_storage.MinioStorage"},
        "staticfiles": {"BACKEND": "async_minio_storage.MinioStaticStorage"},
    }
    with override_settings(STORAGES=storages):
        warned = [message.obj for message in check_minio_settings() if message.id.endswith("W001")]

    assert warned == ["STORAGES['default']"]
