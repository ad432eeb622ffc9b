"""A TCP proxy in front of the S3 server that counts the connections made through it.

Scenario 11 points the WSGI workers' storage at it, to count the TCP connections they open to
the store. It runs an asyncio loop in a daemon thread of the benchmark process, listens on a
free port of 127.0.0.1 and copies bytes both ways without looking at them: plain HTTP and TLS
pass alike, though with TLS the certificate must be valid for 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading

CHUNK = 64 * 1024
STARTUP_TIMEOUT = 10.0


class CountingProxy:
    """``with CountingProxy(host, port) as proxy:`` forwards ``proxy.endpoint`` to host:port.

    ``accepted`` is how many connections it has accepted since it started; ``peak`` how many
    were open at once at most. Both are written on the proxy's loop only, and read from any
    thread (an ``int`` read is atomic).
    """

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.accepted = 0
        self.open = 0
        self.peak = 0
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="benchmark-counting-proxy", daemon=True
        )
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def endpoint(self) -> str:
        return f"127.0.0.1:{self.port}"

    def __enter__(self) -> CountingProxy:
        self._thread.start()
        future = asyncio.run_coroutine_threadsafe(self._start(), self._loop)
        self.port = future.result(STARTUP_TIMEOUT)
        return self

    def __exit__(self, *exc_info: object) -> None:
        with contextlib.suppress(TimeoutError):
            asyncio.run_coroutine_threadsafe(self._stop(), self._loop).result(STARTUP_TIMEOUT)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(STARTUP_TIMEOUT)
        if not self._thread.is_alive():
            self._loop.close()

    async def _start(self) -> int:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        return int(self._server.sockets[0].getsockname()[1])

    async def _stop(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        self.accepted += 1
        self.open += 1
        self.peak = max(self.peak, self.open)
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.close()
        else:
            await asyncio.gather(
                copy(reader, upstream_writer),
                copy(upstream_reader, writer),
                return_exceptions=True,
            )
        finally:
            self.open -= 1
            self._tasks.discard(task)


async def copy(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Bytes from ``reader`` to ``writer`` until either side ends; then close ``writer``.

    Closing on the first end is enough for HTTP: a client closes a connection only once it has
    read its last answer, and a server only once it has sent it.
    """
    try:
        while data := await reader.read(CHUNK):
            writer.write(data)
            await writer.drain()
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()
