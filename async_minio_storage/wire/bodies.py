"""Request bodies that report their progress, and the bound on a body that makes none."""

from __future__ import annotations

import asyncio
import io
import time
from typing import TYPE_CHECKING
from typing import Any

from aiohttp import ClientResponse
from miniopy_async.helpers import DictType
from miniopy_async.helpers import md5sum_hash

from .miniopy import Client
from .miniopy import execute

if TYPE_CHECKING:
    from async_minio_storage.client import Connection


# Request bodies up to this size are sent as bytes (see send_body).
SMALL_BODY = 1024 * 1024
# Bodies larger than this have their Content-MD5 computed in a worker thread.
_DIGEST_ON_LOOP_LIMIT = 256 * 1024


class RequestBody(io.BytesIO):
    """An upload's bytes, which note when they are read for sending.

    aiohttp reads a ``BytesIO`` body a chunk at a time and writes each chunk before reading the
    next; a read is therefore progress. :class:`ProgressBound` fails an attempt whose body
    has not been read for ``MINIO_READ_TIMEOUT`` (a body of up to ``SMALL_BODY``, sent as
    bytes in one write, must be taken by the server within that time). ``last_read`` is
    written from whichever thread reads (aiohttp may read in its executor) and read on the
    loop: a float assignment.
    """

    last_read = 0.0

    def read(self, size: int | None = -1) -> bytes:
        self.last_read = time.monotonic()
        return super().read(size)

    def close(self) -> None:
        """Stay readable: aiohttp before 3.12 closes a ``BytesIO`` body once it is sent, and an
        attempt after a 5xx or a taken name sends the same body again. The memory goes when the
        body is dropped."""

    @property
    def size(self) -> int:
        with self.getbuffer() as view:
            return view.nbytes


class ProgressBound:
    """Fail the enclosed attempt when ``body`` has not been read for ``limit`` seconds.

    A timer on the loop checks when the body was last read, and either sets itself for the
    rest of the interval or expires the enclosing ``asyncio.timeout`` at once.
    """

    def __init__(self, body: RequestBody, limit: float) -> None:
        self._body = body
        self._limit = limit
        self._timeout = asyncio.timeout(None)
        self._timer: asyncio.TimerHandle | None = None

    async def __aenter__(self) -> None:
        await self._timeout.__aenter__()
        self._body.last_read = time.monotonic()
        self._timer = asyncio.get_running_loop().call_later(self._limit, self._check)

    def _check(self) -> None:
        loop = asyncio.get_running_loop()
        idle = time.monotonic() - self._body.last_read
        if idle >= self._limit:
            self._timeout.reschedule(loop.time())
        else:
            self._timer = loop.call_later(self._limit - idle, self._check)

    async def __aexit__(self, *exc_info: Any) -> None:
        if self._timer is not None:
            self._timer.cancel()
        await self._timeout.__aexit__(*exc_info)


async def digest_headers(use_https: bool, body: RequestBody) -> dict[str, str]:
    # Over https miniopy-async would compute Content-MD5 on the loop; do it here, off the loop
    # when the body is large. (Over http it hashes the body in a thread by itself.)
    if not use_https:
        return {}
    if body.size > _DIGEST_ON_LOOP_LIMIT:
        digest = await asyncio.to_thread(md5sum_hash, body)
    else:
        digest = md5sum_hash(body)
    return {"Content-MD5": digest} if digest else {}


async def send_body(
    client: Client,
    connection: Connection,
    bucket: str,
    key: str,
    body: RequestBody,
    headers: DictType,
    query_params: DictType | None = None,
    method: str = "PUT",
) -> ClientResponse:
    # Small bodies go as bytes, written in one go (and, before aiohttp 3.14, without reading a
    # BytesIO in its executor, a thread hop per request); their bound runs from the start.
    # Larger ones go as the BytesIO, which aiohttp reads and writes a chunk at a time.
    payload: bytes | RequestBody = body.getvalue() if body.size <= SMALL_BODY else body
    body.seek(0)
    async with ProgressBound(body, connection.settings.read_timeout):
        return await execute(
            client, method, bucket, key, body=payload, headers=headers, query_params=query_params
        )
