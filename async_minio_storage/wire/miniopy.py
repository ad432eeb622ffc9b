"""The one module that touches private members of dependencies (and of asyncio), and why each.

- ``Minio._execute``: the one way to send a request with headers that the public methods do
  not take (``If-None-Match``, ``Content-MD5``, the save token on CreateMultipartUpload) and to
  send multipart, listing and upload-listing requests whose answers ``wire`` parses itself.
  Every such request goes through :func:`execute`.
- ``Minio._build_headers``: overridden by :class:`Client` to hash small bodies on the loop
  instead of in a worker thread (see there); the override reads ``Minio._base_url`` (is the
  endpoint https?) and ``Minio._user_agent`` (the header miniopy-async sends), as the method
  it replaces does.
- ``Credentials._expiration``: when temporary credentials expire, so that they are refreshed
  before then; the class only answers ``is_expired()`` (:func:`credentials_expiry`).
- ``Provider._session``, ``ChainedProvider._providers`` (miniopy-async's) and
  ``RetryClient._client`` (aiohttp-retry's): in a forked child, the session a credentials
  provider made on the parent's portal is disowned and forgotten
  (:func:`disown_provider_session`); there is no public way to give a provider a new one. The
  same session is closed when the portal loop shuts down (:func:`close_provider_session`).
- ``InvalidResponseError._code``: the HTTP status of a non-S3 answer (a proxy's error page);
  the class has no public field for it (:func:`status_of`).
- ``ClientSession._retry_connection`` (aiohttp's): set to False (:func:`without_silent_resends`),
  so that aiohttp never sends a request again by itself when a kept-alive connection breaks.
  Every resend is then decided by the retry policy, which rewinds the body; aiohttp before
  3.14.4 resent a file-like body from where the first attempt had left it (that is, nothing),
  and the server waited for bytes that never came. There is no public switch for it.

After ``fork()`` the child inherits the parent's sessions and loops, whose sockets and epoll set
it shares with the parent. Closing or unregistering any of them in the child would take them
from the parent too (``epoll_ctl(DEL)`` on the shared set): the parent's next read on such a
connection then waits for its read timeout. So the child disowns them instead
(:func:`disown_session`, :func:`disown_loop`, :func:`close_disowned_loop`):

- ``BaseConnector._closed`` (aiohttp's): set to True, so that the connector's and its session's
  ``__del__`` see a closed pool and neither close its connections nor log "Unclosed connector"
  / "Unclosed client session". ``close()`` would close the sockets.
- ``BaseConnector._conns`` (aiohttp's): the pooled connections, dropped without closing them,
  so that the pool's keep-alive clean-up never closes one. (Also read when a loop shuts down,
  by :func:`abort_pooled_tls_connections`.)
- ``BaseSelectorEventLoop._selector`` (asyncio's): replaced by a new selector, so that whatever
  the child's finalisers unregister is unregistered from the child's own epoll set.
- ``BaseSelectorEventLoop._close_self_pipe`` and ``BaseSelectorEventLoop._make_self_pipe``
  (asyncio's): the loop's wake-up socket pair is shared with the parent too; the child's copy is
  closed and replaced by its own (a wake-up read by the child would be lost to the parent).
  ``BaseSelectorEventLoop._csock`` (asyncio's): the pair's writing end, which a loop with
  signal handlers has made the signal wake-up descriptor; that is moved to the new pair.
- ``BaseEventLoop._thread_id`` and ``BaseEventLoop._default_executor`` (asyncio's): the portal
  loop's thread and executor threads did not survive the fork, but the loop still counts as
  running, and the executor's lock may be held by a thread that is gone. Both are cleared so
  that the loop can be closed.

The docs list the same members (``docs/internals.md``); ``tests/test_wire.py`` checks that
the lists and the code agree and that no other module touches them.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import selectors
import signal
from datetime import UTC
from datetime import datetime
from typing import TYPE_CHECKING
from typing import Any
from typing import BinaryIO

import aiohttp
from aiohttp import ClientResponse
from aiohttp.typedefs import LooseHeaders
from miniopy_async import time as amz_time
from miniopy_async.api import Minio
from miniopy_async.credentials.credentials import Credentials
from miniopy_async.credentials.providers import Provider
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


def disown_session(session: aiohttp.ClientSession) -> None:
    """In a forked child: make an inherited session closed, without touching its sockets.

    Its connector counts as closed and forgets its pooled connections; their sockets stay open
    in the parent, and the child's copies are closed when the transports are collected (closing
    a descriptor in the child leaves the parent's socket and its epoll registration alone).
    Nothing here calls ``shutdown()``, sends a byte or unregisters a descriptor.
    """
    connector = session.connector
    if connector is None or connector.closed:
        return
    connector._closed = True
    connector._conns.clear()


def disown_loop(loop: asyncio.AbstractEventLoop) -> None:
    """In a forked child: give an inherited selector loop its own selector and wake-up pair.

    Afterwards nothing done to the loop in the child, closing it included, reaches the epoll set
    or the wake-up sockets it shared with the parent. The old selector is closed: that closes
    the child's copy of the epoll descriptor and does not change the set. Registrations made in
    the parent are not carried over, so the child never reads from a socket the parent reads.
    Loops that are not selector loops (uvloop) are left as they are.
    """
    if not isinstance(loop, asyncio.selector_events.BaseSelectorEventLoop) or loop.is_closed():
        return
    inherited_wakeup = loop._csock.fileno()  # type: ignore[attr-defined]
    inherited_selector = loop._selector  # type: ignore[attr-defined]
    loop._selector = selectors.DefaultSelector()  # type: ignore[attr-defined]
    inherited_selector.close()
    loop._close_self_pipe()  # type: ignore[attr-defined]  # now unregisters from the new selector
    loop._make_self_pipe()  # type: ignore[attr-defined]
    with contextlib.suppress(ValueError):  # not the main thread: signals cannot reach this loop
        # A loop with signal handlers has its wake-up socket set as the signal wake-up fd.
        wakeup = signal.set_wakeup_fd(-1)
        new_wakeup = loop._csock.fileno()  # type: ignore[attr-defined]
        signal.set_wakeup_fd(new_wakeup if wakeup == inherited_wakeup else wakeup)


def close_disowned_loop(loop: asyncio.AbstractEventLoop) -> None:
    """In a forked child: close an inherited loop whose thread did not survive the fork.

    Call :func:`disown_loop` first. Its pending tasks and callbacks are dropped without a word
    (they were the parent's), and its default executor is forgotten rather than shut down.
    Afterwards the loop is closed: collecting it does nothing, and aiohttp's finalisers of
    objects still attached to it return at once.
    """
    if loop.is_closed():
        return
    loop.set_exception_handler(_ignore_inherited_errors)
    loop._thread_id = None  # type: ignore[attr-defined]
    loop._default_executor = None  # type: ignore[attr-defined]
    loop.close()


def _ignore_inherited_errors(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    """The parent's tasks, collected in the child, are not the child's errors."""


def credentials_expiry(credentials: Credentials) -> datetime | None:
    """When ``credentials`` expire (aware, UTC), or None for keys that do not."""
    expiration: datetime | None = credentials._expiration
    if expiration is None:
        return None
    return expiration.replace(tzinfo=UTC) if expiration.tzinfo is None else expiration


def _take_provider_sessions(chain: Provider) -> list[Any]:
    """The HTTP sessions a credentials provider (and a ``ChainedProvider``'s providers,
    ``ChainedProvider._providers``) made for themselves, each taken from its provider
    (``Provider._session`` cleared), so that the provider's next refresh makes a new one."""
    taken = []
    for provider in (chain, *getattr(chain, "_providers", ())):
        session = getattr(provider, "_session", None)
        if session is not None:
            provider._session = None
            taken.append(session)
    return taken


def disown_provider_session(inherited: Provider) -> None:
    """In a forked child: forget the HTTP session a credentials provider made for itself.

    miniopy-async's providers (AssumeRole, IAM, web identity, ...) create an aiohttp session
    (``Provider._session``, an aiohttp-retry client whose ``RetryClient._client`` is the
    session) on the loop of their first refresh, the parent's portal. The child disowns it (see
    :func:`disown_session`) and takes it from the provider, so that its first refresh makes a
    session of its own on its own portal.
    """
    for session in _take_provider_sessions(inherited):
        inner = getattr(session, "_client", session)
        if isinstance(inner, aiohttp.ClientSession):
            disown_session(inner)


async def close_provider_session(provider: Provider) -> None:
    """Close the HTTP session a credentials provider made for itself (see
    :func:`disown_provider_session`), on its loop, when that loop shuts down."""
    for session in _take_provider_sessions(provider):
        await session.close()


def abort_pooled_tls_connections(session: aiohttp.ClientSession) -> None:
    """Abort the idle TLS connections of ``session``'s pool (``BaseConnector._conns``), so that
    closing the session on a loop that is shutting down closes their sockets at once rather
    than after a TLS close that the loop no longer runs long enough to finish."""
    connector = session.connector
    if connector is None or connector.closed:
        return
    for kept in list(connector._conns.values()):
        for protocol, _ in kept:
            transport = protocol.transport
            if transport is not None and transport.get_extra_info("sslcontext") is not None:
                transport.abort()
