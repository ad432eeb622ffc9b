"""What a browser needs to upload a file straight to the object store, bypassing Django.

A 2 GB video sent through Django ties up a worker (and its memory or temporary disk) for the
whole transfer. Instead, the app hands the browser a signed permission to write one object,
and the browser sends the bytes to the object store itself. Two forms, both signed locally
(no request to the server) and both enforced by the server:

- a presigned **PUT** URL, with headers the browser must send unchanged: ``Content-Type`` and,
  unless the storage replaces existing files, ``If-None-Match: *`` (the server refuses to
  overwrite an object that appeared meanwhile). With ``size``, ``Content-Length`` is signed too,
  so no other size is accepted. Simple to send with ``fetch`` or ``XMLHttpRequest``;
- a **POST** policy for a ``multipart/form-data`` form: the server checks the key, the content
  type and ``content-length-range`` (at most ``max_size`` bytes) itself. S3 offers no
  conditional POST, so an object that appeared under the same name meanwhile is overwritten;
  names come from ``get_available_name``, which makes that a narrow race.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC
from datetime import datetime
from datetime import timedelta
from typing import TYPE_CHECKING
from typing import Any
from typing import cast

from . import wire
from .names import object_key
from .object_urls import url_expiry
from .signing import post_policy
from .signing import presign_url
from .sync_edge import run_sync

if TYPE_CHECKING:
    from .storage import MinioStorage

# How long a browser upload may start after it was signed, unless told otherwise.
DEFAULT_UPLOAD_EXPIRY = timedelta(hours=1)

# type/subtype, optionally with parameters; nothing that could smuggle a header line.
_CONTENT_TYPE = re.compile(r"^[A-Za-z0-9!#$&^_.+-]+/[A-Za-z0-9!#$&^_.+-]+(\s*;[ -~]*)?$")


def check_content_type(content_type: str) -> str:
    """Return ``content_type`` if it is a plain ``type/subtype[; parameters]``, else raise."""
    if not isinstance(content_type, str) or not _CONTENT_TYPE.match(content_type):
        raise ValueError(f"Not a valid content type: {content_type!r}.")
    return content_type


def check_size(value: int | None, what: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{what} must be a number of bytes (0 or more), not {value!r}.")
    return value


@dataclass(frozen=True)
class PresignedUpload:
    """A signed permission to write the object ``name``, until ``expires_at``.

    Send the file with either::

        fetch(upload.url, {method: "PUT", headers: upload.headers, body: file})

        const form = new FormData();
        for (const [field, value] of Object.entries(upload.post_fields)) form.append(field, value);
        form.append("file", file);  // the file goes last
        fetch(upload.post_url, {method: "POST", body: form});

    Made by :meth:`~async_minio_storage.MinioStorage.apresigned_upload`. The URLs and fields
    are bearer credentials until ``expires_at``: the ``repr`` leaves them out.
    """

    #: The object's name, chosen as ``save()`` chooses it: the one to record.
    name: str
    #: The presigned ``PUT`` URL, for the external endpoint.
    url: str
    #: The headers the ``PUT`` must send unchanged: ``Content-Type``, the save token and,
    #: unless the storage replaces existing files, ``If-None-Match: *``.
    headers: dict[str, str]
    #: The URL the ``multipart/form-data`` form is posted to.
    post_url: str
    #: The form's fields, to send before the file, which goes last.
    post_fields: dict[str, str]
    #: The ``Content-Type`` both forms must send, exactly.
    content_type: str
    #: The most bytes the ``POST`` form accepts; None: no limit.
    max_size: int | None
    #: The ``Content-Length`` signed into the ``PUT``; None: any.
    size: int | None
    #: When both signatures expire (aware, UTC).
    expires_at: datetime

    def as_dict(self) -> dict[str, Any]:
        """Every field, JSON-ready (``expires_at`` in ISO 8601), for handing to a browser."""
        return {
            "name": self.name,
            "url": self.url,
            "headers": dict(self.headers),
            "post_url": self.post_url,
            "post_fields": dict(self.post_fields),
            "content_type": self.content_type,
            "max_size": self.max_size,
            "size": self.size,
            "expires_at": self.expires_at.isoformat(),
        }

    def __repr__(self) -> str:
        # The URL and fields are bearer credentials until they expire: keep them out of logs.
        return f"<PresignedUpload {self.name!r} until {self.expires_at.isoformat()}>"


async def sign_upload(
    storage: MinioStorage,
    name: str,
    *,
    content_type: str | None,
    max_size: int | None,
    size: int | None,
    expire: timedelta | float | None,
    max_length: int | None,
) -> PresignedUpload:
    """The :class:`PresignedUpload` of ``storage.apresigned_upload()``: the name checked and
    made available as ``save()`` would, both forms signed locally with the save token."""
    key = object_key(name)
    check_size(max_size, "max_size")
    check_size(size, "size")
    if size is not None and max_size is not None and size > max_size:
        raise ValueError(f"The file is {size} bytes; at most {max_size} are allowed.")
    expiry = url_expiry(expire, default=DEFAULT_UPLOAD_EXPIRY)
    content_type = check_content_type(content_type or storage.guess_content_type(key))
    name = await storage.aget_available_name(key, max_length)
    key = object_key(name)
    config = storage.config
    now = datetime.now(UTC)
    # The save token, signed into both forms: confirmation tells this upload's object from
    # one that another upload (or a save) stored under the name.
    token = {wire.SAVE_TOKEN_HEADER: wire.new_save_token()}
    headers = {"Content-Type": content_type, **token}
    if not storage.replace_existing:
        headers["If-None-Match"] = "*"
    signed = headers | ({"Content-Length": str(size)} if size is not None else {})
    identity = await config.credential_source.current()
    virtual_host = config.virtual_host(storage.bucket_name)
    url = presign_url(
        method="PUT",
        base_url=config.external_base_url,
        bucket=storage.bucket_name,
        key=key,
        region=config.region,
        access_key=identity.access_key,
        secret_key=identity.secret_key,
        session_token=identity.session_token,
        expires=expiry,
        headers=signed,
        now=now,
        virtual_host=virtual_host,
    )
    post_url, post_fields = post_policy(
        base_url=config.external_base_url,
        bucket=storage.bucket_name,
        key=key,
        region=config.region,
        access_key=identity.access_key,
        secret_key=identity.secret_key,
        session_token=identity.session_token,
        expires=expiry,
        content_type=content_type,
        max_size=max_size,
        metadata=token,
        now=now,
        virtual_host=virtual_host,
    )
    return PresignedUpload(
        name=name,
        url=url,
        headers=headers,
        post_url=post_url,
        post_fields=post_fields,
        content_type=content_type,
        max_size=max_size,
        size=size,
        expires_at=now + expiry,
    )


class PresignedUploads:
    """``MinioStorage``'s methods for uploads straight from the browser (a mixin, as Django's
    ``ManifestFilesMixin``): the sync one runs the async one through ``sync_edge``."""

    def presigned_upload(
        self,
        name: str,
        *,
        content_type: str | None = None,
        max_size: int | None = None,
        size: int | None = None,
        expire: timedelta | float | None = None,
        max_length: int | None = None,
    ) -> PresignedUpload:
        """Sync twin of :meth:`apresigned_upload`."""
        return run_sync(
            self.apresigned_upload,
            name,
            content_type=content_type,
            max_size=max_size,
            size=size,
            expire=expire,
            max_length=max_length,
        )

    async def apresigned_upload(
        self,
        name: str,
        *,
        content_type: str | None = None,
        max_size: int | None = None,
        size: int | None = None,
        expire: timedelta | float | None = None,
        max_length: int | None = None,
    ) -> PresignedUpload:
        """Let a browser upload one object itself (see ``async_minio_storage.presigned``): a
        :class:`~async_minio_storage.presigned.PresignedUpload` with a PUT URL and a POST form.

        ``name`` is checked as ``save()`` checks it and goes through :meth:`aget_available_name`
        (one ``HEAD`` per candidate, none with ``replace_existing``); the returned upload's
        ``name`` is the one to record. ``content_type`` defaults to the guess from the name; the
        upload must send exactly it. ``max_size`` caps the POST form's size; ``size``, if known,
        pins the PUT's ``Content-Length``. Valid for ``expire`` (a ``timedelta`` or seconds;
        default 1 hour, at most 7 days).

        Both forms are signed locally, on the caller's loop. A refused name raises
        :exc:`~django.core.exceptions.SuspiciousFileOperation`; a negative size, a ``size`` over
        ``max_size``, a malformed content type or an ``expire`` out of range :exc:`ValueError`.
        """
        return await sign_upload(
            cast("MinioStorage", self),
            name,
            content_type=content_type,
            max_size=max_size,
            size=size,
            expire=expire,
            max_length=max_length,
        )
