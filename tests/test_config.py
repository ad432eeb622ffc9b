"""Settings: django-minio-backend's names, where they are read from, and clear refusals."""

from __future__ import annotations

import dataclasses
import re
from datetime import timedelta
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.db.migrations.writer import MigrationWriter
from django.test import override_settings

from async_minio_storage import MinioBackend
from async_minio_storage import MinioBackendStatic
from async_minio_storage import MinioStaticStorage
from async_minio_storage import MinioStorage
from async_minio_storage.config import DEFAULT_MEDIA_BUCKET
from async_minio_storage.config import DEFAULT_STATIC_BUCKET
from async_minio_storage.config import OPTIONS
from async_minio_storage.config import StorageConfig
from async_minio_storage.config import resolve_config

SECRET = "a-very-secret-key-0123456789"


def test_django_minio_backend_names_are_aliases():
    assert MinioBackend is MinioStorage
    assert MinioBackendStatic is MinioStaticStorage


def test_global_settings_are_read(minio_settings):
    config = MinioStorage().config

    assert config.endpoint == minio_settings["MINIO_ENDPOINT"]
    assert config.access_key == minio_settings["MINIO_ACCESS_KEY"]
    assert config.public_buckets[-1] == minio_settings["MINIO_STATIC_FILES_BUCKET"]


def test_defaults_match_django_minio_backend():
    with override_settings(MINIO_MEDIA_FILES_BUCKET=None, MINIO_STATIC_FILES_BUCKET=None):
        config = resolve_config({})

    assert config.media_bucket == DEFAULT_MEDIA_BUCKET == "auto-generated-bucket-media-files"
    assert config.static_bucket == DEFAULT_STATIC_BUCKET == "auto-generated-bucket-static-files"
    assert config.url_expiry == timedelta(days=7)
    assert config.region == "us-east-1"
    assert config.bucket_check_on_save is False
    assert config.consistency_check_on_start is False


def test_external_endpoint_defaults_to_the_endpoint_and_its_scheme():
    config = resolve_config({"MINIO_ENDPOINT": "minio:9000", "MINIO_USE_HTTPS": True})

    assert config.external_endpoint == "minio:9000"
    assert config.external_use_https is True
    assert config.external_base_url == "https://minio:9000"


def test_keyword_arguments_win_over_storages_options_which_win_over_globals():
    storages = {
        "default": {"BACKEND": "async_minio_storage.MinioStorage"},
        "media": {
            "BACKEND": "async_minio_storage.MinioStorage",
            "OPTIONS": {"MINIO_REGION": "from-options", "MINIO_URL_EXPIRY_HOURS": 2},
        },
    }
    with override_settings(STORAGES=storages, MINIO_REGION="from-globals"):
        from_alias = MinioStorage(storage_name="media")
        from_kwargs = MinioStorage(storage_name="media", MINIO_REGION="from-kwargs")
        from_globals = MinioStorage()

        assert from_alias.config.region == "from-options"
        assert from_alias.config.url_expiry == timedelta(hours=2)
        assert from_kwargs.config.region == "from-kwargs"
        assert from_kwargs.config.url_expiry == timedelta(hours=2)
        assert from_globals.config.region == "from-globals"


def test_options_of_another_backend_on_the_alias_are_ignored():
    storages = {
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": "/srv/media"},
        }
    }
    with override_settings(STORAGES=storages):
        assert MinioStorage(bucket_name="photos").config.endpoint


def test_changed_settings_are_picked_up(storage):
    before = storage.config.region

    with override_settings(MINIO_REGION="eu-central-1"):
        assert storage.config.region == "eu-central-1"
    assert storage.config.region == before


def test_unknown_options_are_refused_at_construction():
    with pytest.raises(ImproperlyConfigured, match="MINIO_ENPOINT") as refused:
        MinioStorage(MINIO_ENPOINT="typo:9000")

    assert "MINIO_ENDPOINT" in str(refused.value)  # the valid names are listed


def test_legacy_setting_names_are_accepted():
    config = resolve_config(
        {
            "MINIO_DEFAULT_BUCKET": "legacy-media",
            "MINIO_URL_CACHING_ENABLED": True,
            "MINIO_MULTIPART_UPLOAD": True,
            "MINIO_HTTP_CLIENT": object(),
        }
    )

    assert config.media_bucket == "legacy-media"


@pytest.mark.parametrize(
    ("setting", "value", "message"),
    [
        ("MINIO_ENDPOINT", "https://minio:9000", "without a scheme"),
        ("MINIO_ENDPOINT", "minio:9000/prefix", "without a path"),
        ("MINIO_ENDPOINT", "minio:99999", "host:port"),
        ("MINIO_ENDPOINT", 9000, "non-empty string"),
        ("MINIO_EXTERNAL_ENDPOINT", "http://files.example.com", "without a scheme"),
        ("MINIO_USE_HTTPS", "yes", "True or False"),
        ("MINIO_EXTERNAL_ENDPOINT_USE_HTTPS", 1, "True or False"),
        ("MINIO_URL_EXPIRY_HOURS", timedelta(days=8), "between 1 second and 7 days"),
        ("MINIO_URL_EXPIRY_HOURS", timedelta(0), "between 1 second and 7 days"),
        ("MINIO_URL_EXPIRY_HOURS", "7 days", "timedelta"),
        ("MINIO_PRIVATE_BUCKETS", "one-bucket", "list of bucket names"),
        ("MINIO_PUBLIC_BUCKETS", ["Bad_Name"], "not a valid bucket name"),
        ("MINIO_MEDIA_FILES_BUCKET", "ab", "not a valid bucket name"),
        ("MINIO_STATIC_FILES_BUCKET", "192.168.1.1", "not a valid bucket name"),
        ("MINIO_POLICY_HOOKS", {"bucket": {}}, "(bucket_name, policy_dict)"),
        ("MINIO_POLICY_HOOKS", [("bucket-name", "not a dict")], "(bucket_name, policy_dict)"),
        ("MINIO_BUCKET_CHECK_ON_SAVE", "true", "True or False"),
        ("MINIO_CONSISTENCY_CHECK_ON_START", 1, "True or False"),
        ("MINIO_CONNECT_TIMEOUT", 0, "positive number"),
        ("MINIO_READ_TIMEOUT", "60", "positive number"),
        ("MINIO_MAX_CONNECTIONS", 0, "whole number"),
        ("MINIO_RETRY_ATTEMPTS", 2.5, "whole number"),
        ("MINIO_MULTIPART_THRESHOLD", 1024, "whole number from 5242880"),
        ("MINIO_MULTIPART_PART_SIZE", 6 * 1024**3, "whole number"),
        ("MINIO_MULTIPART_CONCURRENCY", 0, "whole number"),
    ],
)
def test_invalid_values_are_refused_naming_the_setting(setting, value, message):
    with pytest.raises(ImproperlyConfigured) as refused:
        resolve_config({setting: value})

    assert setting in str(refused.value)
    assert message in str(refused.value)


@pytest.mark.parametrize("setting", ["MINIO_ENDPOINT", "MINIO_ACCESS_KEY", "MINIO_SECRET_KEY"])
def test_missing_required_settings_are_refused(setting):
    with override_settings(**{setting: None}), pytest.raises(ImproperlyConfigured, match=setting):
        resolve_config({})


def test_a_bucket_cannot_be_both_private_and_public():
    with pytest.raises(ImproperlyConfigured, match="both"):
        resolve_config(
            {"MINIO_PRIVATE_BUCKETS": ["shared-bucket"], "MINIO_PUBLIC_BUCKETS": ["shared-bucket"]}
        )


def test_url_expiry_may_be_given_in_hours():
    assert resolve_config({"MINIO_URL_EXPIRY_HOURS": 12}).url_expiry == timedelta(hours=12)


def test_an_invalid_bucket_name_argument_is_refused():
    with pytest.raises(ImproperlyConfigured, match="bucket_name"):
        _ = MinioStorage(bucket_name="Not_Valid").bucket_name


def test_secrets_never_appear_in_reprs_or_errors():
    storage = MinioStorage(bucket_name="photos", MINIO_SECRET_KEY=SECRET)
    config = storage.config

    assert SECRET not in repr(storage)
    assert SECRET not in repr(config)
    assert SECRET not in repr(config.connection)
    assert SECRET not in str(storage)
    with pytest.raises(ImproperlyConfigured) as refused:
        resolve_config({"MINIO_SECRET_KEY": [SECRET]})
    assert SECRET not in str(refused.value)


def test_the_static_storage_uses_the_static_bucket_and_overwrites(minio_settings):
    storage = MinioStaticStorage()

    assert storage.bucket_name == minio_settings["MINIO_STATIC_FILES_BUCKET"]
    assert storage.replace_existing is True
    assert storage.storage_name == "staticfiles"


def test_the_media_storage_uses_the_media_bucket(minio_settings):
    assert MinioStorage().bucket_name == minio_settings["MINIO_MEDIA_FILES_BUCKET"]


def test_storages_deconstruct_to_their_short_public_path():
    path, _, kwargs = MinioStorage(bucket_name="photos", replace_existing=True).deconstruct()

    assert path == "async_minio_storage.MinioStorage"
    assert kwargs == {"bucket_name": "photos", "replace_existing": True}
    serialized, imports = MigrationWriter.serialize(MinioStorage(bucket_name="photos"))
    assert serialized == "async_minio_storage.MinioStorage(bucket_name='photos')"
    assert imports == {"import async_minio_storage"}


def test_construction_does_no_io_and_reads_no_settings():
    with override_settings(MINIO_ENDPOINT=None):
        storage = MinioStorage(bucket_name="photos")  # fine until first use

        with pytest.raises(ImproperlyConfigured, match="MINIO_ENDPOINT"):
            storage.url("x.txt")


# --- the settings reference (docs/reference/settings.md) is the options table -------------------

SETTINGS_PAGE = Path(__file__).parent.parent / "docs" / "reference" / "settings.md"
TABLE_DEFAULTS = {
    # Defaults that are another setting's value, or say more than the value.
    "MINIO_EXTERNAL_ENDPOINT": "`MINIO_ENDPOINT`",
    "MINIO_EXTERNAL_ENDPOINT_USE_HTTPS": "`MINIO_USE_HTTPS`",
    "MINIO_ACCESS_KEY": "required",
    "MINIO_SECRET_KEY": "required",
    "MINIO_CACHE_CONTROL": '`None` (static: `"public, max-age=60"`)',
}


def documented_default(option) -> str:
    """How the settings reference writes an option's default."""
    if option.setting in TABLE_DEFAULTS:
        return TABLE_DEFAULTS[option.setting]
    value = option.default
    if option.required:
        return "required"
    if isinstance(value, str):
        return f'`"{value}"`'
    if isinstance(value, tuple) and not value:
        return "`[]`"
    if isinstance(value, timedelta):
        return f"`timedelta(days={value.days})`"
    if isinstance(value, int | float) and not isinstance(value, bool):
        if value >= 1024 * 1024 and value % (1024 * 1024) == 0:
            return f"`{int(value) // (1024 * 1024)} MiB`"
        return f"`{value:g}`"
    return f"`{value!r}`"


def settings_table() -> dict[str, str]:
    """The rows of the reference's "Every setting" table: setting name -> default column."""
    section = SETTINGS_PAGE.read_text().split("## Every setting\n", 1)[1].strip()
    rows: dict[str, str] = {}
    for line in section.split("\n\n", 1)[0].splitlines()[2:]:
        names, default = line.split(" | ")[:2]
        for name in re.findall(r"`(MINIO_[A-Z_]+)`", names):
            rows[name] = default
    return rows


def test_the_settings_reference_lists_every_setting_with_its_default():
    documented = settings_table()
    # The settings kept only so django-minio-backend settings files load have their own list.
    effective = [option for option in OPTIONS if option.field is not None]

    assert sorted(documented) == sorted(option.setting for option in effective)
    for option in effective:
        assert documented[option.setting] == documented_default(option), option.setting


def test_the_settings_reference_lists_the_settings_that_have_no_effect():
    page = SETTINGS_PAGE.read_text()
    section = page.split("<!-- compatibility-settings -->")[1].split("<!--")[0]

    assert set(re.findall(r"`(MINIO_[A-Z_]+)`", section)) == {
        option.setting for option in OPTIONS if option.field is None
    }


def test_every_storage_config_field_comes_from_one_option():
    fields = {field.name for field in dataclasses.fields(StorageConfig)}

    assert fields == {option.field for option in OPTIONS if option.field is not None}
