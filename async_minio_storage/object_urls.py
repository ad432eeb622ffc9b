"""The URLs of objects: plain ones for public buckets, presigned GETs for the others.

Pure computation, no request and no loop: ``url()`` is called from templates, on any thread,
inside async views too, hundreds of times a page. With ``MINIO_CREDENTIALS`` it signs with the
provider's current keys, which are refreshed in the background before they expire (see
``credentials``); a presigned URL is valid until its expiry or the keys', whichever is first.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta

from .config import MAX_URL_EXPIRY
from .config import MIN_URL_EXPIRY
from .config import StorageConfig
from .credentials import Identity
from .signing import presign_url
from .signing import public_url


def object_url(
    config: StorageConfig,
    bucket: str,
    key: str,
    *,
    public: bool,
    expire: timedelta | float | None,
    parameters: Mapping[str, str] | None,
    identity: Identity | None = None,
) -> str:
    """The URL of ``key``: plain when ``public`` and without ``parameters``, else presigned
    for the external endpoint, valid for ``expire`` (default ``MINIO_URL_EXPIRY_HOURS``),
    signed with ``identity`` (default: the current keys, see ``credentials``)."""
    virtual_host = config.virtual_host(bucket)
    if public and not parameters:
        return public_url(config.external_base_url, bucket, key, virtual_host)
    identity = identity or config.credential_source.current_sync()
    return presign_url(
        method="GET",
        base_url=config.external_base_url,
        bucket=bucket,
        key=key,
        region=config.region,
        access_key=identity.access_key,
        secret_key=identity.secret_key,
        session_token=identity.session_token,
        expires=url_expiry(expire, default=config.url_expiry),
        query=_checked_parameters(parameters),
        virtual_host=virtual_host,
    )


def url_expiry(expire: timedelta | float | None, *, default: timedelta) -> timedelta:
    """``expire`` (a ``timedelta`` or seconds) as a ``timedelta`` of 1 second to 7 days."""
    if expire is None:
        return default
    if isinstance(expire, bool) or not isinstance(expire, timedelta | int | float):
        raise TypeError(f"expire must be a timedelta or a number of seconds, not {expire!r}.")
    try:
        expiry = expire if isinstance(expire, timedelta) else timedelta(seconds=expire)
    except (OverflowError, ValueError):  # beyond timedelta's range, or NaN
        expiry = None
    if expiry is None or not MIN_URL_EXPIRY <= expiry <= MAX_URL_EXPIRY:
        raise ValueError(f"expire must be between 1 second and 7 days; got {expire!r}.")
    return expiry


def _checked_parameters(parameters: Mapping[str, str] | None) -> dict[str, str] | None:
    if not parameters:
        return None
    for name, value in parameters.items():
        if not isinstance(name, str) or not isinstance(value, str):
            raise TypeError(f"URL parameters must map str to str; got {name!r}: {value!r}.")
    return dict(parameters)
