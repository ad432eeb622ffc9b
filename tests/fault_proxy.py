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
- ``fail_after_forwarding(count, status, method, query, path_suffix)``: forward the next
  ``count`` matching requests in full, read and discard the server's whole answer, and answer
  the client ``status`` with an S3 error body and ``Connection: close``: the server did the
  work, the client is told it failed;
- ``cut_after_forwarding(count, method, query, path_suffix)``: the same, but close the client's
  connection without answering anything: the server did the work, the answer is lost;
- ``stop_reading_bodies()``: take the head of every request with a body (``Content-Length`` >
  0) and then stop reading that connection, neither forwarding nor closing it, so that the
  client's write of the body blocks once the socket buffers are full; requests without a body
  are forwarded as usual meanwhile;
- ``drop_connections()``: close every open connection, as a server restart does;
- ``heal()``: forward everything again, and close the connections ``stop_reading_bodies()``
  left hanging.

A request matches ``method`` if that is its method, ``query`` if that is a substring of its
query string (``"uploads"`` for CreateMultipartUpload's ``?uploads``, with ``method="POST"``, as
ListMultipartUploads has it too; ``"uploadId"`` for UploadPart, CompleteMultipartUpload and
AbortMultipartUpload; ``"partNumber"``), and ``path_suffix`` if its path, as sent (so
percent-encoded), ends with that; a fault without any of them takes the next requests. The
faults are tried in this order, and the first that takes a request has it:
``stop_reading_bodies``, ``stall``, ``answer_next``, ``fail_after_forwarding``,
``cut_after_forwarding``; the ``cut_*`` and ``delay`` faults apply only to requests forwarded
as usual. A request forwarded by one of the ``*_after_forwarding`` faults goes to the server on
a connection of its own, which is closed once the answer is read.

``requests`` lists the request line of every request seen, for tests that count them;
``requests_answered``, ``forwarded_then_failed``, ``forwarded_then_cut`` and ``bodies_stalled``
count the requests each kind of fault took, and ``discarded_answers`` holds the request line and
the server's status of each answer the ``*_after_forwarding`` faults kept from the client.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Awaitable
from collections.abc import Callable
from dataclasses import dataclass
from xml.sax.saxutils import escape

CONNECTION_LIMIT = 30.0  # seconds: no connection of a test outlives this
ERROR_BODY = (
    b'<?xml version="1.0" encoding="UTF-8"?><Error><Code>SlowDown</Code>'
    b"<Message>Please reduce your request rate.</Message></Error>"
)
ERROR_CODES = {
    500: ("InternalError", "We encountered an internal error. Please try again."),
    502: ("BadGateway", "Bad gateway."),
    503: ("SlowDown", "Please reduce your request rate."),
    504: ("GatewayTimeout", "Gateway timeout."),
}


@dataclass
class _AfterForwarding:
    """A fault armed by ``fail_after_forwarding`` or ``cut_after_forwarding``."""

    count: int
    method: bytes | None
    query: str | None
    path_suffix: str | None
    status: int | None  # what the client is answered; None: nothing, its connection is cut

    def takes(self, method: bytes, target: str) -> bool:
        """Whether this request is one of the fault's; counts it if so (on the proxy's loop)."""
        path, _, query = target.partition("?")
        if (
            self.count <= 0
            or self.method not in (None, method)
            or (self.query is not None and self.query not in query)
            or (self.path_suffix is not None and not path.endswith(self.path_suffix))
        ):
            return False
        self.count -= 1
        return True


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
        self.forwarded_then_failed = 0
        self.forwarded_then_cut = 0
        self.bodies_stalled = 0
        self.discarded_answers: list[tuple[str, int]] = []  # (request line, server's status)
        self._fail_after: _AfterForwarding | None = None
        self._cut_after: _AfterForwarding | None = None
        self._not_reading_bodies = False
        # Connections whose body stop_reading_bodies() left unread, and what wakes them.
        self._stalled: dict[asyncio.StreamWriter, asyncio.Future[None]] = {}

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

    def fail_after_forwarding(
        self,
        count: int,
        *,
        status: int = 503,
        method: str | None = None,
        query: str | None = None,
        path_suffix: str | None = None,
    ) -> None:
        """Forward the next ``count`` matching requests, then answer ``status`` instead.

        The server gets the whole request and its whole answer is read and dropped; the client
        gets ``status`` with an S3 error body (``SlowDown`` for 503, ``InternalError`` for 500)
        and ``Connection: close``, and the connection is closed after it.
        """
        self._fail_after = _AfterForwarding(count, _method(method), query, path_suffix, status)

    def cut_after_forwarding(
        self,
        count: int,
        *,
        method: str | None = None,
        query: str | None = None,
        path_suffix: str | None = None,
    ) -> None:
        """Forward the next ``count`` matching requests, read the answer, then cut the client.

        The client's connection is closed without a byte of the answer, as when a connection
        dies after the server has done the work.
        """
        self._cut_after = _AfterForwarding(count, _method(method), query, path_suffix, None)

    def stop_reading_bodies(self) -> None:
        """From now on, read only the head of a request with a body, then nothing more.

        The connection stays open and nothing is forwarded, so the client's body write blocks
        once the socket buffers are full and no answer ever comes; ``heal()`` closes these
        connections. Requests without a body (no ``Content-Length``, or 0) are forwarded.
        """
        self._not_reading_bodies = True

    def drop_connections(self) -> None:
        self._call(self._abort_all)

    def heal(self) -> None:
        self._stalling, self._delay, self._answers_left = False, 0.0, 0
        self._cut_upload = self._cut_download = self._cut_every_upload = None
        self._fail_after = self._cut_after = None
        self._not_reading_bodies = False
        if self._thread.is_alive():
            self._call(self._release_stalled)
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

    def _release_stalled(self) -> None:
        """Close the connections ``stop_reading_bodies()`` left hanging, there and then."""
        for writer, release in list(self._stalled.items()):
            writer.transport.abort()
            if not release.done():
                release.set_result(None)
        self._stalled.clear()

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
            request_line = head.split(b"\r\n", 1)[0].decode("latin-1")
            method = head.split(b" ", 1)[0]
            target = request_line.split(" ")[1] if " " in request_line else ""
            self.requests.append(request_line)
            length = _content_length(head)
            if self._not_reading_bodies and length > 0:
                await self._stop_reading(answer)
                raise ConnectionResetError("released by heal()")
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
            fault = self._take_after_forwarding(method, target)
            if fault is not None:
                body = await client.readexactly(length) if length else b""
                status = await self._round_trip(head + body, method)
                self.discarded_answers.append((request_line, status))
                await self._end_after_forwarding(fault, answer, upstream, method, target)
                return
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

    def _take_after_forwarding(self, method: bytes, target: str) -> _AfterForwarding | None:
        for fault in (self._fail_after, self._cut_after):
            if fault is not None and fault.takes(method, target):
                return fault
        return None

    async def _end_after_forwarding(
        self,
        fault: _AfterForwarding,
        client: asyncio.StreamWriter,
        upstream: asyncio.StreamWriter,
        method: bytes,
        target: str,
    ) -> None:
        """Answer the client ``fault.status`` and close, or cut it, as ``fault`` says."""
        if fault.status is None:
            self.forwarded_then_cut += 1
            raise ConnectionResetError("cut by the test after forwarding")
        self.forwarded_then_failed += 1
        client.write(_error_answer(fault.status, method, target))
        # A graceful close, so that the answer is not lost; closing the idle upstream connection
        # ends _forward_answers, which would otherwise wait on it.
        client.close()
        await client.wait_closed()
        upstream.close()

    async def _stop_reading(self, client: asyncio.StreamWriter) -> None:
        """Read nothing more from this connection until ``heal()`` closes it."""
        self.bodies_stalled += 1
        client.transport.pause_reading()
        release: asyncio.Future[None] = self._loop.create_future()
        self._stalled[client] = release
        try:
            await release  # bounded, as the whole connection is, by CONNECTION_LIMIT
        finally:
            self._stalled.pop(client, None)

    async def _round_trip(self, request: bytes, method: bytes) -> int:
        """Send one whole request on a new connection, read its whole answer, return the status.

        The request is passed on unchanged (its signature covers the ``Host`` header), and the
        answer ends where its ``Content-Length`` or chunked encoding says, or at the end of the
        connection; interim ``1xx`` answers are skipped.
        """
        reader, writer = await asyncio.open_connection(self.target_host, self.target_port)
        self._writers.add(writer)
        try:
            writer.write(request)
            await writer.drain()
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                status = int(head.split(b" ", 2)[1])
                if not 100 <= status < 200:
                    break
            if method == b"HEAD" or status in (204, 304):
                return status
            if b"chunked" in _header(head, b"transfer-encoding").lower():
                while size := int((await reader.readuntil(b"\r\n")).split(b";")[0], 16):
                    await reader.readexactly(size + 2)  # the chunk and its CRLF
                while await reader.readuntil(b"\r\n") != b"\r\n":
                    pass  # trailers, up to the empty line
            elif _header(head, b"content-length"):
                await reader.readexactly(_content_length(head))
            else:
                while await reader.read(65536):
                    pass
            return status
        finally:
            writer.transport.abort()
            self._writers.discard(writer)

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
    return int(_header(head, b"content-length") or 0)


def _header(head: bytes, lower_name: bytes) -> bytes:
    """The value of the header named ``lower_name`` in this head, or b"" if it has none."""
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == lower_name:
            return value.strip()
    return b""


def _method(method: str | None) -> bytes | None:
    return method.upper().encode() if method else None


def _error_answer(status: int, method: bytes, target: str) -> bytes:
    """An S3 error answer with ``status``, which closes the connection."""
    code, message = ERROR_CODES.get(status, ("InternalError", "Injected error."))
    resource = escape(target.partition("?")[0])
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f"<Error><Code>{code}</Code><Message>{message}</Message>"
        f"<Resource>{resource}</Resource><RequestId>injected</RequestId></Error>"
    ).encode("latin-1")
    head = (
        f"HTTP/1.1 {status} Injected\r\nContent-Type: application/xml\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    ).encode()
    return head + (b"" if method == b"HEAD" else body)
