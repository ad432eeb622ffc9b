"""HTTP byte ranges for downloads: which bytes a ``Range`` asks for, and whether ``If-Range`` holds.

Split out of :mod:`~async_minio_storage.downloads` so the RFC 9110 rules sit in one small place
with their own tests. Pure computation: no request is made and no loop is needed, so it runs on
whatever thread or loop serves the download (the event loop under ASGI).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.utils.http import parse_http_date_safe

if TYPE_CHECKING:
    from django.http import HttpRequest

    from .files import ObjectInfo

_RANGE = re.compile(r"^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$", re.IGNORECASE)


@dataclass(frozen=True)
class ByteRange:
    """Bytes ``[start, stop)`` of an object of ``size`` bytes."""

    start: int
    stop: int
    size: int

    @property
    def content_range(self) -> str:
        return f"bytes {self.start}-{self.stop - 1}/{self.size}"


class Unsatisfiable(Exception):
    """The ``Range`` asks for no byte of the object: the answer is 416."""


def requested_range(header: str | None, size: int) -> ByteRange | None:
    """The byte range a ``Range`` header asks for, ``None`` to send the whole object.

    Follows RFC 9110 section 14: a header that is not a single ``bytes`` range is ignored (the
    whole object is a valid answer to any ``Range``); an end past the object is cut to it; a
    range that starts past the end, or a zero or empty suffix, raises :class:`Unsatisfiable`.
    """
    match = _RANGE.match(header or "")
    if match is None:
        return None  # absent, malformed, another unit, or several ranges
    first, last = match.groups()
    if not first:
        if not last:
            return None
        suffix = int(last)
        if suffix == 0 or size == 0:
            raise Unsatisfiable
        return ByteRange(max(size - suffix, 0), size, size)
    start = int(first)
    if last and int(last) < start:
        return None  # invalid: ignored, as the RFC says
    if start >= size:
        raise Unsatisfiable
    stop = min(int(last) + 1, size) if last else size
    return ByteRange(start, stop, size)


def if_range_holds(request: HttpRequest, info: ObjectInfo) -> bool:
    """``If-Range``: use the ``Range`` only if the client's copy is still the current one."""
    validator = request.headers.get("If-Range")
    if validator is None:
        return True
    if validator.startswith('"'):  # an entity tag: strong comparison
        return info.quoted_etag is not None and validator == info.quoted_etag
    timestamp = parse_http_date_safe(validator)
    return (
        timestamp is not None
        and info.last_modified is not None
        and timestamp == int(info.last_modified.timestamp())
    )
