"""System checks (``manage.py check``) for the ``MINIO_*`` settings of every configured storage.

They report, before the first request, what would otherwise fail at first use. The ids
(``async_minio_storage.<id>``) are stable:

- E001: ``MINIO_ENDPOINT``, ``MINIO_ACCESS_KEY`` or ``MINIO_SECRET_KEY`` missing;
- E002: an endpoint with a scheme, a path, or no valid ``host[:port]``;
- E003: a bucket in both ``MINIO_PRIVATE_BUCKETS`` and ``MINIO_PUBLIC_BUCKETS``;
- E004: an invalid bucket name;
- E005: ``MINIO_URL_EXPIRY_HOURS`` outside 1 second to 7 days;
- E006: ``MINIO_POLICY_HOOKS`` not a list of ``(bucket_name, policy_dict)``;
- E007: any other invalid value, or an unknown option;
- W001: a storage's bucket in neither bucket list (it is treated as private), except the
  static bucket (public unless listed as private);
- W002: ``STORAGES["staticfiles"]`` is ours, but ``collectstatic`` is Django's command (the app
  comes after ``django.contrib.staticfiles``), which uploads one file at a time.

Storages are not built here, and nothing touches the network.
"""

from __future__ import annotations

from typing import Any

from django.core import checks
from django.core.management import get_commands

from .config import StorageConfig
from .config import find_problems
from .config import is_valid_bucket_name
from .config import resolve_config
from .consistency import minio_aliases
from .staticfiles import MinioStaticStorage
from .storage import MinioStorage

# Keyword arguments of the storage classes that are not MINIO_* settings.
_CONSTRUCTOR_ARGUMENTS = frozenset({"bucket_name", "replace_existing", "storage_name"})


@checks.register()
def check_minio_settings(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    messages: dict[tuple[str, str], checks.CheckMessage] = {}
    aliases = minio_aliases() or [("default", MinioStorage, {})]
    for alias, backend, options in aliases:
        for message in _check_alias(alias, backend, options):
            messages.setdefault((message.id or "", message.msg), message)
    return list(messages.values())


def _check_alias(
    alias: str, backend: type[MinioStorage], options: dict[str, Any]
) -> list[checks.CheckMessage]:
    where = f"STORAGES[{alias!r}]"
    settings_options = {k: v for k, v in options.items() if k not in _CONSTRUCTOR_ARGUMENTS}
    storage_name = options.get("storage_name", alias)
    found: list[checks.CheckMessage] = [
        checks.Error(str(problem), obj=where, id=problem.check_id)
        for problem in find_problems(settings_options, storage_name)
    ]
    bucket_name = options.get("bucket_name") or ""
    if bucket_name and not is_valid_bucket_name(bucket_name):
        found.append(
            checks.Error(
                f"bucket_name {bucket_name!r} is not a valid bucket name.",
                hint="Use 3-63 lowercase letters, digits, dots and hyphens, starting and ending "
                "with a letter or digit.",
                obj=where,
                id="async_minio_storage.E004",
            )
        )
    if found:
        return found
    config = resolve_config(settings_options, storage_name)
    bucket = bucket_name or _default_bucket(backend, config)
    listed = bucket in config.private_buckets or bucket in config.public_buckets
    # The static bucket is public unless listed as private, as django-minio-backend's: no
    # surprise there, so no warning.
    if not listed and bucket != config.static_bucket:
        found.append(
            checks.Warning(
                f"The bucket {bucket!r} of {where} is in neither MINIO_PRIVATE_BUCKETS nor "
                "MINIO_PUBLIC_BUCKETS, so it is treated as private (presigned URLs).",
                hint=f"Add {bucket!r} to MINIO_PRIVATE_BUCKETS, or to MINIO_PUBLIC_BUCKETS for "
                "plain URLs that anyone may read.",
                obj=where,
                id="async_minio_storage.W001",
            )
        )
    return found


def _default_bucket(backend: type[MinioStorage], config: StorageConfig) -> str:
    return config.static_bucket if issubclass(backend, MinioStaticStorage) else config.media_bucket


@checks.register()
def check_collectstatic_command(
    app_configs: Any = None, **kwargs: Any
) -> list[checks.CheckMessage]:
    static_is_ours = any(
        alias == "staticfiles" and issubclass(backend, MinioStaticStorage)
        for alias, backend, _ in minio_aliases()
    )
    command_owner = get_commands().get("collectstatic")
    if not static_is_ours or command_owner in (None, "async_minio_storage"):
        return []
    return [
        checks.Warning(
            "collectstatic is django.contrib.staticfiles' command, which uploads static files "
            "one at a time and re-uploads unchanged ones after every checkout.",
            hint="Put 'async_minio_storage' before 'django.contrib.staticfiles' in "
            "INSTALLED_APPS to use this package's collectstatic (concurrent uploads, unchanged "
            "files skipped by content hash).",
            obj="INSTALLED_APPS",
            id="async_minio_storage.W002",
        )
    ]
