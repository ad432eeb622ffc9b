"""A loopback TCP proxy that counts the connections made through it.

The storage under test is pointed at the proxy instead of the server, so a test can tell how
many TCP connections a sequence of calls opened (connection reuse) or that a call opened none
(``url()``). The signature covers the ``Host`` header, which the client sets to the proxy's
address and the proxy passes on unchanged, so signed requests still verify.

Given a TLS context it also terminates TLS, which is how the suite tests ``MINIO_USE_HTTPS``
against a server that speaks plain HTTP. The handshake is done on the accepted connection
(``start_tls``), not by the listening server, so that stopping the proxy aborts a connection
whose handshake is still under way too: the server's own handshakes are out of its reach, and
one left pending when the loop closes is reported later, in whichever test runs then.

The proxy runs its own event loop in a daemon thread, independent of the loops under test.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import threading


class TcpProxy:
    """Forwards connections to ``target``; with ``tls``, it terminates TLS in front of it."""

    def __init__(self, target: str, tls: ssl.SSLContext | None = None) -> None:
        self.tls = tls
        host, port = target.rsplit(":", 1)
        self.target_host, self.target_port = host, int(port)
        self.accepted = 0
        self.open = 0  # connections accepted and not yet closed
        self._loop = asyncio.new_event_loop()
        self._server: asyncio.Server | None = None
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._connections: set[asyncio.Task[None]] = set()
        self._writers: set[asyncio.StreamWriter] = set()

    @property
    def endpoint(self) -> str:
        assert self._server is not None
        host, port = self._server.sockets[0].getsockname()[:2]
        return f"{host}:{port}"

    def start(self) -> TcpProxy:
        self._thread.start()
        self._server = asyncio.run_coroutine_threadsafe(
            asyncio.start_server(self._accept, "127.0.0.1", 0), self._loop
        ).result(5)
        return self

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.accepted += 1
        self.open += 1
        task = asyncio.current_task()
        assert task is not None
        self._connections.add(task)
        self._writers.add(writer)
        try:
            if self.tls is not None:
                try:
                    await writer.start_tls(self.tls)
                except (OSError, ssl.SSLError):  # the client refused the certificate, or left
                    writer.transport.abort()
                    return
            try:
                upstream_reader, upstream_writer = await asyncio.open_connection(
                    self.target_host, self.target_port
                )
            except OSError:
                writer.close()
                return
            self._writers.add(upstream_writer)
            await asyncio.gather(
                self._pipe(reader, upstream_writer), self._pipe(upstream_reader, writer)
            )
        finally:
            self.open -= 1
            self._connections.discard(task)

    @staticmethod
    async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            with contextlib.suppress(Exception):
                writer.close()

    def stop(self) -> None:
        async def shutdown() -> None:
            assert self._server is not None
            self._server.close()
            for task in list(self._connections):
                task.cancel()
            await asyncio.gather(*self._connections, return_exceptions=True)
            for writer in self._writers:
                writer.transport.abort()  # TLS would otherwise wait for a closing handshake
            await asyncio.sleep(0)
            await asyncio.sleep(0)
            await self._server.wait_closed()

        asyncio.run_coroutine_threadsafe(shutdown(), self._loop).result(5)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
        self._loop.close()

    def __enter__(self) -> TcpProxy:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
