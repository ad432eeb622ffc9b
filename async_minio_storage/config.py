"""Settings → one frozen configuration object.

Every option is declared once, in :data:`~async_minio_storage.options.OPTIONS`: the setting's
name, its default, how its value is checked and the field of :class:`StorageConfig` it fills.
A storage resolves each option from the first of these places that has it:

1. the keyword arguments given to the storage (``STORAGES[alias]["OPTIONS"]`` arrive this way);
2. ``STORAGES[storage_name]["OPTIONS"]`` of the storage's alias, so that a storage built by hand in
   ``FileField(storage=MinioStorage(bucket_name=...))`` shares its alias' options, as
   django-minio-backend 4.x does;
3. the global Django setting of the same name, as django-minio-backend 3.x reads them;
4. the default.

The result is a :class:`StorageConfig`, built once per storage and never mutated: nothing here
appends to a settings list, and nothing does I/O. A bad value raises ``ImproperlyConfigured``
naming the setting; credentials are never echoed back, and are
:class:`~async_minio_storage.redacted.Secret` from the moment they are read, so that no frame
of a traceback (Django's debug page, its error mails) shows them.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field
from datetime import timedelta
from functools import cached_property
from typing import TYPE_CHECKING
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.views.decorators.debug import sensitive_variables
from miniopy_async.credentials.providers import Provider

from .option_values import DEFAULT_MEDIA_BUCKET
from .option_values import DEFAULT_STATIC_BUCKET
from .option_values import MAX_URL_EXPIRY
from .option_values import MIN_URL_EXPIRY
from .option_values import SECRET_SETTINGS
from .option_values import InvalidSetting
from .option_values import MissingSetting
from .option_values import is_valid_bucket_name
from .options import OPTION_NAMES
from .options import OPTIONS
from .options import Option
from .redacted import Secret
from .redacted import secret

if TYPE_CHECKING:
    from .credentials import CredentialSource

__all__ = [
    "DEFAULT_MEDIA_BUCKET",
    "DEFAULT_STATIC_BUCKET",
    "MAX_URL_EXPIRY",
    "MIN_URL_EXPIRY",
    "OPTIONS",
    "ConnectionSettings",
    "InvalidSetting",
    "MissingSetting",
    "StorageConfig",
    "find_problems",
    "is_valid_bucket_name",
    "reject_unknown_options",
    "resolve_config",
    "strip_default_port",
]


@dataclass(frozen=True)
class ConnectionSettings:
    """What a client for the internal endpoint is built from: equal settings share a client.

    Its fields are those of :class:`StorageConfig` with the same names.
    """

    endpoint: str
    use_https: bool
    access_key: str | None = field(repr=False)
    secret_key: Secret | None = field(repr=False)
    region: str
    connect_timeout: float
    read_timeout: float
    max_connections: int
    retry_attempts: int
    operation_timeout: float = 20.0
    ca_bundle: str | None = None
    cert_check: bool = True
    session_token: Secret | None = field(default=None, repr=False)
    credentials: Provider | None = field(default=None, repr=False)
    addressing: str = "auto"


@dataclass(frozen=True)
class StorageConfig:
    """Every resolved option of one storage, one field per row of ``OPTIONS`` (a test keeps
    them equal). Immutable; credentials never appear in its repr."""

    endpoint: str
    external_endpoint: str
    use_https: bool
    external_use_https: bool
    access_key: str | None = field(repr=False)
    secret_key: Secret | None = field(repr=False)
    session_token: Secret | None = field(repr=False)
    credentials: Provider | None = field(repr=False)
    region: str
    addressing: str
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
    read_ahead: int
    health_timeout: float
    cache_control: str | None

    @cached_property
    def connection(self) -> ConnectionSettings:
        return ConnectionSettings(
            **{
                connection_field.name: getattr(self, connection_field.name)
                for connection_field in dataclasses.fields(ConnectionSettings)
            }
        )

    @property
    def external_base_url(self) -> str:
        """``scheme://host[:port]`` that browsers use: the host URLs are built and signed for."""
        scheme = "https" if self.external_use_https else "http"
        return f"{scheme}://{strip_default_port(self.external_endpoint, self.external_use_https)}"

    def virtual_host(self, bucket_name: str) -> bool:
        """Whether browser URLs put the bucket in the host name (``MINIO_ADDRESSING``): always
        for ``"virtual"``, never for ``"path"``; for ``"auto"``, on AWS S3's own hosts, unless
        a dot in the bucket's name would not match the certificate's ``*.`` name."""
        if self.addressing != "auto":
            return self.addressing == "virtual"
        return self._external_host_is_aws and not (self.external_use_https and "." in bucket_name)

    @cached_property
    def _external_host_is_aws(self) -> bool:
        return self.external_endpoint.rsplit(":", 1)[0].lower().endswith(".amazonaws.com")

    @cached_property
    def credential_source(self) -> CredentialSource:
        """Where this storage's keys come from (see ``credentials``), shared by every storage
        with the same credential settings."""
        from .credentials import source_for  # noqa: PLC0415 (credentials imports config)

        return source_for(self.connection)

    def is_public(self, bucket_name: str) -> bool:
        """Listed in ``MINIO_PUBLIC_BUCKETS``, or the static bucket and not listed in
        ``MINIO_PRIVATE_BUCKETS`` (django-minio-backend made its static bucket public)."""
        return bucket_name in self.public_buckets or (
            bucket_name == self.static_bucket and bucket_name not in self.private_buckets
        )


def _alias_options(storage_name: str) -> Mapping[str, Any]:
    storages = getattr(settings, "STORAGES", None) or {}
    alias = storages.get(storage_name) or {}
    options = alias.get("OPTIONS") or {}
    # Only MINIO_* keys: the alias may belong to another backend whose options mean nothing here.
    return redact({key: value for key, value in options.items() if key in OPTION_NAMES})


def redact(options: Mapping[str, Any]) -> dict[str, Any]:
    """``options`` with every credential made a :class:`Secret`."""
    return {
        name: secret(value) if name in SECRET_SETTINGS else value for name, value in options.items()
    }


class _GlobalSettings(Mapping[str, Any]):
    """Django's settings, read as one more level of options."""

    def __getitem__(self, name: str) -> Any:
        try:
            value = getattr(settings, name)
        except AttributeError:
            raise KeyError(name) from None
        return secret(value) if name in SECRET_SETTINGS else value

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
    levels = (redact(options), _alias_options(storage_name), _GlobalSettings())
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
    if values.get("MINIO_CREDENTIALS") is None:  # else the provider gives the keys
        for name in ("MINIO_ACCESS_KEY", "MINIO_SECRET_KEY"):
            if name in values and values[name] is None:
                report(MissingSetting(name))
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


@sensitive_variables()
def find_problems(
    options: Mapping[str, Any], storage_name: str = "default"
) -> list[InvalidSetting]:
    """Every problem with a storage's settings, for the system checks."""
    problems: list[InvalidSetting] = []
    _resolve_values(options, storage_name, problems)
    return problems


@sensitive_variables()
def resolve_config(options: Mapping[str, Any], storage_name: str = "default") -> StorageConfig:
    """Build the configuration of one storage from its options, its alias and the settings."""
    values = _resolve_values(options, storage_name, None)
    fields = {option.field: values[option.setting] for option in OPTIONS if option.field}
    if fields["credentials"] is not None:  # keys from the provider only, never these
        fields.update(access_key=None, secret_key=None, session_token=None)
    fields["external_endpoint"] = fields["external_endpoint"] or fields["endpoint"]
    if fields["external_use_https"] is None:
        fields["external_use_https"] = fields["use_https"]
    return StorageConfig(**fields)


def strip_default_port(endpoint: str, use_https: bool) -> str:
    """Drop ``:443``/``:80``: browsers send ``Host`` without them, and the signature covers it."""
    default_port = ":443" if use_https else ":80"
    return endpoint.removesuffix(default_port)
