"""What the server says, as records: the one record of an object, listings, uploads, refusals;
and the parsing of the server's XML and dates."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC
from datetime import datetime
from typing import TYPE_CHECKING
from urllib.parse import unquote_plus
from xml.etree import ElementTree

from django.utils.http import parse_http_date_safe

from async_minio_storage.errors import StorageRequestError

if TYPE_CHECKING:
    pass


# The metadata header that carries a save's token, stored with the object.
SAVE_TOKEN_HEADER = "x-amz-meta-async-minio-save"  # noqa: S105 (a header name, not a secret)
_PLAIN_MD5 = re.compile(r"[0-9a-f]{32}")


@dataclass(frozen=True, slots=True)
class ObjectRecord:
    """What the server says about one object, from a HEAD, a GET or a listing.

    ``etag`` is without its quotes (the MD5 of the content for single-request uploads);
    ``content_type`` and ``save_token`` are known from HEAD and GET only, not from listings.
    """

    key: str
    size: int
    etag: str | None
    last_modified: datetime | None
    content_type: str | None = None
    save_token: str | None = None

    @property
    def name(self) -> str:
        """The storage name of the object: its key."""
        return self.key

    @property
    def quoted_etag(self) -> str | None:
        """The ETag as HTTP sends it, for ``ETag`` and ``If-Match`` headers."""
        return f'"{self.etag}"' if self.etag else None

    @property
    def content_md5(self) -> str | None:
        """The MD5 of the content (hex), when the ETag is one: not for multipart or encrypted
        objects, whose ETags are something else."""
        etag = (self.etag or "").lower()
        return etag if _PLAIN_MD5.fullmatch(etag) else None

    @property
    def is_directory_marker(self) -> bool:
        return is_directory_marker(self.key)


def is_directory_marker(key: str) -> bool:
    """A key ending in ``/`` is a folder made by an S3 console or tool, never a storage's file."""
    return key.endswith("/")


_MONTHS = {
    name: number
    for number, name in enumerate(
        ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"), 1
    )
}


def http_date(value: str | None) -> datetime | None:
    """An HTTP date (``Last-Modified``), aware in UTC. The form every S3 server sends,
    ``Tue, 01 Dec 2026 20:56:00 GMT``, is read directly (a HEAD's largest CPU cost after
    signing, through ``strptime``); the obsolete forms go through Django's parser."""
    if value and len(value) == 29 and value.endswith(" GMT") and value[3:5] == ", ":
        month = _MONTHS.get(value[8:11])
        try:
            if month is not None:
                return datetime(
                    int(value[12:16]),
                    month,
                    int(value[5:7]),
                    int(value[17:19]),
                    int(value[20:22]),
                    int(value[23:25]),
                    tzinfo=UTC,
                )
        except ValueError:
            pass
    timestamp = parse_http_date_safe(value or "")
    return datetime.fromtimestamp(timestamp, tz=UTC) if timestamp is not None else None


def object_size(content_range: str | None, *, default: int) -> int:
    """The whole object's size from ``Content-Range: bytes 0-99/1234`` (else ``default``)."""
    if content_range and "/" in content_range:
        total = content_range.rsplit("/", 1)[1].strip()
        if total.isdigit():
            return int(total)
    return default


def record_from_headers(key: str, headers: Mapping[str, str]) -> ObjectRecord:
    """The record of ``key`` from a HEAD or GET answer's headers (the whole object's size)."""
    length = int(headers.get("Content-Length") or 0)
    return ObjectRecord(
        key=key,
        size=object_size(headers.get("Content-Range"), default=length),
        etag=(headers.get("ETag") or "").strip('"') or None,
        last_modified=http_date(headers.get("Last-Modified")),
        content_type=headers.get("Content-Type"),
        save_token=headers.get(SAVE_TOKEN_HEADER),
    )


def parse_xml(text: str) -> tuple[ElementTree.Element, str]:
    # The XML comes from the configured server, parsed as miniopy-async parses all of it.
    root = ElementTree.fromstring(text)  # noqa: S314
    namespace = root.tag[: root.tag.index("}") + 1] if root.tag.startswith("{") else ""
    return root, namespace


def root_tag(text: str) -> str:
    return parse_xml(text)[0].tag.rsplit("}", 1)[-1]


def xml_text(text: str, tag: str) -> str | None:
    root, namespace = parse_xml(text)
    return root.findtext(f"{namespace}{tag}")


def aware_date(value: str) -> datetime | None:
    """A date that says its offset (``Z``, ``+01:00``), else None: a server that writes a time
    without one means its own local time, which cannot be placed."""
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None


def iso_date(value: str) -> datetime | None:
    """A listing's date; one without an offset is taken to be UTC, as S3 writes them."""
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class IncompleteUpload:
    """A multipart upload that was started and neither completed nor aborted."""

    key: str
    upload_id: str
    initiated: datetime | None


@dataclass(frozen=True)
class ListingPage:
    objects: list[ObjectRecord]
    prefixes: list[str]  # "directories", when listed with a delimiter
    continuation: str | None  # the token of the next page; None on the last


@dataclass(frozen=True, slots=True)
class DeleteRefusal:
    key: str | None  # None: the whole request was refused
    code: str
    message: str


def parse_listing(text: str) -> ListingPage:
    """A ListObjectsV2 answer as a page."""
    root, namespace = parse_xml(text)
    contents, common_prefixes = f"{namespace}Contents", f"{namespace}CommonPrefixes"
    url_encoded = root.findtext(f"{namespace}EncodingType") == "url"

    def decoded(value: str) -> str:
        return unquote_plus(value) if url_encoded else value

    objects: list[ObjectRecord] = []
    prefixes: list[str] = []
    for element in root:
        if element.tag == contents:
            fields = {child.tag[len(namespace) :]: child.text or "" for child in element}
            objects.append(
                ObjectRecord(
                    key=decoded(fields.get("Key", "")),
                    size=int(fields.get("Size") or 0),
                    etag=fields.get("ETag", "").strip('"') or None,
                    last_modified=iso_date(fields.get("LastModified", "")),
                )
            )
        elif element.tag == common_prefixes:
            prefixes.append(decoded(element.findtext(f"{namespace}Prefix") or ""))
    if (root.findtext(f"{namespace}IsTruncated") or "").lower() != "true":
        return ListingPage(objects, prefixes, None)
    token = root.findtext(f"{namespace}NextContinuationToken")
    if not token:
        # Stopping here would pass a partial listing off as the whole bucket.
        raise StorageRequestError("The server cut a listing short without saying where it goes on.")
    return ListingPage(objects, prefixes, token)
