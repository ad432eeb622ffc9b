"""Settings → one frozen configuration object.

Every option is declared once, in ``OPTIONS``: the setting's name, its default and how its value
is checked. A storage resolves each option from the first of these places that has it:

1. the keyword arguments given to the storage (``STORAGES[alias]["OPTIONS"]`` arrive this way);
2. ``STORAGES[storage_name]["OPTIONS"]`` of the storage's alias, so that a storage built by hand in
   ``FileField(storage=MinioStorage(bucket_name=...))`` shares its alias' options, as
   django-minio-backend 4.x does;
3. the global Django setting of the same name, as django-minio-backend 3.x reads them;
4. the default.

The result is a :class:`StorageConfig`, built once per storage and never mutated: nothing here
appends to a settings list, and nothing does I/O. A bad value raises ``ImproperlyConfigured``
naming the setting; the access and secret keys are never echoed back.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from collections.abc import Iterator
from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field
from datetime import timedelta
from functools import cached_property
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

DEFAULT_MEDIA_BUCKET = "auto-generated-bucket-media-files"
DEFAULT_STATIC_BUCKET = "auto-generated-bucket-static-files"  # django-minio-backend's
MIN_PART_SIZE = 5 * 1024 * 1024
MAX_PART_SIZE = 5 * 1024 * 1024 * 1024
MAX_URL_EXPIRY = timedelta(days=7)
MIN_URL_EXPIRY = timedelta(seconds=1)

_BUCKET_NAME = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_IPV4_ADDRESS = re.compile(r"^\d{1,3}(\.\d{1,3}){3}$")
_HOST_PORT = re.compile(r"^(?P<host>\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._-]+)(:(?P<port>\d{1,5}))?$")


@dataclass(frozen=True)
class ConnectionSettings:
    """What a client for the internal endpoint is built from: equal settings share a client."""

    endpoint: str
    use_https: bool
    access_key: str = field(repr=False)
    secret_key: str = field(repr=False)
    region: str
    connect_timeout: float
    read_timeout: float
    max_connections: int
    retry_attempts: int
    operation_timeout: float = 20.0
    ca_bundle: str | None = None
    cert_check: bool = True


@dataclass(frozen=True)
class StorageConfig:
    """Every resolved option of one storage. Immutable; the secret never appears in its repr."""

    endpoint: str
    external_endpoint: str
    use_https: bool
    external_use_https: bool
    access_key: str = field(repr=False)
    secret_key: str = field(repr=False)
    region: str
    url_expiry: timedelta
    consistency_check_on_start: bool
    private_buckets: tuple[str, ...]
    public_buckets: tuple[str, ...]
    policy_hooks: tuple[tuple[str, str], ...]
    media_bucket: str
    static_bucket: str
    bucket_check_on_save: bool
    connect_timeout: float
    read_timeout: float
    max_connections: int
    retry_attempts: int
    operation_timeout: float
    ca_bundle: str | None
    cert_check: bool
    multipart_threshold: int
    multipart_part_size: int
    multipart_concurrency: int
    health_timeout: float
    cache_control: str | None

    @cached_property
    def connection(self) -> ConnectionSettings:
        return ConnectionSettings(
            endpoint=self.endpoint,
            use_https=self.use_https,
            access_key=self.access_key,
            secret_key=self.secret_key,
            region=self.region,
            connect_timeout=self.connect_timeout,
            read_timeout=self.read_timeout,
            max_connections=self.max_connections,
            retry_attempts=self.retry_attempts,
            operation_timeout=self.operation_timeout,
            ca_bundle=self.ca_bundle,
            cert_check=self.cert_check,
        )

    @property
    def external_base_url(self) -> str:
        """``scheme://host[:port]`` that browsers use: the host URLs are built and signed for."""
        scheme = "https" if self.external_use_https else "http"
        return f"{scheme}://{strip_default_port(self.external_endpoint, self.external_use_https)}"

    def is_public(self, bucket_name: str) -> bool:
        """Listed in ``MINIO_PUBLIC_BUCKETS``, or the static bucket and not listed in
        ``MINIO_PRIVATE_BUCKETS`` (django-minio-backend made its static bucket public)."""
        return bucket_name in self.public_buckets or (
            bucket_name == self.static_bucket and bucket_name not in self.private_buckets
        )


class InvalidSetting(ImproperlyConfigured):
    """A setting with a bad value. ``check_id`` is the id of the system check that reports it."""

    def __init__(self, message: str, check_id: str = "async_minio_storage.E007") -> None:
        super().__init__(message)
        self.check_id = check_id


class MissingSetting(InvalidSetting):
    def __init__(self, name: str) -> None:
        super().__init__(f"{name} is required and is not set.", "async_minio_storage.E001")


# --- value checks: each takes the setting's name and raw value and returns the clean value ---


def _fail(name: str, expected: str, value: Any, *, secret: bool = False) -> ImproperlyConfigured:
    shown = f"a value of type {type(value).__name__}" if secret else repr(value)
    return ImproperlyConfigured(f"{name} must be {expected}; got {shown}.")


def _required_text(name: str, value: Any) -> str:
    if value is None or value == "":
        raise MissingSetting(name)
    if not isinstance(value, str) or not value.strip():
        raise _fail(name, "a non-empty string", value, secret=name in SECRET_SETTINGS)
    return value


def _optional_text(name: str, value: Any) -> str | None:
    return None if value is None or value == "" else _required_text(name, value)


def _header_value(name: str, value: Any) -> str | None:
    text = _optional_text(name, value)
    if text is not None and not text.isprintable():
        raise ImproperlyConfigured(f"{name} must be one line of printable text; got {text!r}.")
    return text


def _endpoint(name: str, value: Any) -> str:
    text = _required_text(name, value).strip()
    if "://" in text:
        raise ImproperlyConfigured(
            f"{name} must be 'host' or 'host:port' without a scheme; got {text!r}. "
            "Choose http or https with MINIO_USE_HTTPS / MINIO_EXTERNAL_ENDPOINT_USE_HTTPS."
        )
    if "/" in text:
        raise ImproperlyConfigured(
            f"{name} must be 'host' or 'host:port' without a path; got {text!r}. "
            "Signed URLs cover the host only, so a path prefix cannot be signed."
        )
    match = _HOST_PORT.match(text)
    if match is None or (match["port"] is not None and not 0 < int(match["port"]) < 65536):
        raise ImproperlyConfigured(f"{name} must be 'host' or 'host:port'; got {text!r}.")
    return text


def _optional_endpoint(name: str, value: Any) -> str | None:
    return None if value is None or value == "" else _endpoint(name, value)


def _flag(name: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise _fail(name, "True or False", value)
    return value


def _optional_flag(name: str, value: Any) -> bool | None:
    return None if value is None else _flag(name, value)


def _url_expiry(name: str, value: Any) -> timedelta:
    if isinstance(value, bool) or not isinstance(value, timedelta | int | float):
        raise _fail(name, "a datetime.timedelta (or a number of hours)", value)
    try:
        expiry = value if isinstance(value, timedelta) else timedelta(hours=value)
    except (OverflowError, ValueError):  # hours beyond timedelta's range, or NaN
        expiry = None
    if expiry is None or not MIN_URL_EXPIRY <= expiry <= MAX_URL_EXPIRY:
        raise ImproperlyConfigured(
            f"{name} must be between 1 second and 7 days (the S3 presigning limit); got {value!r}."
        )
    return expiry


def is_valid_bucket_name(name: str) -> bool:
    """The S3 bucket naming rules that MinIO enforces."""
    return (
        bool(_BUCKET_NAME.match(name))
        and ".." not in name
        and ".-" not in name
        and "-." not in name
        and not _IPV4_ADDRESS.match(name)
    )


def _bucket_name(name: str, value: Any) -> str:
    text = _required_text(name, value)
    if not is_valid_bucket_name(text):
        raise ImproperlyConfigured(
            f"{name} holds {text!r}, which is not a valid bucket name: use 3-63 lowercase letters, "
            "digits, dots and hyphens, starting and ending with a letter or digit."
        )
    return text


def _bucket_list(name: str, value: Any) -> tuple[str, ...]:
    if isinstance(value, str) or not isinstance(value, list | tuple | set | frozenset):
        raise _fail(name, "a list of bucket names", value)
    return tuple(_bucket_name(name, item) for item in value)


def _policy_hooks(name: str, value: Any) -> tuple[tuple[str, str], ...]:
    if isinstance(value, str) or not isinstance(value, list | tuple):
        raise _fail(name, "a list of (bucket_name, policy_dict) tuples", value)
    hooks = []
    for item in value:
        if not (
            isinstance(item, list | tuple)
            and len(item) == 2
            and isinstance(item[0], str)
            and isinstance(item[1], dict)
        ):
            raise ImproperlyConfigured(
                f"{name} must be a list of (bucket_name, policy_dict) tuples; one item is {item!r}."
            )
        hooks.append((_bucket_name(name, item[0]), json.dumps(item[1])))
    return tuple(hooks)


def _positive_number(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value < math.inf:
        raise _fail(name, "a positive number of seconds", value)
    return float(value)


def _count(name: str, value: Any, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise _fail(name, f"a whole number from {low} to {high}", value)
    return value


def _part_size(name: str, value: Any) -> int:
    return _count(name, value, MIN_PART_SIZE, MAX_PART_SIZE)


def _ignored(name: str, value: Any) -> None:
    return None


@dataclass(frozen=True)
class Option:
    """One setting: the name users write, its default and its check.

    ``aliases`` are older names of the same setting, read at the same level as the name itself
    (a keyword argument under an old name still wins over a global under the new one).
    """

    setting: str
    default: Any
    check: Callable[[str, Any], Any]
    help: str
    aliases: tuple[str, ...] = ()
    check_id: str = "async_minio_storage.E007"
    required: bool = False


def _between(low: int, high: int) -> Callable[[str, Any], int]:
    def check(name: str, value: Any) -> int:
        return _count(name, value, low, high)

    return check


OPTIONS: tuple[Option, ...] = (
    Option(
        "MINIO_ENDPOINT",
        None,
        _endpoint,
        "host[:port] the server talks to",
        check_id="async_minio_storage.E002",
        required=True,
    ),
    Option(
        "MINIO_EXTERNAL_ENDPOINT",
        None,
        _optional_endpoint,
        "host[:port] in URLs for browsers",
        check_id="async_minio_storage.E002",
    ),
    Option("MINIO_EXTERNAL_ENDPOINT_USE_HTTPS", None, _optional_flag, "https in browser URLs"),
    Option("MINIO_ACCESS_KEY", None, _required_text, "access key", required=True),
    Option("MINIO_SECRET_KEY", None, _required_text, "secret key", required=True),
    Option("MINIO_USE_HTTPS", False, _flag, "https to MINIO_ENDPOINT"),
    Option("MINIO_REGION", "us-east-1", _required_text, "region used to sign requests"),
    Option(
        "MINIO_URL_EXPIRY_HOURS",
        timedelta(days=7),
        _url_expiry,
        "presigned URL lifetime",
        check_id="async_minio_storage.E005",
    ),
    Option("MINIO_CONSISTENCY_CHECK_ON_START", False, _flag, "initialize buckets on start"),
    Option(
        "MINIO_PRIVATE_BUCKETS",
        (),
        _bucket_list,
        "buckets with presigned URLs",
        check_id="async_minio_storage.E004",
    ),
    Option(
        "MINIO_PUBLIC_BUCKETS",
        (),
        _bucket_list,
        "buckets served with plain URLs",
        check_id="async_minio_storage.E004",
    ),
    Option(
        "MINIO_POLICY_HOOKS",
        (),
        _policy_hooks,
        "(bucket, policy) pairs to apply",
        check_id="async_minio_storage.E006",
    ),
    Option(
        "MINIO_MEDIA_FILES_BUCKET",
        DEFAULT_MEDIA_BUCKET,
        _bucket_name,
        "bucket of MinioStorage()",
        aliases=("MINIO_DEFAULT_BUCKET",),  # django-minio-backend 4.x
        check_id="async_minio_storage.E004",
    ),
    Option(
        "MINIO_STATIC_FILES_BUCKET",
        DEFAULT_STATIC_BUCKET,
        _bucket_name,
        "static bucket",
        check_id="async_minio_storage.E004",
    ),
    Option("MINIO_BUCKET_CHECK_ON_SAVE", False, _flag, "create a missing bucket before saving"),
    Option("MINIO_CONNECT_TIMEOUT", 10.0, _positive_number, "seconds to connect"),
    Option("MINIO_READ_TIMEOUT", 60.0, _positive_number, "seconds to wait for each read"),
    Option("MINIO_MAX_CONNECTIONS", 10, _between(1, 10_000), "connections per event loop"),
    Option("MINIO_RETRY_ATTEMPTS", 3, _between(1, 10), "attempts for a request that failed"),
    Option(
        "MINIO_OPERATION_TIMEOUT",
        20.0,
        _positive_number,
        "seconds one operation may take, retries included",
    ),
    Option("MINIO_MULTIPART_THRESHOLD", 10 * 1024 * 1024, _part_size, "size that goes multipart"),
    Option("MINIO_MULTIPART_PART_SIZE", 10 * 1024 * 1024, _part_size, "size of each part"),
    Option("MINIO_MULTIPART_CONCURRENCY", 3, _between(1, 64), "parts uploaded at once"),
    Option("MINIO_HEALTH_TIMEOUT", 3.0, _positive_number, "seconds a health probe may take"),
    Option("MINIO_CA_BUNDLE", None, _optional_text, "CA certificates that sign the server's"),
    Option("MINIO_CERT_CHECK", True, _flag, "verify the server's TLS certificate"),
    Option("MINIO_CACHE_CONTROL", None, _header_value, "Cache-Control stored with new objects"),
    # Accepted so that django-minio-backend settings files keep working; they have no effect
    # here: uploads always stream, url() costs no request, and the HTTP client is aiohttp's.
    Option("MINIO_MULTIPART_UPLOAD", None, _ignored, "no effect"),
    Option("MINIO_URL_CACHING_ENABLED", None, _ignored, "no effect"),
    Option("MINIO_URL_CACHE_TIMEOUT", None, _ignored, "no effect"),
    Option("MINIO_URL_CACHE_PREFIX", None, _ignored, "no effect"),
    Option("MINIO_HTTP_CLIENT", None, _ignored, "no effect"),
)
OPTION_NAMES = frozenset(name for option in OPTIONS for name in (option.setting, *option.aliases))
SECRET_SETTINGS = frozenset({"MINIO_ACCESS_KEY", "MINIO_SECRET_KEY"})


def _alias_options(storage_name: str) -> Mapping[str, Any]:
    storages = getattr(settings, "STORAGES", None) or {}
    alias = storages.get(storage_name) or {}
    options = alias.get("OPTIONS") or {}
    # Only MINIO_* keys: the alias may belong to another backend whose options mean nothing here.
    return {key: value for key, value in options.items() if key in OPTION_NAMES}


class _GlobalSettings(Mapping[str, Any]):
    """Django's settings, read as one more level of options."""

    def __getitem__(self, name: str) -> Any:
        try:
            return getattr(settings, name)
        except AttributeError:
            raise KeyError(name) from None

    def __iter__(self) -> Iterator[str]:
        return (name for name in OPTION_NAMES if hasattr(settings, name))

    def __len__(self) -> int:
        return sum(1 for _ in self)


def _first_given(option: Option, levels: tuple[Mapping[str, Any], ...]) -> tuple[str, Any]:
    """The name (the setting's or an alias) and value found first; the value may be None."""
    for level in levels:
        for name in (option.setting, *option.aliases):
            if name in level and level[name] is not None:
                return name, level[name]
    return option.setting, None


def reject_unknown_options(options: Mapping[str, Any]) -> None:
    unknown = sorted(set(options) - OPTION_NAMES)
    if unknown:
        raise InvalidSetting(
            f"Unknown async_minio_storage option(s): {', '.join(unknown)}. "
            f"Valid options are: {', '.join(sorted(OPTION_NAMES))}."
        )


def _resolve_values(
    options: Mapping[str, Any], storage_name: str, problems: list[InvalidSetting] | None
) -> dict[str, Any]:
    """Every option's clean value. Each problem is raised, or appended to ``problems``."""

    def report(problem: InvalidSetting) -> None:
        if problems is None:
            raise problem
        problems.append(problem)

    try:
        reject_unknown_options(options)
    except InvalidSetting as problem:
        report(problem)
    levels = (options, _alias_options(storage_name), _GlobalSettings())
    values: dict[str, Any] = {}
    for option in OPTIONS:
        name, raw = _first_given(option, levels)
        if raw is None:
            # None means "not set", as it did in django-minio-backend (MINIO_USE_HTTPS = None).
            raw = option.default
        try:
            if raw is None and option.required:
                raise MissingSetting(option.setting)
            values[option.setting] = option.check(name, raw) if raw is not None else None
        except MissingSetting as problem:
            report(problem)
        except ImproperlyConfigured as problem:
            report(InvalidSetting(str(problem), option.check_id))
    both = sorted(
        set(values.get("MINIO_PRIVATE_BUCKETS") or ())
        & set(values.get("MINIO_PUBLIC_BUCKETS") or ())
    )
    if both:
        report(
            InvalidSetting(
                f"Bucket(s) {', '.join(both)} are in both MINIO_PRIVATE_BUCKETS and "
                "MINIO_PUBLIC_BUCKETS; keep each bucket in one list.",
                "async_minio_storage.E003",
            )
        )
    return values


def find_problems(
    options: Mapping[str, Any], storage_name: str = "default"
) -> list[InvalidSetting]:
    """Every problem with a storage's settings, for the system checks."""
    problems: list[InvalidSetting] = []
    _resolve_values(options, storage_name, problems)
    return problems


def resolve_config(options: Mapping[str, Any], storage_name: str = "default") -> StorageConfig:
    """Build the configuration of one storage from its options, its alias and the settings."""
    values = _resolve_values(options, storage_name, None)
    use_https = values["MINIO_USE_HTTPS"]
    external_use_https = values["MINIO_EXTERNAL_ENDPOINT_USE_HTTPS"]
    return StorageConfig(
        endpoint=values["MINIO_ENDPOINT"],
        external_endpoint=values["MINIO_EXTERNAL_ENDPOINT"] or values["MINIO_ENDPOINT"],
        use_https=use_https,
        external_use_https=use_https if external_use_https is None else external_use_https,
        access_key=values["MINIO_ACCESS_KEY"],
        secret_key=values["MINIO_SECRET_KEY"],
        region=values["MINIO_REGION"],
        url_expiry=values["MINIO_URL_EXPIRY_HOURS"],
        consistency_check_on_start=values["MINIO_CONSISTENCY_CHECK_ON_START"],
        private_buckets=values["MINIO_PRIVATE_BUCKETS"],
        public_buckets=values["MINIO_PUBLIC_BUCKETS"],
        policy_hooks=values["MINIO_POLICY_HOOKS"],
        media_bucket=values["MINIO_MEDIA_FILES_BUCKET"],
        static_bucket=values["MINIO_STATIC_FILES_BUCKET"],
        bucket_check_on_save=values["MINIO_BUCKET_CHECK_ON_SAVE"],
        connect_timeout=values["MINIO_CONNECT_TIMEOUT"],
        read_timeout=values["MINIO_READ_TIMEOUT"],
        max_connections=values["MINIO_MAX_CONNECTIONS"],
        retry_attempts=values["MINIO_RETRY_ATTEMPTS"],
        operation_timeout=values["MINIO_OPERATION_TIMEOUT"],
        ca_bundle=values["MINIO_CA_BUNDLE"],
        cert_check=values["MINIO_CERT_CHECK"],
        multipart_threshold=values["MINIO_MULTIPART_THRESHOLD"],
        multipart_part_size=values["MINIO_MULTIPART_PART_SIZE"],
        multipart_concurrency=values["MINIO_MULTIPART_CONCURRENCY"],
        health_timeout=values["MINIO_HEALTH_TIMEOUT"],
        cache_control=values["MINIO_CACHE_CONTROL"],
    )


def strip_default_port(endpoint: str, use_https: bool) -> str:
    """Drop ``:443``/``:80``: browsers send ``Host`` without them, and the signature covers it."""
    default_port = ":443" if use_https else ":80"
    return endpoint.removesuffix(default_port)
