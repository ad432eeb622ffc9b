"""How synchronous callers reach the async core.

:func:`run_sync` runs a coroutine function to completion for a synchronous caller. Where it runs
depends on the calling thread:

1. **A thread that is running an event loop** (an async view, a coroutine): refused with
   ``SynchronousOnlyOperation``. Waiting there would freeze the very loop the work needs, and
   asgiref's ``async_to_sync`` refuses it too. Async code awaits the ``a*`` twin instead
   (``await storage.asave(...)``). ``url()`` never comes here: it needs no loop at all.
2. **A thread started by asgiref's ``sync_to_async``** (a sync view, a model save, the admin
   under an ASGI server): asgiref's ``async_to_sync``, which runs the coroutine on the server's
   own loop, with that loop's client and connection pool (see ``client``).
3. **Anywhere else** (WSGI workers, ``manage.py``, a shell, Celery, a thread pool): the
   process's *portal*, one daemon thread running an event loop for the life of the process,
   started on first use. Every such caller shares the portal's client, so connections are
   reused across calls. A bare ``async_to_sync`` would instead run a new loop in a new thread per
   call, and so a new client, TCP connection and TLS handshake every time.

The portal is thread-safe: any number of threads may call :func:`run_sync` at once; their
coroutines run concurrently on the portal loop. It is fork-safe: a forked child (gunicorn
``--preload``, Celery prefork, ``multiprocessing`` with ``fork``) has no portal thread, so it
starts its own on first use, and right after the fork it disowns the loops and connections it
inherited so that nothing it does, its exit included, reaches the parent's sockets or epoll set
(see ``_after_fork_in_child``). At interpreter exit the portal closes its sessions on its own
loop.
"""

from __future__ import annotations

import _thread
import asyncio
import atexit
import concurrent.futures
import contextlib
import functools
import inspect
import os
import sys
import threading
from collections.abc import Callable
from collections.abc import Coroutine
from concurrent.futures import TimeoutError as FutureTimeoutError
from types import FrameType
from typing import Any
from typing import ParamSpec
from typing import TypeVar

from asgiref.sync import AsyncToSync
from asgiref.sync import SyncToAsync
from asgiref.sync import async_to_sync
from django.core.exceptions import SynchronousOnlyOperation
from django.core.files.storage import Storage

from . import client
from .wire import miniopy

P = ParamSpec("P")
T = TypeVar("T")


class PortalLoop:
    """An event loop running forever in a daemon thread, serving synchronous callers."""

    def __init__(self) -> None:
        self.pid = os.getpid()
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._run_forever, name="async-minio-storage-portal", daemon=True
        )
        self._thread.start()

    def _run_forever(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_forever()

    @property
    def thread(self) -> threading.Thread:
        return self._thread

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        """Run ``coroutine`` on the portal loop and wait for it, from another thread.

        The caller waits on a bare lock that the task's done-callback releases: half the
        cost of ``run_coroutine_threadsafe`` and its ``concurrent.futures.Future`` (23 against
        44 microseconds a round trip, measured on the development machine), which is paid on
        every sync call.
        """
        done = _thread.allocate_lock()
        done.acquire()
        started: list[asyncio.Task[T]] = []

        def start() -> None:
            task = self.loop.create_task(coroutine)
            started.append(task)
            task.add_done_callback(lambda _: done.release())

        try:
            self.loop.call_soon_threadsafe(start)
        except RuntimeError:  # the loop is closed
            coroutine.close()
            raise
        try:
            done.acquire()
        except BaseException:
            # Interrupted while waiting (KeyboardInterrupt): do not leave the work running.
            self.loop.call_soon_threadsafe(lambda: started and started[0].cancel())
            raise
        return started[0].result()

    def stop(self, timeout: float = 5.0) -> None:
        """Close the loop's sessions on the loop, then stop and close it."""
        if not self._thread.is_alive():
            return
        with contextlib.suppress(FutureTimeoutError):
            asyncio.run_coroutine_threadsafe(self.loop.shutdown_asyncgens(), self.loop).result(
                timeout
            )
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout)
        if not self._thread.is_alive():
            self.loop.close()


_portal: PortalLoop | None = None
_portal_lock = threading.Lock()


def portal() -> PortalLoop:
    """The process's portal loop, started on first use (again in a forked child)."""
    global _portal
    current = _portal
    if current is not None and current.pid == os.getpid():
        return current
    with _portal_lock:
        if _portal is None or _portal.pid != os.getpid():
            _portal = PortalLoop()
        return _portal


def stop_portal() -> None:
    """Stop the portal loop, closing its sessions. A later synchronous call starts a new one."""
    global _portal
    with _portal_lock:
        current, _portal = _portal, None
    if current is not None and current.pid == os.getpid():
        current.stop()


def outer_event_loop() -> asyncio.AbstractEventLoop | None:
    """The ASGI server's loop, when this thread was started by asgiref's ``sync_to_async``.

    This is the check asgiref's ``AsyncToSync`` itself makes to pick its loop (including the
    guard against a loop inherited across ``fork()``); it is repeated here so that callers
    without such a loop go to the portal instead of to a new loop per call.
    """
    threadlocal = SyncToAsync.threadlocal
    if getattr(threadlocal, "main_event_loop_pid", None) != os.getpid():
        return None
    loop: asyncio.AbstractEventLoop | None = getattr(threadlocal, "main_event_loop", None)
    if loop is None or loop.is_closed() or not loop.is_running():
        return None
    return loop


def _blocking_call_refused(
    function: Callable[..., object], caller: FrameType | None
) -> SynchronousOnlyOperation:
    """The refusal of a synchronous call on a loop's thread, naming the method that was called
    and its async twin.

    The caller's frame names the method: ``save``, not the ``_asave`` it runs; ``open``, not
    the ``_open`` Django's ``Storage.open`` calls in between. Without a twin there, the name of
    ``function`` decides: ``asize`` is the twin of ``size``, ``_asave`` that of ``_save``.
    """
    called, receiver = "", None
    if caller is not None:
        called, receiver = caller.f_code.co_name, caller.f_locals.get("self")
        parent = caller.f_back
        while (  # from a private hook up to the public method that called it
            parent is not None
            and called.startswith("_")
            and not called.startswith("__")
            and parent.f_code.co_name == called[1:]
            and parent.f_locals.get("self") is receiver
        ):
            called, parent = called[1:], parent.f_back
    twin = ""
    if receiver is not None and called and not called.startswith("__"):
        twin = f"_a{called[1:]}" if called.startswith("_") else f"a{called}"
        if not inspect.iscoroutinefunction(getattr(type(receiver), twin, None)):
            twin = ""
    if not twin:
        own = getattr(function, "__name__", "")
        owner = getattr(function, "__self__", None)
        private = "_" if own.startswith("_a") else ""
        sync = private + own[len(private) + 1 :]
        if own.startswith(f"{private}a") and sync and hasattr(owner, sync):
            called, receiver, twin = sync, owner, own
    if not called or called.startswith("__"):
        called = getattr(function, "__name__", "this operation")
    where = (
        f"{called}() was called synchronously on a thread that runs an event loop, which would "
        "block the loop."
    )
    if not twin:
        return SynchronousOnlyOperation(
            f"{where} Await the async method instead (for example `await storage.asave(...)`, "
            "`await storage.aexists(...)`)."
        )
    if isinstance(receiver, Storage):
        label = "storage"
    else:
        label = receiver.__name__ if isinstance(receiver, type) else type(receiver).__name__
    return SynchronousOnlyOperation(
        f"{where} Await its async twin instead: `await {label}.{twin}(...)`."
    )


def run_sync(
    function: Callable[P, Coroutine[Any, Any, T]], /, *args: P.args, **kwargs: P.kwargs
) -> T:
    """Run ``function(*args, **kwargs)`` to completion for a synchronous caller."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        pass
    else:
        raise _blocking_call_refused(function, sys._getframe(1))
    if outer_event_loop() is not None:
        return async_to_sync(function)(*args, **kwargs)
    return portal().run(function(*args, **kwargs))


# Work handed to the portal by run_in_background and not yet finished; kept so that the tasks
# are not collected while they run.
_background: set[concurrent.futures.Future[None]] = set()


def run_on_own_loop(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run ``coroutine`` with ``asyncio.run`` in a worker thread, from any thread, and wait.

    For one-off commands (``initialize_buckets``, ``is_minio_available``, the orphan cleaner,
    the start-up consistency check): ``asyncio.run`` closes the loop's sessions on the way out
    (see ``client``), so nothing is left open behind them, and the worker thread works even
    when the caller's thread runs a loop of its own.
    """
    with concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="async-minio-storage") as pool:
        return pool.submit(asyncio.run, coroutine).result()


def call_in_worker_thread(function: Callable[[], T]) -> T:
    """Call the sync ``function`` in a worker thread and wait for it, from a loop's thread.

    This blocks the loop while it waits: only for work done once per process that cannot be
    awaited where it is needed (``MinioManifestStaticStorage`` reading its manifest on first
    use from ``{% static %}`` in an async view, as Django's own manifest storage reads its file
    from disk there). ``function`` may use the sync API: the worker runs no loop.
    """
    with concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="async-minio-storage") as pool:
        return pool.submit(function).result()


def call_on_loop(loop: asyncio.AbstractEventLoop, callback: Callable[[], object]) -> None:
    """Have ``loop`` call ``callback`` soon, from any thread; nothing if the loop is closed.

    For what must happen on the loop that owns an object (releasing an aiohttp response
    returns its connection to that loop's pool) when the caller is another thread.
    """
    with contextlib.suppress(RuntimeError):  # closed: its connections are gone already
        loop.call_soon_threadsafe(callback)


def on_short_lived_loop() -> bool:
    """True if the running loop lives for one call only: a loop asgiref's ``async_to_sync``
    made for a sync caller without an outer loop, which is how Django runs an async view
    under WSGI (and how a bare ``async_to_sync`` runs). Its connections would end with it."""
    executors = getattr(AsyncToSync, "loop_thread_executors", {})
    return asyncio.get_running_loop() in executors


def on_lasting_loop(
    method: Callable[P, Coroutine[Any, Any, T]],
) -> Callable[P, Coroutine[Any, Any, T]]:
    """Make a coroutine method do its I/O on a loop that outlives the call.

    On a short-lived loop (:func:`on_short_lived_loop`) the coroutine runs on the portal loop,
    with the portal's pooled connections, and the short-lived loop awaits it without blocking;
    cancelling the caller cancels it. Anywhere else (an ASGI server's loop, the portal) it runs
    where it was called. Without this, each async view under WSGI opened a TCP connection (and
    a TLS handshake) of its own: 500 requests left 535 sockets in TIME-WAIT.
    """

    @functools.wraps(method)
    async def lasting(*args: P.args, **kwargs: P.kwargs) -> T:
        if not on_short_lived_loop():
            return await method(*args, **kwargs)
        return await asyncio.wrap_future(start_on_portal(method(*args, **kwargs)))

    return lasting


def start_on_portal(coroutine: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
    """Start ``coroutine`` on the portal loop from any thread and return its future at once.

    For work that must run on one loop whatever loop or thread asked for it: a credentials
    provider's refresh (its HTTP session belongs to the loop it first ran on). A sync caller
    waits with ``future.result(timeout)``; a coroutine awaits ``asyncio.wrap_future(future)``.
    """
    return asyncio.run_coroutine_threadsafe(coroutine, portal().loop)


def run_in_background(function: Callable[[], Coroutine[Any, Any, None]]) -> None:
    """Start ``function()`` on the portal loop and return at once, from any thread.

    For clean-up that must outlive its caller's loop (an upload's abort after the server went
    away, from a per-request loop that ends with the request). The coroutine runs on the
    portal loop with the portal's connections; it must bound its own time and log its own
    failures.
    """
    future = asyncio.run_coroutine_threadsafe(function(), portal().loop)
    _background.add(future)
    future.add_done_callback(_background.discard)


def background_work() -> list[concurrent.futures.Future[None]]:
    """The work started by :func:`run_in_background` that has not finished yet."""
    return list(_background)


def _after_fork_in_child() -> None:
    """Make everything the child inherited about loops and connections harmless to the parent.

    The child shares with the parent every socket of the inherited connections, the epoll set of
    every inherited loop and each loop's wake-up socket pair. Closing a session, a transport or
    a loop in the child, as finalisers and ``atexit`` do when the child ends with ``sys.exit``,
    would unregister those sockets from the shared epoll set, and the parent's next request on a
    kept-alive connection would wait for ``MINIO_READ_TIMEOUT``. So, before anything else runs:

    1. every inherited session is disowned: it counts as closed and its pooled connections are
       dropped without being closed, so no finaliser of aiohttp's closes or logs anything;
    2. every loop that had clients, and the portal loop, gets a selector and a wake-up pair of its
       own, so that whatever is unregistered in the child is unregistered from the child's set;
    3. the portal loop, whose thread did not survive the fork, is closed (its pending work was
       the parent's), and the child starts a portal of its own on first use.

    Only descriptors are closed (the child's copies), which leaves the parent's sockets and
    their registrations alone. Nothing is sent, shut down or unregistered from a shared set.
    """
    global _portal, _portal_lock
    _portal_lock = threading.Lock()
    _background.clear()
    inherited_portal, _portal = _portal, None
    loops: list[asyncio.AbstractEventLoop] = []
    for loop, connections in client.forget_parent_clients():
        loops.append(loop)
        for connection in connections:
            miniopy.disown_session(connection.http)
    if inherited_portal is not None and inherited_portal.loop not in loops:
        loops.append(inherited_portal.loop)
    for loop in loops:
        miniopy.disown_loop(loop)
    # Forked from the portal's own thread (a coroutine on the portal called fork()), the child
    # goes on running that loop: it is disowned but not closed.
    if inherited_portal is not None and inherited_portal.thread is not threading.current_thread():
        miniopy.close_disowned_loop(inherited_portal.loop)


os.register_at_fork(after_in_child=_after_fork_in_child)
atexit.register(stop_portal)


def start_for_sync_caller(coroutine: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
    """Start ``coroutine`` on the loop :func:`run_sync` would use for this thread (the ASGI
    server's loop in a thread of ``sync_to_async``, else the portal) and return its future at
    once, from any thread.

    For work a sync caller keeps in flight while it does something else: a sync file's
    read-ahead. Cancelling the future cancels the task on its loop. Whoever waits for its
    results must not do so on a thread that runs a loop (see :func:`run_sync`).
    """
    return asyncio.run_coroutine_threadsafe(coroutine, outer_event_loop() or portal().loop)
