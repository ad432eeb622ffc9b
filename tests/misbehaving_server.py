"""A tiny HTTP server that answers with fixed statuses: a broken proxy, or MinIO's health
endpoints without the rest of MinIO.

It answers ``routes[path]`` for the paths it knows and ``status`` for every other request, and
records each request as ``"METHOD /path"``, so tests can tell what was asked and how often, and
its headers (``headers_seen``). ``content_type`` and ``headers`` shape the answer, for example
an S3 XML error with ``x-amz-bucket-region``.
"""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler
from http.server import ThreadingHTTPServer


class MisbehavingServer:
    def __init__(
        self,
        status: int,
        body: bytes = b"<html>Bad Gateway</html>",
        routes: dict[str, int] | None = None,
        *,
        content_type: str = "text/html",
        headers: dict[str, str] | None = None,
    ) -> None:
        self.requests: list[str] = []
        self.headers_seen: list[dict[str, str]] = []
        extra_headers = headers or {}
        server = self
        routes = routes or {}

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                path = self.path.split("?", 1)[0]
                server.requests.append(f"{self.command} {path}")
                server.headers_seen.append({k.lower(): v for k, v in self.headers.items()})
                length = int(self.headers.get("Content-Length") or 0)
                self.rfile.read(length)
                self.send_response(routes.get(path, status))
                self.send_header("Content-Type", content_type)
                for name, value in extra_headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(0 if self.command == "HEAD" else len(body)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)

            do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _answer

            def log_message(self, format: str, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def endpoint(self) -> str:
        host, port = self._server.server_address[:2]
        return f"{host}:{port}"

    def __enter__(self) -> MisbehavingServer:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)
