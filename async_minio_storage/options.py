"""The table of options: every ``MINIO_*`` setting, once.

:data:`OPTIONS` gives each setting its name, its default, the check of its value, the field of
:class:`~async_minio_storage.config.StorageConfig` it fills and one line of help. The frozen
configuration is built from it (``config``), the system checks report its problems
(``checks``), and the settings reference (``docs/reference/settings.md``) is checked against it
(``tests/test_config``): adding a setting is adding a row here (and one to that page).
Nothing here does I/O.

Credentials are :class:`~async_minio_storage.redacted.Secret` from the moment they are read
(see ``redacted``), so that no frame of a traceback shows them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from . import option_values as values
from .option_values import DEFAULT_MEDIA_BUCKET
from .option_values import DEFAULT_STATIC_BUCKET
from .option_values import SECRET_SETTINGS
from .option_values import between


@dataclass(frozen=True)
class Option:
    """One setting: the name users write, its default and its check.

    ``field`` is the attribute of ``StorageConfig`` that holds the clean value (None for the
    settings accepted for compatibility that have no effect). ``aliases`` are older names of
    the same setting, read at the same level as the name itself (a keyword argument under an
    old name still wins over a global under the new one). ``required`` settings have no
    default; the keys are required unless ``MINIO_CREDENTIALS`` gives a provider.
    """

    setting: str
    default: Any
    check: Callable[[str, Any], Any]
    help: str
    field: str | None = None
    aliases: tuple[str, ...] = ()
    check_id: str = "async_minio_storage.E007"
    required: bool = False


OPTIONS: tuple[Option, ...] = (
    Option(
        "MINIO_ENDPOINT",
        None,
        values.endpoint,
        "host[:port] the server talks to",
        "endpoint",
        check_id="async_minio_storage.E002",
        required=True,
    ),
    Option(
        "MINIO_EXTERNAL_ENDPOINT",
        None,
        values.optional_endpoint,
        "host[:port] in URLs for browsers",
        "external_endpoint",
        check_id="async_minio_storage.E002",
    ),
    Option(
        "MINIO_EXTERNAL_ENDPOINT_USE_HTTPS",
        None,
        values.optional_flag,
        "https in browser URLs",
        "external_use_https",
    ),
    Option("MINIO_ACCESS_KEY", None, values.optional_text, "access key", "access_key"),
    Option("MINIO_SECRET_KEY", None, values.optional_secret, "secret key", "secret_key"),
    Option(
        "MINIO_SESSION_TOKEN",
        None,
        values.optional_secret,
        "session token of the keys",
        "session_token",
    ),
    Option(
        "MINIO_CREDENTIALS",
        None,
        values.credentials,
        "credentials provider instead of keys",
        "credentials",
    ),
    Option("MINIO_USE_HTTPS", False, values.flag, "https to MINIO_ENDPOINT", "use_https"),
    Option("MINIO_REGION", "us-east-1", values.region, "region used to sign requests", "region"),
    Option(
        "MINIO_ADDRESSING",
        "auto",
        values.addressing,
        "path-style or virtual-hosted URLs",
        "addressing",
    ),
    Option(
        "MINIO_URL_EXPIRY_HOURS",
        timedelta(days=7),
        values.url_expiry,
        "presigned URL lifetime",
        "url_expiry",
        check_id="async_minio_storage.E005",
    ),
    Option(
        "MINIO_CONSISTENCY_CHECK_ON_START",
        False,
        values.flag,
        "initialize buckets on start",
        "consistency_check_on_start",
    ),
    Option(
        "MINIO_PRIVATE_BUCKETS",
        (),
        values.bucket_list,
        "buckets with presigned URLs",
        "private_buckets",
        check_id="async_minio_storage.E004",
    ),
    Option(
        "MINIO_PUBLIC_BUCKETS",
        (),
        values.bucket_list,
        "buckets served with plain URLs",
        "public_buckets",
        check_id="async_minio_storage.E004",
    ),
    Option(
        "MINIO_POLICY_HOOKS",
        (),
        values.policy_hooks,
        "(bucket, policy) pairs to apply",
        "policy_hooks",
        check_id="async_minio_storage.E006",
    ),
    Option(
        "MINIO_MEDIA_FILES_BUCKET",
        DEFAULT_MEDIA_BUCKET,
        values.bucket_name,
        "bucket of MinioStorage()",
        "media_bucket",
        aliases=("MINIO_DEFAULT_BUCKET",),  # django-minio-backend 4.x
        check_id="async_minio_storage.E004",
    ),
    Option(
        "MINIO_STATIC_FILES_BUCKET",
        DEFAULT_STATIC_BUCKET,
        values.bucket_name,
        "static bucket",
        "static_bucket",
        check_id="async_minio_storage.E004",
    ),
    Option(
        "MINIO_BUCKET_CHECK_ON_SAVE",
        False,
        values.flag,
        "create a missing bucket before saving",
        "bucket_check_on_save",
    ),
    Option(
        "MINIO_CONNECT_TIMEOUT",
        10.0,
        values.positive_number,
        "seconds to connect",
        "connect_timeout",
    ),
    Option(
        "MINIO_READ_TIMEOUT",
        60.0,
        values.positive_number,
        "seconds to wait for each read",
        "read_timeout",
    ),
    Option(
        "MINIO_MAX_CONNECTIONS",
        10,
        between(1, 10_000),
        "connections per event loop",
        "max_connections",
    ),
    Option(
        "MINIO_RETRY_ATTEMPTS",
        3,
        between(1, 10),
        "attempts for a request that failed",
        "retry_attempts",
    ),
    Option(
        "MINIO_OPERATION_TIMEOUT",
        20.0,
        values.positive_number,
        "seconds one operation may take, retries included",
        "operation_timeout",
    ),
    Option(
        "MINIO_MULTIPART_THRESHOLD",
        10 * 1024 * 1024,
        values.part_size,
        "size that goes multipart",
        "multipart_threshold",
    ),
    Option(
        "MINIO_MULTIPART_PART_SIZE",
        10 * 1024 * 1024,
        values.part_size,
        "size of each part",
        "multipart_part_size",
    ),
    Option(
        "MINIO_MULTIPART_CONCURRENCY",
        3,
        between(1, 64),
        "parts uploaded at once",
        "multipart_concurrency",
    ),
    Option(
        "MINIO_READ_AHEAD",
        4 * 1024 * 1024,
        between(0, 1024 * 1024 * 1024),
        "bytes read ahead per open sync file",
        "read_ahead",
    ),
    Option(
        "MINIO_HEALTH_TIMEOUT",
        3.0,
        values.positive_number,
        "seconds a health probe may take",
        "health_timeout",
    ),
    Option(
        "MINIO_CA_BUNDLE",
        None,
        values.optional_text,
        "CA certificates that sign the server's",
        "ca_bundle",
    ),
    Option(
        "MINIO_CERT_CHECK", True, values.flag, "verify the server's TLS certificate", "cert_check"
    ),
    Option(
        "MINIO_CACHE_CONTROL",
        None,
        values.header_value,
        "Cache-Control stored with new objects",
        "cache_control",
    ),
    # Accepted so that django-minio-backend settings files keep working; they have no effect
    # here: uploads always stream, url() costs no request, and the HTTP client is aiohttp's.
    Option("MINIO_MULTIPART_UPLOAD", None, values.ignored, "no effect"),
    Option("MINIO_URL_CACHING_ENABLED", None, values.ignored, "no effect"),
    Option("MINIO_URL_CACHE_TIMEOUT", None, values.ignored, "no effect"),
    Option("MINIO_URL_CACHE_PREFIX", None, values.ignored, "no effect"),
    Option("MINIO_HTTP_CLIENT", None, values.ignored, "no effect"),
)
OPTION_NAMES = frozenset(name for option in OPTIONS for name in (option.setting, *option.aliases))
# Never written by deconstruct() into migrations.
CREDENTIAL_SETTINGS = SECRET_SETTINGS | {"MINIO_ACCESS_KEY", "MINIO_CREDENTIALS"}
