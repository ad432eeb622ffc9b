"""AWS Signature V4 for browsers: public URLs, presigned URLs and POST policies, built locally.

Nothing here touches the network or an event loop, which is why ``url()`` can be called from a
template rendered inside an async view (on the loop's own thread), and why pages listing
hundreds of files cost no requests. The region comes from settings rather than a
``GetBucketLocation`` round trip, and the URL is signed for the *external* host, the one the
browser will send as ``Host``.

The algorithm is S3's "query string authentication"
(https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-query-string-auth.html) with an unsigned
payload; the tests check every URL against a server that verifies signatures, and against
``miniopy_async.signer`` on thousands of generated inputs (``tests/test_signing_differential``).
The signing key is derived once a day, not once per URL.

Credentials reach these functions as :class:`~async_minio_storage.redacted.Secret`, printed as
stars, and the derivation of the day's signing key and the POST policy are
``sensitive_variables``, so that neither the secret nor the signing key shows on Django's debug
page if signing fails. (``presign_url`` is not wrapped: it is ``url()``'s hot path, and the
only credential in its frame is the ``Secret``.)
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Mapping
from datetime import UTC
from datetime import datetime
from datetime import timedelta
from functools import lru_cache
from urllib.parse import quote
from urllib.parse import urlsplit

from django.views.decorators.debug import sensitive_variables

ALGORITHM = "AWS4-HMAC-SHA256"
UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"


def object_path(bucket: str, key: str) -> str:
    """The path-style URL path of an object, each byte outside RFC 3986's unreserved set and
    ``/`` percent-encoded (so spaces, ``+``, ``#``, ``?`` and unicode survive the trip)."""
    return f"/{quote(bucket, safe='')}/{quote(key, safe='/')}"


def object_location(base_url: str, bucket: str, key: str, virtual_host: bool) -> tuple[str, str]:
    """``(scheme://host[:port], path)`` of an object: path-style (``/bucket/key``), or
    virtual-hosted-style (the bucket in the host name, ``/key``) as AWS S3 prefers."""
    if not virtual_host:
        return base_url, object_path(bucket, key)
    scheme, _, host = base_url.partition("://")
    return f"{scheme}://{bucket}.{host}", "/" + quote(key, safe="/")


def public_url(base_url: str, bucket: str, key: str, virtual_host: bool = False) -> str:
    """A plain URL, for objects in a bucket whose policy lets anyone read them."""
    return "".join(object_location(base_url, bucket, key, virtual_host))


@lru_cache(maxsize=64)
@sensitive_variables("key")
def _signing_key(secret_key: str, date_stamp: str, region: str, service: str = "s3") -> bytes:
    # Valid for a whole UTC day, so computed once a day per (secret, region).
    key = ("AWS4" + secret_key).encode()
    for part in (date_stamp, region, service, "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return key


@lru_cache(maxsize=64)
def _encoded_credential(access_key: str, scope: str) -> str:
    return quote(f"{access_key}/{scope}", safe="")


def _timestamp(now: datetime | None) -> tuple[str, str]:
    """The request time as SigV4 writes it (``20130524T000000Z``), and its day (``20130524``)."""
    amz_date = (now or datetime.now(UTC)).astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    return amz_date, amz_date[:8]


def _scope(date_stamp: str, region: str, service: str = "s3") -> str:
    # ``service`` is S3's in every request here; AWS's published test vectors use others.
    return f"{date_stamp}/{region}/{service}/aws4_request"


def _canonical_headers(headers: Mapping[str, str]) -> tuple[str, str]:
    """The canonical header lines and the signed header names, as the server rebuilds them:
    names in lower case and sorted, values trimmed, runs of spaces collapsed to one."""
    canonical = {name.lower(): " ".join(value.split()) for name, value in headers.items()}
    names = sorted(canonical)
    return "".join([f"{name}:{canonical[name]}\n" for name in names]), ";".join(names)


def _signature(
    canonical_request: str, amz_date: str, region: str, secret_key: str, service: str = "s3"
) -> str:
    date_stamp = amz_date[:8]
    string_to_sign = "\n".join(
        (
            ALGORITHM,
            amz_date,
            _scope(date_stamp, region, service),
            hashlib.sha256(canonical_request.encode()).hexdigest(),
        )
    )
    return _hmac_hex(_signing_key(secret_key, date_stamp, region, service), string_to_sign)


def _hmac_hex(key: bytes, message: str) -> str:
    return hmac.new(key, message.encode(), hashlib.sha256).hexdigest()


def _canonical_query(fixed: list[tuple[str, str]], extra: Mapping[str, str] | None) -> str:
    """The query string, sorted and percent-encoded as SigV4 wants it.

    ``fixed`` pairs are already encoded (they hold only safe characters, or were encoded once
    and cached): encoding every parameter of every URL was most of ``url()``'s cost.
    """
    pairs = fixed + [
        (quote(name, safe=""), quote(value, safe="")) for name, value in (extra or {}).items()
    ]
    pairs.sort()
    return "&".join(f"{name}={value}" for name, value in pairs)


def presign_url(
    *,
    method: str,
    base_url: str,
    bucket: str,
    key: str,
    region: str,
    access_key: str,
    secret_key: str,
    expires: timedelta,
    query: Mapping[str, str] | None = None,
    headers: Mapping[str, str] | None = None,
    now: datetime | None = None,
    session_token: str | None = None,
    virtual_host: bool = False,
) -> str:
    """Return a URL that performs ``method`` on the object until ``expires`` has passed.

    ``base_url`` is ``scheme://host[:port]`` as the browser will use it. ``query`` adds signed
    parameters such as ``response-content-disposition``. ``headers`` are signed too: the
    request must carry each with exactly that value, or the server refuses it (how a presigned
    PUT pins its ``Content-Type`` and ``If-None-Match: *``). ``session_token`` (temporary
    credentials) is signed into the URL as ``X-Amz-Security-Token``.
    """
    amz_date, date_stamp = _timestamp(now)
    base_url, path = object_location(base_url, bucket, key, virtual_host)
    host = urlsplit(base_url).netloc
    if headers:
        canonical_headers, signed_names = _canonical_headers({"host": host, **headers})
    else:  # url(): the host is the only signed header, and this is most of url()'s cost
        canonical_headers, signed_names = f"host:{host}\n", "host"
    fixed = [
        ("X-Amz-Algorithm", ALGORITHM),
        ("X-Amz-Credential", _encoded_credential(access_key, _scope(date_stamp, region))),
        ("X-Amz-Date", amz_date),
        ("X-Amz-Expires", str(int(expires.total_seconds()))),
        ("X-Amz-SignedHeaders", quote(signed_names, safe="")),
    ]
    if session_token:
        fixed.append(("X-Amz-Security-Token", quote(session_token, safe="")))
    canonical_query = _canonical_query(fixed, query)
    canonical_request = "\n".join(
        (method, path, canonical_query, canonical_headers, signed_names, UNSIGNED_PAYLOAD)
    )
    signature = _signature(canonical_request, amz_date, region, secret_key)
    return f"{base_url}{path}?{canonical_query}&X-Amz-Signature={signature}"


@sensitive_variables("secret_key", "session_token", "key")
def post_policy(
    *,
    base_url: str,
    bucket: str,
    key: str,
    region: str,
    access_key: str,
    secret_key: str,
    expires: timedelta,
    content_type: str,
    max_size: int | None,
    metadata: Mapping[str, str] | None = None,
    now: datetime | None = None,
    session_token: str | None = None,
    virtual_host: bool = False,
) -> tuple[str, dict[str, str]]:
    """A browser form upload (S3 POST policy): the URL to post to, and the fields to send
    before the file.

    The policy, signed here, is what the server enforces: this bucket and key exactly, this
    ``Content-Type`` exactly, at most ``max_size`` bytes (``content-length-range``), before
    the expiry, and the ``metadata`` fields (``x-amz-meta-*``) exactly. A form that changes any
    of them is refused.
    (https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-HTTPPOSTConstructPolicy.html)
    """
    now = now or datetime.now(UTC)
    amz_date, date_stamp = _timestamp(now)
    credential = f"{access_key}/{_scope(date_stamp, region)}"
    fields = {
        "key": key,
        "Content-Type": content_type,
        "x-amz-algorithm": ALGORITHM,
        "x-amz-credential": credential,
        "x-amz-date": amz_date,
        **({"x-amz-security-token": session_token} if session_token else {}),
        **(metadata or {}),
    }
    conditions: list[object] = [
        {"bucket": bucket},
        *(["eq", f"${name}", value] for name, value in fields.items()),
    ]
    if max_size is not None:
        conditions.append(["content-length-range", 0, max_size])
    policy = {
        "expiration": (now + expires).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z"),
        "conditions": conditions,
    }
    encoded = base64.b64encode(json.dumps(policy, separators=(",", ":")).encode()).decode()
    signature = _hmac_hex(_signing_key(secret_key, date_stamp, region), encoded)
    url = "".join(object_location(base_url, bucket, "", virtual_host)).removesuffix("/")
    return url, {**fields, "policy": encoded, "x-amz-signature": signature}
