"""A loopback HTTP proxy that injects faults between the storage and the S3 server.

It runs its own event loop in a daemon thread, like ``TcpProxy``, and every wait in it is
bounded. It reads each request on its way to the server (head, then a body of
``Content-Length`` bytes; the client does not pipeline), so a fault armed by a test applies to
the next requests on any connection, pooled ones included:

- ``refuse()``: close the listening socket, so that connecting is refused;
- ``stall()``: swallow requests and never answer;
- ``delay(seconds)``: hold each piece of the server's answers for ``seconds``;
- ``cut_next(after_bytes, direction)``: once ``after_bytes`` more bytes of request bodies
  ("upload") or of answers ("download") have passed, cut the connection carrying them, once;
- ``cut_every_upload(after_bytes)``: cut every request whose body goes past ``after_bytes``;
- ``answer_next(count, status, method)``: answer the next ``count`` requests (of ``method``
  only, if given) with ``status`` and an S3 error body, without forwarding them;
- ``drop_connections()``: close every open connection, as a server restart does;
- ``heal()``: forward everything again.

``requests`` lists the request line of every request seen, for tests that count them.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Awaitable
from collections.abc import Callable

CONNECTION_LIMIT = 30.0  # seconds: no connection of a test outlives this
ERROR_BODY = (
    b'<?xml version="1.0" encoding="UTF-8"?><Error><Code>SlowDown</Code>'
    b"<Message>Please reduce your request rate.</Message></Error>"
)


class FaultProxy:
    def __init__(self, target: str) -> None:
        host, port = target.rsplit(":", 1)
        self.target_host, self.target_port = host, int(port)
        self.accepted = 0
        self.requests_answered = 0
        self.requests: list[str] = []  # each request line seen, "PUT /bucket/key HTTP/1.1"
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._server: asyncio.Server | None = None
        self._port = 0
        self._tasks: set[asyncio.Task[None]] = set()
        self._writers: set[asyncio.StreamWriter] = set()
        self._stalling = False
        self._delay = 0.0
        self._cut_upload: int | None = None
        self._cut_download: int | None = None
        self._cut_every_upload: int | None = None
        self._answers_left = 0
        self._answer_status = 503
        self._answer_method: bytes | None = None

    # --- control, from the test's thread -------------------------------------------------

    def _call(self, function: Callable[[], Awaitable[None] | None]) -> None:
        async def run() -> None:
            result = function()
            if result is not None:
                await result

        asyncio.run_coroutine_threadsafe(run(), self._loop).result(5)

    @property
    def endpoint(self) -> str:
        return f"127.0.0.1:{self._port}"

    def start(self) -> FaultProxy:
        self._thread.start()
        self._call(self._listen)
        return self

    async def _listen(self) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", self._port)
        self._port = self._server.sockets[0].getsockname()[1]

    def refuse(self) -> None:
        async def close() -> None:
            assert self._server is not None
            self._server.close()
            await self._server.wait_closed()
            self._abort_all()

        self._call(close)

    def stall(self) -> None:
        self._stalling = True

    def delay(self, seconds: float) -> None:
        self._delay = seconds

    def cut_next(self, after_bytes: int, direction: str) -> None:
        assert direction in ("upload", "download")
        if direction == "upload":
            self._cut_upload = after_bytes
        else:
            self._cut_download = after_bytes

    def cut_every_upload(self, after_bytes: int) -> None:
        self._cut_every_upload = after_bytes

    def answer_next(self, count: int, status: int = 503, method: str | None = None) -> None:
        self._answers_left, self._answer_status = count, status
        self._answer_method = method.encode() if method else None

    def drop_connections(self) -> None:
        self._call(self._abort_all)

    def heal(self) -> None:
        self._stalling, self._delay, self._answers_left = False, 0.0, 0
        self._cut_upload = self._cut_download = self._cut_every_upload = None
        if self._server is not None and not self._server.is_serving():
            self._call(self._listen)

    def stop(self) -> None:
        async def shutdown() -> None:
            if self._server is not None:
                self._server.close()
            for task in list(self._tasks):
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)
            self._abort_all()
            await asyncio.sleep(0)

        asyncio.run_coroutine_threadsafe(shutdown(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
        self._loop.close()

    def __enter__(self) -> FaultProxy:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # --- the proxy itself, on its own loop -------------------------------------------------

    def _abort_all(self) -> None:
        for writer in list(self._writers):
            writer.transport.abort()
        self._writers.clear()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.accepted += 1
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        self._writers.add(writer)
        upstream: asyncio.StreamWriter | None = None
        try:
            async with asyncio.timeout(CONNECTION_LIMIT):
                upstream_reader, upstream = await asyncio.open_connection(
                    self.target_host, self.target_port
                )
                self._writers.add(upstream)
                await asyncio.gather(
                    self._forward_requests(reader, upstream, writer),
                    self._forward_answers(upstream_reader, writer, upstream),
                )
        except (TimeoutError, ConnectionError, asyncio.IncompleteReadError, OSError):
            pass
        finally:
            self._tasks.discard(task)
            for end in (writer, upstream):
                if end is not None:
                    end.transport.abort()
                    self._writers.discard(end)

    async def _forward_requests(
        self,
        client: asyncio.StreamReader,
        upstream: asyncio.StreamWriter,
        answer: asyncio.StreamWriter,
    ) -> None:
        while True:
            try:
                head = await client.readuntil(b"\r\n\r\n")
            except asyncio.IncompleteReadError:
                upstream.close()
                return
            method = head.split(b" ", 1)[0]
            self.requests.append(head.split(b"\r\n", 1)[0].decode("latin-1"))
            length = _content_length(head)
            answering = self._answers_left > 0 and self._answer_method in (None, method)
            if self._stalling or answering:
                if length:
                    await client.readexactly(length)
                if self._stalling:
                    continue  # swallowed: the client waits for an answer that never comes
                self._answers_left -= 1
                self.requests_answered += 1
                answer.write(
                    f"HTTP/1.1 {self._answer_status} Injected\r\n"
                    f"Content-Type: application/xml\r\nContent-Length: {len(ERROR_BODY)}"
                    "\r\n\r\n".encode()
                    + (b"" if method == b"HEAD" else ERROR_BODY)
                )
                await answer.drain()
                continue
            upstream.write(head)
            sent = 0
            while length:
                piece = await client.read(min(65536, length))
                if not piece:
                    return
                length -= len(piece)
                sent += len(piece)
                if self._cut_every_upload is not None and sent > self._cut_every_upload:
                    raise ConnectionResetError("cut by the test")
                if self._cut_upload is not None:
                    self._cut_upload -= len(piece)
                    if self._cut_upload < 0:
                        self._cut_upload = None
                        raise ConnectionResetError("cut by the test")
                upstream.write(piece)
                await upstream.drain()

    async def _forward_answers(
        self,
        upstream: asyncio.StreamReader,
        client: asyncio.StreamWriter,
        upstream_writer: asyncio.StreamWriter,
    ) -> None:
        while piece := await upstream.read(65536):
            if self._delay:
                await asyncio.sleep(self._delay)
            if self._cut_download is not None:
                self._cut_download -= len(piece)
                if self._cut_download < 0:
                    client.write(piece[: len(piece) + self._cut_download])
                    self._cut_download = None
                    await client.drain()
                    raise ConnectionResetError("cut by the test")
            client.write(piece)
            await client.drain()
        with contextlib.suppress(Exception):
            client.close()


def _content_length(head: bytes) -> int:
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return int(value.strip())
    return 0
