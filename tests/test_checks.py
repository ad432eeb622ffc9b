"""System checks: each fires on its bad setting, and a good configuration is silent."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.test import override_settings

from async_minio_storage.checks import check_minio_settings


def ids(**settings: object) -> set[str]:
    with override_settings(**settings):
        return {message.id for message in check_minio_settings()}


def minio_storages(**options: object) -> dict[str, dict[str, object]]:
    return {
        "default": {"BACKEND": "async_minio_storage.MinioStorage", "OPTIONS": options},
        "staticfiles": {"BACKEND": "async_minio_storage.MinioStaticStorage"},
    }


def test_a_good_configuration_is_silent():
    assert check_minio_settings() == []


def test_manage_py_check_runs_them():
    with (
        override_settings(MINIO_ENDPOINT="http://minio:9000"),
        pytest.raises(SystemCheckError, match=r"async_minio_storage\.E002"),
    ):
        call_command("check")


@pytest.mark.parametrize("setting", ["MINIO_ENDPOINT", "MINIO_ACCESS_KEY", "MINIO_SECRET_KEY"])
def test_e001_a_missing_endpoint_or_key(setting):
    assert "async_minio_storage.E001" in ids(**{setting: None})


@pytest.mark.parametrize(
    ("setting", "value"),
    [
        ("MINIO_ENDPOINT", "https://minio:9000"),
        ("MINIO_ENDPOINT", "minio:9000/minio"),
        ("MINIO_EXTERNAL_ENDPOINT", "files.example.com/prefix"),
    ],
)
def test_e002_an_endpoint_with_a_scheme_or_path(setting, value):
    assert "async_minio_storage.E002" in ids(**{setting: value})


def test_e003_a_bucket_both_private_and_public(minio_settings):
    shared = minio_settings["MINIO_PRIVATE_BUCKETS"][0]

    assert "async_minio_storage.E003" in ids(
        MINIO_PUBLIC_BUCKETS=[*minio_settings["MINIO_PUBLIC_BUCKETS"], shared]
    )


@pytest.mark.parametrize(
    "settings",
    [
        {"MINIO_PRIVATE_BUCKETS": ["Invalid_Bucket"]},
        {"MINIO_MEDIA_FILES_BUCKET": "x"},
        {"STORAGES": minio_storages(bucket_name="UPPER")},
    ],
)
def test_e004_an_invalid_bucket_name(settings):
    assert "async_minio_storage.E004" in ids(**settings)


@pytest.mark.parametrize("expiry", [timedelta(days=8), timedelta(0), "1 day"])
def test_e005_a_url_expiry_out_of_range(expiry):
    assert "async_minio_storage.E005" in ids(MINIO_URL_EXPIRY_HOURS=expiry)


@pytest.mark.parametrize("hooks", [{"bucket": {}}, [("bucket-name",)], [("bucket-name", "{}")]])
def test_e006_policy_hooks_of_the_wrong_shape(hooks):
    assert "async_minio_storage.E006" in ids(MINIO_POLICY_HOOKS=hooks)


@pytest.mark.parametrize(
    "settings",
    [
        {"MINIO_USE_HTTPS": "yes"},
        {"STORAGES": minio_storages(MINIO_ENDPONT="typo:9000")},
    ],
)
def test_e007_other_invalid_values_and_unknown_options(settings):
    assert "async_minio_storage.E007" in ids(**settings)


def test_w001_a_bucket_in_neither_list(minio_settings):
    messages = []
    with override_settings(MINIO_PRIVATE_BUCKETS=[]):
        messages = check_minio_settings()

    warning = next(message for message in messages if message.id == "async_minio_storage.W001")
    assert minio_settings["MINIO_MEDIA_FILES_BUCKET"] in warning.msg
    assert "MINIO_PRIVATE_BUCKETS" in warning.hint


def test_each_message_says_what_to_change():
    with override_settings(MINIO_ENDPOINT="https://minio:9000"):
        (message,) = check_minio_settings()

    assert "without a scheme" in message.msg
    assert "MINIO_USE_HTTPS" in message.msg
    assert message.obj == "STORAGES['default']"


def test_storages_options_are_checked_per_alias():
    storages = minio_storages(MINIO_URL_EXPIRY_HOURS=timedelta(days=30))

    with override_settings(STORAGES=storages):
        (message,) = check_minio_settings()

    assert message.id == "async_minio_storage.E005"
    assert message.obj == "STORAGES['default']"
