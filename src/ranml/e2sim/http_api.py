"""A minimal read-only HTTP/1.1 JSON server on asyncio (ground truth; no dependencies).

Only ``GET`` is served; every response closes the connection. Requests larger than 8 KiB or
malformed request lines get ``400``.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from typing import Any

__all__ = ["JsonHttpServer"]

log = logging.getLogger("ranml.e2sim.http")
Handler = Callable[[str], tuple[int, Any]]
_REASONS = {200: "OK", 400: "Bad Request", 404: "Not Found", 405: "Method Not Allowed"}


class JsonHttpServer:
    """Serve ``handler(path) -> (status, json value)`` on ``host:port`` (``port`` 0 picks one)."""

    def __init__(self, handler: Handler, port: int, host: str = "127.0.0.1") -> None:
        self.handler, self.port, self.host = handler, port, host
        self._server: asyncio.base_events.Server | None = None

    async def start(self) -> int:
        """Start listening; returns the bound port."""
        self._server = await asyncio.start_server(self._serve, self.host, self.port, reuse_address=True)
        self.port = self._server.sockets[0].getsockname()[1]
        log.info("ground-truth API on http://%s:%d/state", self.host, self.port)
        return self.port

    async def close(self) -> None:
        """Stop listening."""
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5.0)
            status, body = self._route(head)
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError, ConnectionError):
            status, body = 400, {"error": "malformed request"}
        data = json.dumps(body).encode()
        head_out = (f"HTTP/1.1 {status} {_REASONS.get(status, 'Error')}\r\nContent-Type: application/json\r\n"
                    f"Content-Length: {len(data)}\r\nConnection: close\r\n\r\n").encode()
        try:
            writer.write(head_out + data)
            await writer.drain()
        except ConnectionError:
            pass
        finally:
            writer.close()

    def _route(self, head: bytes) -> tuple[int, Any]:
        if len(head) > 8192:
            return 400, {"error": "request too large"}
        parts = head.split(b"\r\n", 1)[0].decode("latin-1").split()
        if len(parts) != 3 or not parts[2].startswith("HTTP/"):
            return 400, {"error": "malformed request line"}
        method, target = parts[0], parts[1]
        if method != "GET":
            return 405, {"error": f"{method} not allowed; this API is read-only"}
        try:
            return self.handler(target.split("?", 1)[0])
        except Exception as exc:  # a handler bug must not kill the simulator
            log.exception("ground-truth handler failed for %s", target)
            return 500, {"error": f"{type(exc).__name__}: {exc}"}
