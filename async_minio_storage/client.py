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
import logging
import os
import ssl
import threading
import weakref
from collections.abc import AsyncGenerator
from dataclasses import dataclass

import aiohttp
import certifi

from .config import ConnectionSettings
from .credentials import SourceProvider
from .credentials import source_for
from .wire import Client
from .wire.miniopy import abort_pooled_tls_connections
from .wire.miniopy import without_silent_resends

logger = logging.getLogger(__name__)
_registry_lock = threading.Lock()


@dataclass(frozen=True)
class Connection:
    """A loop's connection to one server: the miniopy-async client, its HTTP session, and
    the slots that admit requests.

    ``http`` is the session ``minio`` sends its requests through; the health probe uses it for
    the plain (unsigned) requests miniopy-async has no method for, on the same pool. It does
    not retry: every retry is decided by ``wire``.

    ``slots`` admits at most ``max_connections`` requests at a time, from before a request is
    prepared until its response headers arrive (a download's body is read outside its slot).
    miniopy-async builds and signs a request, a few hundred microseconds of CPU, before
    aiohttp's pool makes it wait for a connection: without admission, 200 saves gathered at
    once would all sign in one burst and hold the loop for tens of milliseconds. Slots are
    never held across two requests, so a task holding one never waits for another.

    ``saves`` admits as many saves, from reading their first bytes until a small one is
    written: without it, a thousand saves started at once would each read up to
    ``MINIO_MULTIPART_THRESHOLD`` into memory before the first was sent.
    """

    settings: ConnectionSettings
    minio: Client
    http: aiohttp.ClientSession
    slots: asyncio.Semaphore
    saves: asyncio.Semaphore


_clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[ConnectionSettings, Connection]]
_clients = weakref.WeakKeyDictionary()
# The suspended generators that close each loop's clients; kept here so they are not collected.
_closers: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, AsyncGenerator[None]]
_closers = weakref.WeakKeyDictionary()
# In a forked child: the parent's closers, kept alive and never run (see forget_parent_clients).
_inherited_from_parent: list[object] = []

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


def _connect(settings: ConnectionSettings, ssl_context: ssl.SSLContext | None) -> Connection:
    """Create a client whose session belongs to the running loop. Must run on that loop."""
    session = without_silent_resends(
        aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(
                limit=settings.max_connections,
                ssl=ssl_context if ssl_context is not None else False,
            ),
            timeout=aiohttp.ClientTimeout(
                total=None,
                connect=settings.connect_timeout,
                sock_connect=settings.connect_timeout,
                sock_read=settings.read_timeout,
            ),
        )
    )
    if settings.use_https and not settings.cert_check:
        logger.warning(
            "TLS certificate verification is off for %s (MINIO_CERT_CHECK = False): anyone "
            "on the network path can impersonate the server and read the traffic.",
            settings.endpoint,
        )
    minio = Client(
        settings.endpoint,
        secure=settings.use_https,
        region=settings.region,
        session=session,
        credentials=SourceProvider(source_for(settings)),
    )
    if settings.addressing == "virtual":
        minio.enable_virtual_style_endpoint()  # type: ignore[no-untyped-call]
    elif settings.addressing == "path":
        minio.disable_virtual_style_endpoint()  # type: ignore[no-untyped-call]
    return Connection(
        settings,
        minio,
        session,
        slots=asyncio.Semaphore(settings.max_connections),
        saves=asyncio.Semaphore(settings.max_connections),
    )


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
            # A TLS connection's graceful close takes round trips with the server, which a
            # loop that is shutting down no longer makes: its socket was left open (reported
            # as an unclosed transport later). Pooled TLS connections are aborted instead.
            abort_pooled_tls_connections(connection.http)
            await connection.minio.close_session()  # type: ignore[no-untyped-call]


async def aclose_clients() -> None:
    """Close the running loop's sessions now rather than when the loop shuts down.

    For loops that are not ended by ``asyncio.run`` or ``asyncio.Runner``, and for tests. The
    next call makes new clients, so closing early is safe.
    """
    closer = _closers.get(asyncio.get_running_loop())
    if closer is not None:
        await closer.aclose()


def forget_parent_clients() -> list[tuple[asyncio.AbstractEventLoop, list[Connection]]]:
    """In a forked child: start with no clients, and hand back the parent's, by loop.

    The caller (``sync_edge``, right after the fork) disowns the sessions and loops returned:
    they must never be closed in the child, which shares their sockets and epoll sets with the
    parent. Nothing here closes anything.

    The parent's closers are kept alive rather than collected: a collected closer would schedule
    its ``finally`` on its loop, and a child that runs that loop again would then close its own
    new clients of it. Kept, a closer runs only if the child shuts that loop's async generators
    down, when closing the child's clients of the loop is what is wanted.
    """
    global _clients, _closers, _registry_lock
    # The lock may have been held by a thread of the parent that does not exist here.
    _registry_lock = threading.Lock()
    inherited = [(loop, list(clients.values())) for loop, clients in _clients.items()]
    _inherited_from_parent.extend(_closers.values())
    _clients = weakref.WeakKeyDictionary()
    _closers = weakref.WeakKeyDictionary()
    return inherited
