"""Drive Django's ASGI handler in-process, the way an ASGI server does, with a real disconnect.

Django's own ``AsyncClient`` never sends ``http.disconnect`` mid-response; this helper can, after
a chosen number of body messages, which is what a browser closing a tab looks like to Django.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from dataclasses import field
from typing import Any
from urllib.parse import unquote

from django.core.handlers.asgi import ASGIHandler


@dataclass
class AsgiResponse:
    status: int = 0
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    body_messages: int = 0


async def asgi_request(
    method: str,
    path: str,  # percent-encoded, as on the wire
    headers: dict[str, str] | None = None,
    *,
    disconnect_after: int | None = None,
) -> AsgiResponse:
    """Send one request through Django; with ``disconnect_after``, the client goes away after
    that many body messages arrive."""
    response = AsgiResponse()
    gone = asyncio.Event()
    requested = False

    async def receive() -> dict[str, Any]:
        nonlocal requested
        if not requested:
            requested = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await gone.wait()
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            response.status = message["status"]
            response.headers = {
                name.decode("latin-1").lower(): value.decode("latin-1")
                for name, value in message["headers"]
            }
        elif message["type"] == "http.response.body":
            if gone.is_set():
                return  # as uvicorn does: nothing reaches a client that has left
            response.body += message.get("body", b"")
            response.body_messages += 1
            if disconnect_after is not None and response.body_messages >= disconnect_after:
                gone.set()
                await asyncio.sleep(0)  # the server notices the disconnect

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": unquote(path),
        "raw_path": path.encode("ascii"),
        "query_string": b"",
        "root_path": "",
        "headers": [
            (name.lower().encode("latin-1"), value.encode("latin-1"))
            for name, value in (headers or {}).items()
        ]
        + [(b"host", b"testserver")],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
    }
    async with asyncio.timeout(30):
        await ASGIHandler()(scope, receive, send)
    return response
