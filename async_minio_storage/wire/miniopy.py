"""The one module that touches private members of miniopy-async and aiohttp, and why each.

- ``Minio._execute``: the one way to send a request with headers that the public methods do
  not take (``If-None-Match``, ``Content-MD5``, the save token on CreateMultipartUpload) and to
  send multipart, listing and upload-listing requests whose answers ``wire`` parses itself.
  Every such request goes through :func:`execute`.
- ``Minio._build_headers``: overridden by :class:`Client` to hash small bodies on the loop
  instead of in a worker thread (see there); the override reads ``Minio._base_url`` (is the
  endpoint https?) and ``Minio._user_agent`` (the header miniopy-async sends), as the method
  it replaces does.
- ``InvalidResponseError._code``: the HTTP status of a non-S3 answer (a proxy's error page);
  the class has no public field for it (:func:`status_of`).
- ``ClientSession._retry_connection`` (aiohttp's): set to False (:func:`without_silent_resends`),
  so that aiohttp never sends a request again by itself when a kept-alive connection breaks.
  Every resend is then decided by the retry policy, which rewinds the body; aiohttp before
  3.14.4 resent a file-like body from where the first attempt had left it (that is, nothing),
  and the server waited for bytes that never came. There is no public switch for it.

The README lists the same members; ``tests/test_wire.py`` checks that the lists and the code
agree and that no other module touches them.
"""

from __future__ import annotations

import io
from datetime import datetime
from typing import TYPE_CHECKING
from typing import BinaryIO

import aiohttp
from aiohttp import ClientResponse
from aiohttp.typedefs import LooseHeaders
from miniopy_async import time as amz_time
from miniopy_async.api import Minio
from miniopy_async.credentials.credentials import Credentials
from miniopy_async.error import InvalidResponseError
from miniopy_async.error import S3Error
from miniopy_async.error import ServerError
from miniopy_async.helpers import DictType
from miniopy_async.helpers import sha256_hash

if TYPE_CHECKING:
    pass


# Request bodies up to this size are hashed on the loop: 64 KiB of SHA-256 is about 0.1 ms.
HASH_ON_LOOP_LIMIT = 64 * 1024


def _size_if_in_memory(body: bytes | BinaryIO | None) -> int | None:
    if body is None:
        return 0
    if isinstance(body, bytes):
        return len(body)
    if isinstance(body, io.BytesIO):
        with body.getbuffer() as view:
            return view.nbytes
    return None  # a file: read it off the loop


class Client(Minio):
    """miniopy-async's client, with small requests signed without a trip to a worker thread.

    Over plain http a signed request carries the SHA-256 of its body, and miniopy-async
    computes it with ``asyncio.to_thread`` for every request, an empty GET or HEAD included:
    a hand-off to the default executor and back, and the GIL passed to and fro, to hash a few
    bytes in microseconds (15% of the client's CPU time when ``collectstatic`` sent its PUTs
    this way). Small bodies are hashed here, on the loop; large ones and files still go to
    miniopy-async, which hashes them in a thread. The headers are the ones miniopy-async
    builds (this mirrors ``Minio._build_headers`` of miniopy-async 1.23),
    so the signature is unchanged: every request the test suite makes checks it against the
    server.
    """

    async def _build_headers(
        self,
        host: str,
        headers: LooseHeaders | DictType | None,
        body: bytes | BinaryIO | None,
        creds: Credentials | None,
    ) -> tuple[dict[str, str], datetime]:
        size = _size_if_in_memory(body)
        if self._base_url.is_https or creds is None or size is None or size > HASH_ON_LOOP_LIMIT:
            return await super()._build_headers(host, headers, body, creds)
        built: dict[str, str] = dict(headers) if headers is not None else {}  # type: ignore[arg-type]
        built["Host"] = host
        built["User-Agent"] = self._user_agent
        if body:
            built["Content-Length"] = str(size)
        built["x-amz-content-sha256"] = sha256_hash(body)
        if creds.session_token:
            built["X-Amz-Security-Token"] = creds.session_token
        date = amz_time.utcnow()
        built["x-amz-date"] = amz_time.to_amz_date(date)
        return built, date


async def execute(
    client: Minio,
    method: str,
    bucket: str | None = None,
    key: str | None = None,
    *,
    body: bytes | BinaryIO | None = None,
    headers: DictType | None = None,
    query_params: DictType | None = None,
) -> ClientResponse:
    """Send one signed request through miniopy-async (``Minio._execute``): it signs, sends and
    raises ``S3Error``/``ServerError``/``InvalidResponseError`` for an error answer."""
    response: ClientResponse = await client._execute(
        method, bucket, key, body=body, headers=headers, query_params=query_params
    )
    return response


def status_of(error: BaseException) -> int | None:
    """The HTTP status of a server's answer, when the error came from one."""
    if isinstance(error, S3Error):
        return error.response.status if error.response is not None else None
    if isinstance(error, ServerError):
        return error.status_code
    if isinstance(error, InvalidResponseError):  # a non-S3 answer, such as a proxy's error page
        code = getattr(error, "_code", None)  # the status; the class exposes no public field
        return code if isinstance(code, int) else None
    return None


def without_silent_resends(session: aiohttp.ClientSession) -> aiohttp.ClientSession:
    """``session``, which will not resend a request by itself (see the module's docstring)."""
    session._retry_connection = False
    return session
