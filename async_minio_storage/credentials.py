"""Where a storage's keys come from: fixed keys, or a provider refreshed before they expire.

A storage signs with an :class:`Identity`: an access key, a secret key and, for temporary
credentials, a session token and an expiry. :class:`CredentialSource` hands out the current
one. With fixed keys (``MINIO_ACCESS_KEY``, ``MINIO_SECRET_KEY``, optionally
``MINIO_SESSION_TOKEN``) it never changes and costs nothing. With ``MINIO_CREDENTIALS`` (any
miniopy-async ``Provider``: environment variables, AWS IAM with instance profiles or IRSA web
identity, STS AssumeRole and AssumeRoleWithWebIdentity on MinIO or AWS, a chain of them) the
source asks the provider when there is no usable identity, and starts a refresh in the
background once fewer than :data:`REFRESH_AHEAD` remain, so that requests and ``url()`` keep
signing with the current keys while the next ones are fetched: rotation needs no restart.

Which loop runs what: a provider's ``retrieve()`` makes its own HTTP requests over a session it
creates on first use, which belongs to the loop it first ran on. So every refresh runs on the
portal loop (``sync_edge.start_on_portal``), whoever asked: a coroutine on any loop awaits it,
a sync caller waits for it (bounded by ``MINIO_OPERATION_TIMEOUT``). A sync ``url()`` on a
thread that runs an event loop cannot wait: if no identity is usable yet there, it raises
``SynchronousOnlyOperation`` naming ``aurl()`` (any earlier request of the process, or
``aurl()``, fetches the first one).

Thread-safety: a source is shared by every loop and thread of the process; its state is
replaced as a whole under a lock. A forked child forgets the parent's refresh in flight.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import threading
import time
from collections.abc import AsyncGenerator
from dataclasses import dataclass
from dataclasses import field
from datetime import UTC
from datetime import datetime
from datetime import timedelta

from django.core.exceptions import SynchronousOnlyOperation
from miniopy_async.credentials.credentials import Credentials
from miniopy_async.credentials.providers import Provider

from . import sync_edge
from .config import ConnectionSettings
from .errors import StorageUnavailable
from .redacted import Secret
from .redacted import secret
from .wire.miniopy import close_provider_session
from .wire.miniopy import credentials_expiry
from .wire.miniopy import disown_provider_session

# Start fetching the next credentials when the current ones have less than this left.
REFRESH_AHEAD = timedelta(minutes=5)
# Credentials with less than this left are not used (miniopy-async's own rule is 10 s).
MIN_REMAINING = timedelta(seconds=10)
# After a refresh that brought no newer credentials, wait this long before the next attempt.
RETRY_REFRESH_AFTER = 10.0


@dataclass(frozen=True)
class Identity:
    """Keys to sign with. ``expires_at`` (aware, UTC) is None for keys that do not expire."""

    access_key: str
    secret_key: Secret = field(repr=False)
    session_token: Secret | None = field(default=None, repr=False)
    expires_at: datetime | None = None

    @classmethod
    def from_credentials(cls, credentials: Credentials) -> Identity:
        return cls(
            access_key=credentials.access_key,
            secret_key=Secret(credentials.secret_key),
            session_token=secret(credentials.session_token),
            expires_at=credentials_expiry(credentials),
        )

    def usable(self, now: datetime) -> bool:
        return self.expires_at is None or self.expires_at - now > MIN_REMAINING

    def due_for_refresh(self, now: datetime) -> bool:
        return self.expires_at is not None and self.expires_at - now < REFRESH_AHEAD

    @property
    def credentials(self) -> Credentials:
        """The same keys as miniopy-async's ``Credentials``, which sign its requests."""
        return Credentials(
            self.access_key,
            self.secret_key,
            self.session_token,
            self.expires_at.replace(tzinfo=None) if self.expires_at else None,
        )


class CredentialSource:
    """The current :class:`Identity` of one set of credential settings, for every loop and
    thread of the process."""

    def __init__(self, provider: Provider | None, fixed: Identity | None, timeout: float) -> None:
        assert (provider is None) != (fixed is None)
        self._provider = provider
        # The identity and the same keys as miniopy-async's Credentials, replaced together.
        self._current = (fixed, fixed.credentials) if fixed is not None else None
        self._timeout = timeout
        self._lock = threading.Lock()
        self._refresh: concurrent.futures.Future[Identity] | None = None
        self._next_attempt = 0.0  # time.monotonic() before which no background refresh starts
        self._pid = os.getpid()
        self._closer: AsyncGenerator[None] | None = None

    def _usable(self) -> tuple[Identity, Credentials] | None:
        current = self._current
        if current is None or self._provider is None:
            return current
        now = datetime.now(UTC)
        identity = current[0]
        if identity.due_for_refresh(now) and time.monotonic() >= self._next_attempt:
            self._start_refresh()
        return current if identity.usable(now) else None

    def _start_refresh(self) -> concurrent.futures.Future[Identity]:
        with self._lock:
            if self._pid != os.getpid():  # forked: the parent's refresh is not ours to wait for
                self._pid, self._refresh = os.getpid(), None
            if self._refresh is None or self._refresh.done():
                self._next_attempt = time.monotonic() + RETRY_REFRESH_AFTER
                self._refresh = sync_edge.start_on_portal(self._fetch())
            return self._refresh

    async def _fetch(self) -> Identity:
        """Ask the provider for keys. Runs on the portal loop only."""
        assert self._provider is not None
        name = type(self._provider).__name__
        try:
            async with asyncio.timeout(self._timeout):
                credentials = await self._provider.retrieve()
        except TimeoutError:
            raise StorageUnavailable(
                f"The credentials provider ({name}) did not answer within "
                f"MINIO_OPERATION_TIMEOUT ({self._timeout:g} s)."
            ) from None
        except (OSError, ValueError, KeyError) as error:  # what miniopy-async's providers raise
            raise StorageUnavailable(
                f"The credentials provider ({name}) failed: {type(error).__name__}: {error}"
            ) from None
        identity = Identity.from_credentials(credentials)
        self._current = (identity, identity.credentials)
        if self._closer is None:  # the provider's own session, closed with the portal loop
            self._closer = self._close_provider_at_shutdown()
            await anext(self._closer)
        return identity

    async def _close_provider_at_shutdown(self) -> AsyncGenerator[None]:
        """Suspended until the portal loop shuts down (``loop.shutdown_asyncgens()``, as the
        clients' closers in ``client``); then closes the provider's HTTP session there."""
        try:
            yield
        finally:
            self._closer = None
            if self._provider is not None:
                await close_provider_session(self._provider)

    async def current(self) -> Identity:
        """The identity to sign with now, from a coroutine on any loop."""
        current = self._usable()
        if current is not None:
            return current[0]
        return await asyncio.wrap_future(self._start_refresh())

    async def current_credentials(self) -> Credentials:
        """:meth:`current` as miniopy-async's ``Credentials``, for its signer."""
        current = self._usable()
        while current is None:
            await asyncio.wrap_future(self._start_refresh())
            current = self._usable()
        return current[1]

    def current_sync(self) -> Identity:
        """The identity to sign with now, for a synchronous caller (``url()``): no wait at
        all while the keys are usable."""
        current = self._usable()
        if current is not None:
            return current[0]
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            pass
        else:
            raise SynchronousOnlyOperation(
                "url() needs fresh credentials from MINIO_CREDENTIALS, and fetching them from a "
                "thread that runs an event loop would block the loop. Await its async twin "
                "instead: `await storage.aurl(...)`."
            )
        try:
            return self._start_refresh().result(self._timeout + 1)
        except concurrent.futures.TimeoutError:
            raise StorageUnavailable(
                f"The credentials provider did not answer within MINIO_OPERATION_TIMEOUT "
                f"({self._timeout:g} s)."
            ) from None


class SourceProvider(Provider):
    """A miniopy-async ``Provider`` that signs a client's requests with a source's keys."""

    def __init__(self, source: CredentialSource) -> None:
        self.source = source

    async def retrieve(self) -> Credentials:
        return await self.source.current_credentials()


_sources: dict[tuple[object, ...], CredentialSource] = {}
_inherited_closers: list[object] = []
_sources_lock = threading.Lock()


def source_for(settings: ConnectionSettings) -> CredentialSource:
    """The process's one source for these credential settings."""
    if settings.credentials is not None:
        key: tuple[object, ...] = ("provider", settings.credentials)
    else:
        key = ("fixed", settings.access_key, settings.secret_key, settings.session_token)
    source = _sources.get(key)
    if source is not None:
        return source
    with _sources_lock:
        source = _sources.get(key)
        if source is None:
            fixed = None
            if settings.credentials is None:
                assert settings.access_key is not None
                assert settings.secret_key is not None
                fixed = Identity(settings.access_key, settings.secret_key, settings.session_token)
            source = _sources[key] = CredentialSource(
                settings.credentials, fixed, settings.operation_timeout
            )
        return source


def _after_fork_in_child() -> None:
    """A lock held by a parent's thread at the fork would never be released in the child,
    and a refresh in flight belongs to the parent's portal."""
    global _sources_lock
    _sources_lock = threading.Lock()
    for source in list(_sources.values()):
        if source._provider is not None:
            disown_provider_session(source._provider)
        source._lock = threading.Lock()
        source._refresh = None
        source._pid = os.getpid()
        # The parent's portal's closer: kept, never run (collecting it would reach that loop).
        _inherited_closers.append(source._closer)
        source._closer = None


os.register_at_fork(after_in_child=_after_fork_in_child)
