"""A minimal HTTP/1.1 server on asyncio for JSON and text endpoints (health, metrics, ground truth).

No dependencies; one request per connection (``Connection: close``); bodies up to 1 MiB with a
``Content-Length``. The handler gets ``(method, path, body)`` and returns ``(status, value)``
where ``value`` is JSON-serialisable, or a :class:`Text`. A handler error becomes a ``500`` and is
logged; malformed requests get ``400``. :class:`ThreadedHttpServer` runs the same server on its own
thread, for a runtime whose main thread is a synchronous loop (the dApp).
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

__all__ = ["Handler", "Text", "ThreadedHttpServer", "TinyHttpServer"]

log = logging.getLogger("ranml.host.http")
_REASONS = {200: "OK", 201: "Created", 204: "No Content", 400: "Bad Request", 404: "Not Found",
            405: "Method Not Allowed", 413: "Payload Too Large", 500: "Internal Server Error",
            503: "Service Unavailable"}
_MAX_BODY = 1 << 20


@dataclass(frozen=True)
class Text:
    """A non-JSON response body."""

    body: str
    content_type: str = "text/plain; charset=utf-8"


Handler = Callable[[str, str, bytes], tuple[int, Any] | Awaitable[tuple[int, Any]]]


class TinyHttpServer:
    """Serve ``handler(method, path, body)`` on ``host:port`` (``port`` 0 picks a free one)."""

    def __init__(self, handler: Handler, port: int, host: str = "127.0.0.1") -> None:
        self.handler, self.port, self.host = handler, port, host
        self._server: asyncio.base_events.Server | None = None

    async def start(self) -> int:
        """Start listening; returns the bound port."""
        self._server = await asyncio.start_server(self._serve, self.host, self.port, reuse_address=True)
        self.port = self._server.sockets[0].getsockname()[1]
        log.info("HTTP on http://%s:%d", self.host, self.port)
        return self.port

    async def close(self) -> None:
        """Stop listening."""
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5.0)
            status, value = await self._respond(head, reader)
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError, ConnectionError):
            status, value = 400, {"error": "malformed request"}
        if isinstance(value, Text):
            data, ctype = value.body.encode(), value.content_type
        elif status == 204:
            data, ctype = b"", "application/json"
        else:
            data, ctype = json.dumps(value).encode(), "application/json"
        out = (f"HTTP/1.1 {status} {_REASONS.get(status, 'Error')}\r\nContent-Type: {ctype}\r\n"
               f"Content-Length: {len(data)}\r\nConnection: close\r\n\r\n").encode() + data
        try:
            writer.write(out)
            await writer.drain()
        except ConnectionError:
            pass
        finally:
            writer.close()

    async def _respond(self, head: bytes, reader: asyncio.StreamReader) -> tuple[int, Any]:
        if len(head) > 16384:
            return 400, {"error": "request head too large"}
        lines = head.decode("latin-1").split("\r\n")
        parts = lines[0].split()
        if len(parts) != 3 or not parts[2].startswith("HTTP/"):
            return 400, {"error": "malformed request line"}
        method, target = parts[0].upper(), parts[1]
        length = 0
        for line in lines[1:]:
            name, _, value = line.partition(":")
            if name.strip().lower() == "content-length":
                try:
                    length = int(value.strip())
                except ValueError:
                    return 400, {"error": "bad Content-Length"}
        if length < 0 or length > _MAX_BODY:
            return 413, {"error": f"body over {_MAX_BODY} bytes"}
        body = await asyncio.wait_for(reader.readexactly(length), 5.0) if length else b""
        try:
            result = self.handler(method, target.split("?", 1)[0], body)
            if asyncio.iscoroutine(result):
                result = await result
            return result  # type: ignore[return-value]
        except Exception as exc:  # a handler bug must not kill the process
            log.exception("HTTP handler failed for %s %s", method, target)
            return 500, {"error": f"{type(exc).__name__}: {exc}"}


class ThreadedHttpServer:
    """A :class:`TinyHttpServer` on its own event loop in a daemon thread.

    The handler runs on that thread: it must only read what the main loop publishes.
    """

    def __init__(self, handler: Handler, port: int, host: str = "127.0.0.1", name: str = "http") -> None:
        self._server = TinyHttpServer(handler, port, host)
        self._name = name
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        """The bound port (after :meth:`start`)."""
        return self._server.port

    def start(self) -> int:
        """Start listening on the helper thread; returns the bound port (errors are raised here)."""
        loop = asyncio.new_event_loop()
        try:
            loop.run_until_complete(self._server.start())
        except BaseException:
            loop.close()
            raise
        self._loop = loop
        self._thread = threading.Thread(target=loop.run_forever, name=self._name, daemon=True)
        self._thread.start()
        return self._server.port

    def close(self) -> None:
        """Stop listening and end the thread."""
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        asyncio.run_coroutine_threadsafe(self._server.close(), loop).result(timeout=5)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=5)
        loop.close()
        self._loop = self._thread = None
