"""One miniopy-async client per running event loop, and who closes it.

An aiohttp session belongs to the event loop that created it: used from any other loop it fails
("Event loop is closed", "attached to a different loop"). So clients are never shared between
loops. :func:`get_client` returns the client of the *running* loop for the given connection
settings, creating it on first use; every storage with the same settings shares it, and with it
one connection pool.

Lifecycle. The first client made on a loop also starts a small async generator that waits,
suspended, until the loop shuts down. ``asyncio.run`` (and ``asyncio.Runner``, which uvicorn,
pytest-asyncio and asgiref's ``async_to_sync`` use) calls ``loop.shutdown_asyncgens()`` before
closing the loop; that resumes the generator, which closes the loop's sessions *on that loop*.
Django's ASGI handler has no lifespan hook, so this is the one moment every server offers.
:func:`aclose_clients` closes them earlier, explicitly. A loop that is closed without
``shutdown_asyncgens`` leaves its sessions unclosed, and aiohttp warns about them.

Thread-safety: the registry is guarded by a lock; a client is only used on its own loop's thread.
After ``fork()`` the child starts with an empty registry (see ``sync_edge``).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import ssl
import threading
import weakref
from collections.abc import AsyncGenerator
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from io import BytesIO
from typing import BinaryIO
from typing import cast

import aiohttp
import certifi
import yarl
from aiohttp import ClientResponse
from aiohttp.typedefs import LooseHeaders
from aiohttp_retry import ExponentialRetry
from aiohttp_retry import RetryClient
from miniopy_async import time as amz_time
from miniopy_async.api import Minio
from miniopy_async.credentials.credentials import Credentials
from miniopy_async.error import InvalidResponseError
from miniopy_async.error import S3Error
from miniopy_async.helpers import DictType
from miniopy_async.helpers import sha256_hash

from .config import ConnectionSettings
from .signing import UNSIGNED_PAYLOAD
from .signing import signed_headers

logger = logging.getLogger(__name__)
_registry_lock = threading.Lock()


@dataclass(frozen=True)
class Connection:
    """A loop's connection to one server: the miniopy-async client, its HTTP session, and
    the slots that admit requests.

    ``http`` is the session ``minio`` sends its requests through; the health probe uses it for
    the plain (unsigned) requests miniopy-async has no method for, on the same pool.

    ``slots`` admits at most ``max_connections`` requests at a time, from before a request is
    prepared until its response headers arrive (a download's body is read outside its slot).
    miniopy-async builds and signs a request, a few hundred microseconds of CPU, before
    aiohttp's pool makes it wait for a connection: without admission, 200 saves gathered at
    once would all sign in one burst and hold the loop for tens of milliseconds. Slots are
    never held across two requests, so a task holding one never waits for another.
    """

    minio: Client
    http: RetryClient
    slots: asyncio.Semaphore

    @asynccontextmanager
    async def request(self) -> AsyncIterator[Client]:
        """The client, for one request, once a slot is free."""
        async with self.slots:
            yield self.minio


_clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[ConnectionSettings, Connection]]
_clients = weakref.WeakKeyDictionary()
# The suspended generators that close each loop's clients; kept here so they are not collected.
_closers: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, AsyncGenerator[None]]
_closers = weakref.WeakKeyDictionary()
# Objects inherited from the parent process across fork(): kept alive and never touched, because
# collecting them would close sockets and loops that belong to the parent.
_inherited_from_parent: list[object] = []

RETRY_STATUSES = frozenset({500, 502, 503, 504})


def retry_delay(attempt: int) -> float:
    """Seconds to wait before retrying after failed attempt number ``attempt`` (1, 2, ...)."""
    return 0.1 * 2.0 ** (attempt - 1)


# PUTs are retried by the upload code, which rewinds their bodies (see uploads._put).
RETRIED_BY_SESSION = frozenset({"GET", "HEAD", "DELETE", "POST"})


_ssl_contexts: dict[tuple[str | None, bool], ssl.SSLContext] = {}


def _create_ssl_context(ca_bundle: str | None, cert_check: bool) -> ssl.SSLContext:
    cafile = ca_bundle or os.environ.get("SSL_CERT_FILE") or certifi.where()
    context = ssl.create_default_context(cafile=cafile)
    if not cert_check:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


async def _ssl_context(settings: ConnectionSettings) -> ssl.SSLContext:
    """The TLS context for ``settings``: it trusts ``MINIO_CA_BUNDLE``, else ``SSL_CERT_FILE``,
    else certifi's CA bundle, and verifies certificates unless ``MINIO_CERT_CHECK`` is False.

    Building one reads the CA bundle from disk (~20 ms), so each is built once per process,
    in a worker thread rather than on the loop.
    """
    key = (settings.ca_bundle, settings.cert_check)
    context = _ssl_contexts.get(key)
    if context is None:
        context = _ssl_contexts[key] = await asyncio.to_thread(_create_ssl_context, *key)
    return context


# Request bodies up to this size are hashed on the loop: 64 KiB of SHA-256 is about 0.1 ms.
HASH_ON_LOOP_LIMIT = 64 * 1024


def _size_if_in_memory(body: bytes | BinaryIO | None) -> int | None:
    if body is None:
        return 0
    if isinstance(body, bytes):
        return len(body)
    if isinstance(body, BytesIO):
        return body.getbuffer().nbytes
    return None  # a file: read it off the loop


class Client(Minio):
    """miniopy-async's client, with PUTs signed and sent by this package (:meth:`put`), and
    small requests signed without a trip to a worker thread.

    Over plain http a signed request carries the SHA-256 of its body, and miniopy-async
    computes it with ``asyncio.to_thread`` for every request, an empty GET or HEAD included:
    a hand-off to the default executor and back, and the GIL passed to and fro, to hash a few
    bytes in microseconds (15% of the client's CPU time when ``collectstatic`` sent its PUTs
    this way). Small bodies are hashed here, on the loop; large ones and files still go to
    miniopy-async, which hashes them in a thread. The headers are the ones miniopy-async
    builds (this mirrors ``Minio._build_headers`` of miniopy-async 1.23, the version pinned),
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

    async def put(
        self,
        bucket: str,
        key: str,
        body: bytes | BytesIO,
        headers: dict[str, str],
        query_params: DictType | None = None,
    ) -> ClientResponse:
        """One signed PUT, sent straight to the session: an object, or a part of one.

        Every upload is a PUT, and ``collectstatic`` makes a thousand of them in a second.
        Through ``_execute`` each one resolved the region, derived the signing key (four
        HMACs), canonicalised its headers with regular expressions and copied them twice,
        about 0.4 ms of the loop's time for a 4 KB file. Here the URL is built by
        miniopy-async as before (same addressing style, same encoding), the key is derived
        once a day (``signing._signing_key``), and the request is signed by
        :func:`signing.signed_headers`. Errors are raised as ``_execute`` raises them: an
        ``S3Error`` for an S3 XML answer, an ``InvalidResponseError`` for anything else. The
        session does not retry PUTs; the caller does, after rewinding the body.
        """
        creds = await self._provider.retrieve() if self._provider else None
        if creds is None:  # anonymous clients are not made by this package
            raise ValueError("A signed PUT needs credentials.")
        region = self._base_url.region or "us-east-1"
        url = self._base_url.build(
            "PUT", region, bucket_name=bucket, object_name=key, query_params=query_params
        )
        if self._base_url.is_https:
            payload_hash = UNSIGNED_PAYLOAD  # TLS protects the body; as miniopy-async does
        else:
            payload_hash = await _sha256_of(body)
        sent = signed_headers(
            method="PUT",
            host=url.netloc,
            path=url.path,
            query=url.query,
            headers=headers,
            payload_hash=payload_hash,
            region=region,
            access_key=creds.access_key,
            secret_key=creds.secret_key,
            session_token=creds.session_token,
        )
        sent["User-Agent"] = self._user_agent  # not signed: proxies may rewrite it
        self._ensure_session()  # type: ignore[no-untyped-call]
        session = cast("aiohttp.ClientSession | RetryClient", self._session)
        response = await session.request(
            "PUT", yarl.URL(url.geturl(), encoded=True), data=body, headers=sent
        )
        if response.status in (200, 204):
            return response
        data = await response.read()
        content_type = response.headers.get("Content-Type", "")
        if data and "application/xml" in content_type.split(";"):
            raise S3Error.fromxml(response, data.decode())
        raise InvalidResponseError(
            response.status, content_type, data.decode(errors="replace") if data else None
        )


def _sha256_hex(body: bytes | BytesIO) -> str:
    if isinstance(body, bytes):
        return hashlib.sha256(body).hexdigest()
    with body.getbuffer() as view:
        return hashlib.sha256(view).hexdigest()


async def _sha256_of(body: bytes | BytesIO) -> str:
    """The body's SHA-256 in hex; computed in a worker thread when it is large."""
    size = _size_if_in_memory(body)
    if size is not None and size <= HASH_ON_LOOP_LIMIT:
        return _sha256_hex(body)
    return await asyncio.to_thread(_sha256_hex, body)


def _connect(settings: ConnectionSettings, ssl_context: ssl.SSLContext | None) -> Connection:
    """Create a client whose session belongs to the running loop. Must run on that loop."""
    session = aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(
            limit=settings.max_connections, ssl=ssl_context if ssl_context is not None else False
        ),
        timeout=aiohttp.ClientTimeout(
            total=None,
            connect=settings.connect_timeout,
            sock_connect=settings.connect_timeout,
            sock_read=settings.read_timeout,
        ),
    )
    retrying = RetryClient(
        session,
        retry_options=ExponentialRetry(
            attempts=settings.retry_attempts,
            start_timeout=retry_delay(1),
            factor=2.0,
            statuses=set(RETRY_STATUSES),
            methods=set(RETRIED_BY_SESSION),
        ),
    )
    if settings.use_https and not settings.cert_check:
        logger.warning(
            "TLS certificate verification is off for %s (MINIO_CERT_CHECK = False): anyone "
            "on the network path can impersonate the server and read the traffic.",
            settings.endpoint,
        )
    minio = Client(
        settings.endpoint,
        access_key=settings.access_key,
        secret_key=settings.secret_key,
        secure=settings.use_https,
        region=settings.region,
        session=retrying,
    )
    return Connection(minio, retrying, asyncio.Semaphore(settings.max_connections))


async def get_client(settings: ConnectionSettings) -> Client:
    """Return the running loop's client for ``settings``, creating it on first use."""
    return (await get_connection(settings)).minio


@asynccontextmanager
async def request_slot(settings: ConnectionSettings) -> AsyncIterator[Client]:
    """The running loop's client for ``settings``, for one request (see ``Connection``)."""
    connection = await get_connection(settings)
    async with connection.request() as client:
        yield client


async def get_connection(settings: ConnectionSettings) -> Connection:
    """Return the running loop's connection for ``settings``, creating it on first use."""
    loop = asyncio.get_running_loop()
    loop_clients = _clients.get(loop)
    if loop_clients is not None and (connection := loop_clients.get(settings)) is not None:
        return connection
    ssl_context = await _ssl_context(settings) if settings.use_https else None
    with _registry_lock:
        loop_clients = _clients.get(loop)
        first_on_loop = loop_clients is None
        if loop_clients is None:
            loop_clients = _clients[loop] = {}
        connection = loop_clients.get(settings)
        if connection is None:
            connection = loop_clients[settings] = _connect(settings, ssl_context)
    if first_on_loop:
        closer = _close_when_loop_shuts_down(loop)
        _closers[loop] = closer
        await anext(closer)
    return connection


async def _close_when_loop_shuts_down(loop: asyncio.AbstractEventLoop) -> AsyncGenerator[None]:
    try:
        yield
    finally:
        with _registry_lock:
            loop_clients = _clients.pop(loop, {})
            _closers.pop(loop, None)
        for connection in loop_clients.values():
            await connection.minio.close_session()  # type: ignore[no-untyped-call]


async def aclose_clients() -> None:
    """Close the running loop's sessions now rather than when the loop shuts down.

    For loops that are not ended by ``asyncio.run`` or ``asyncio.Runner``, and for tests. The
    next call makes new clients, so closing early is safe.
    """
    closer = _closers.get(asyncio.get_running_loop())
    if closer is not None:
        await closer.aclose()


def keep_inherited(thing: object) -> None:
    """Keep an object inherited across ``fork()`` alive, so that collecting it never closes
    a socket or loop that still belongs to the parent."""
    _inherited_from_parent.append(thing)


def forget_parent_clients() -> None:
    """In a forked child: start with no clients, without touching the parent's."""
    global _clients, _closers, _registry_lock
    # The lock may have been held by a thread of the parent that does not exist here.
    _registry_lock = threading.Lock()
    keep_inherited((_clients, _closers))
    _clients = weakref.WeakKeyDictionary()
    _closers = weakref.WeakKeyDictionary()
