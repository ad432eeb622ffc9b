"""The checks of option values: each takes a setting's name and raw value and returns the
clean value, or raises ``ImproperlyConfigured`` naming the setting. Credentials are never echoed
back. The table that says which check each setting gets is ``options.OPTIONS``.
"""

from __future__ import annotations

import importlib
import json
import math
import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from miniopy_async.credentials.providers import Provider

from .redacted import Secret

DEFAULT_MEDIA_BUCKET = "auto-generated-bucket-media-files"
DEFAULT_STATIC_BUCKET = "auto-generated-bucket-static-files"  # django-minio-backend's
MIN_PART_SIZE = 5 * 1024 * 1024
MAX_PART_SIZE = 5 * 1024 * 1024 * 1024
MAX_URL_EXPIRY = timedelta(days=7)
MIN_URL_EXPIRY = timedelta(seconds=1)
ADDRESSING_STYLES = ("auto", "path", "virtual")

_BUCKET_NAME = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_IPV4_ADDRESS = re.compile(r"^\d{1,3}(\.\d{1,3}){3}$")
_HOST_PORT = re.compile(r"^(?P<host>\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._-]+)(:(?P<port>\d{1,5}))?$")
# What S3 servers accept as a region name (AWS's, MinIO's and miniopy-async's rule).
_REGION = re.compile(r"^(?![_-])[A-Za-z0-9_-]{1,63}(?<![_-])$")


# Never echoed in an error message.
SECRET_SETTINGS = frozenset({"MINIO_SECRET_KEY", "MINIO_SESSION_TOKEN"})


class InvalidSetting(ImproperlyConfigured):
    """A setting with a bad value. ``check_id`` is the id of the system check that reports it."""

    def __init__(self, message: str, check_id: str = "async_minio_storage.E007") -> None:
        super().__init__(message)
        self.check_id = check_id


class MissingSetting(InvalidSetting):
    def __init__(self, name: str) -> None:
        super().__init__(f"{name} is required and is not set.", "async_minio_storage.E001")


def _fail(name: str, expected: str, value: Any, *, secret: bool = False) -> ImproperlyConfigured:
    shown = f"a value of type {type(value).__name__}" if secret else repr(value)
    return ImproperlyConfigured(f"{name} must be {expected}; got {shown}.")


def _required_text(name: str, value: Any) -> str:
    if value is None or value == "":
        raise MissingSetting(name)
    if not isinstance(value, str) or not value.strip():
        raise _fail(name, "a non-empty string", value, secret=name in SECRET_SETTINGS)
    return value


def optional_text(name: str, value: Any) -> str | None:
    return None if value is None or value == "" else _required_text(name, value)


def optional_secret(name: str, value: Any) -> Secret | None:
    text = optional_text(name, value)
    return None if text is None else Secret(text)


def region(name: str, value: Any) -> str:
    text = _required_text(name, value)
    if not _REGION.match(text):
        raise ImproperlyConfigured(
            f"{name} must be a region name such as 'us-east-1' (letters, digits, '-' and '_', "
            f"at most 63); got {text!r}."
        )
    return text


def addressing(name: str, value: Any) -> str:
    if value not in ADDRESSING_STYLES:
        raise _fail(name, "'auto', 'path' or 'virtual'", value)
    return str(value)


def credentials(name: str, value: Any) -> Provider | None:
    """A miniopy-async credentials provider, or the dotted path of a class or function that
    makes one when called without arguments (for settings read from the environment)."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        module_name, _, attribute = value.rpartition(".")
        try:
            factory = getattr(importlib.import_module(module_name), attribute)
        except (ImportError, AttributeError, ValueError) as error:
            raise ImproperlyConfigured(f"{name}: cannot import {value!r} ({error}).") from None
        value = factory()
    if not isinstance(value, Provider):
        raise _fail(
            name,
            "a miniopy_async.credentials provider (or the dotted path of a factory of one)",
            value,
        )
    return value


def header_value(name: str, value: Any) -> str | None:
    text = optional_text(name, value)
    if text is not None and not text.isprintable():
        raise ImproperlyConfigured(f"{name} must be one line of printable text; got {text!r}.")
    return text


def endpoint(name: str, value: Any) -> str:
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


def optional_endpoint(name: str, value: Any) -> str | None:
    return None if value is None or value == "" else endpoint(name, value)


def flag(name: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise _fail(name, "True or False", value)
    return value


def optional_flag(name: str, value: Any) -> bool | None:
    return None if value is None else flag(name, value)


def url_expiry(name: str, value: Any) -> timedelta:
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


def bucket_name(name: str, value: Any) -> str:
    text = _required_text(name, value)
    if not is_valid_bucket_name(text):
        raise ImproperlyConfigured(
            f"{name} holds {text!r}, which is not a valid bucket name: use 3-63 lowercase letters, "
            "digits, dots and hyphens, starting and ending with a letter or digit."
        )
    return text


def bucket_list(name: str, value: Any) -> tuple[str, ...]:
    if isinstance(value, str) or not isinstance(value, list | tuple | set | frozenset):
        raise _fail(name, "a list of bucket names", value)
    return tuple(bucket_name(name, item) for item in value)


def policy_hooks(name: str, value: Any) -> tuple[tuple[str, str], ...]:
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
        hooks.append((bucket_name(name, item[0]), json.dumps(item[1])))
    return tuple(hooks)


def positive_number(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value < math.inf:
        raise _fail(name, "a positive number of seconds", value)
    return float(value)


def _count(name: str, value: Any, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise _fail(name, f"a whole number from {low} to {high}", value)
    return value


def part_size(name: str, value: Any) -> int:
    return _count(name, value, MIN_PART_SIZE, MAX_PART_SIZE)


def ignored(name: str, value: Any) -> None:
    return None


def between(low: int, high: int) -> Callable[[str, Any], int]:
    def check(name: str, value: Any) -> int:
        return _count(name, value, low, high)

    return check
