"""Message transports behind one interface: pure-Python RMR (default) and in-memory (unit tests).

The OSC ``ricxappframe`` RMR adapter lives in :mod:`ranml.xapp.osc_transport` and is imported only
when asked for, because ``ricxappframe`` cannot be imported without ``librmr_si.so``.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from dataclasses import replace
from typing import Protocol, runtime_checkable

from ranml.protocols.rmr import RmrEndpoint, RmrMessage, RmrSendError, RouteTable

__all__ = ["MemoryHub", "MemoryTransport", "RmrTransport", "SendError", "Transport"]

SendError = RmrSendError


@runtime_checkable
class Transport(Protocol):
    """What the runner needs from a message transport."""

    name: str

    async def start(self) -> None:
        """Open the transport (listen, connect)."""

    async def close(self) -> None:
        """Close it."""

    async def receive(self, timeout: float | None = None) -> RmrMessage | None:
        """The next message, or ``None`` after ``timeout`` seconds."""

    async def send(self, msg: RmrMessage) -> int:
        """Route by (mtype, sub_id, meid); returns the copies sent (raises :class:`SendError`)."""

    async def send_to(self, endpoint: str, msg: RmrMessage) -> None:
        """Send to one endpoint name, bypassing routes."""

    async def rts(self, request: RmrMessage, reply: RmrMessage) -> None:
        """Return ``reply`` to the sender of ``request``."""


class RmrTransport:
    """The pure-Python RMR endpoint (wire-compatible with librmr)."""

    def __init__(self, port: int, routes: RouteTable | None = None, name: str | None = None,
                 queue_size: int = 4096) -> None:
        self.endpoint = RmrEndpoint(port, routes, name=name, queue_size=queue_size)
        self.name = self.endpoint.src

    async def start(self) -> None:
        """Listen on the data port."""
        await self.endpoint.start()

    async def close(self) -> None:
        """Close every connection."""
        await self.endpoint.close()

    async def receive(self, timeout: float | None = None) -> RmrMessage | None:
        """The next message."""
        return await self.endpoint.receive(timeout)

    async def send(self, msg: RmrMessage) -> int:
        """Routed send."""
        return await self.endpoint.send(msg)

    async def send_to(self, endpoint: str, msg: RmrMessage) -> None:
        """Wormhole send."""
        await self.endpoint.send_to(endpoint, msg)

    async def rts(self, request: RmrMessage, reply: RmrMessage) -> None:
        """Return to sender."""
        await self.endpoint.rts(request, reply)


class MemoryHub:
    """In-memory message fabric: named endpoints and static routes (mtype → names)."""

    def __init__(self) -> None:
        self.queues: dict[str, asyncio.Queue[RmrMessage]] = {}
        self.routes: dict[int, list[str]] = defaultdict(list)

    def route(self, mtype: int, *names: str) -> None:
        """Route ``mtype`` to endpoints ``names`` (fan-out)."""
        self.routes[mtype].extend(names)

    def endpoint(self, name: str) -> MemoryTransport:
        """A transport attached to this hub under ``name``."""
        return MemoryTransport(self, name)


class MemoryTransport:
    """A :class:`Transport` on a :class:`MemoryHub` (no sockets; for unit tests)."""

    def __init__(self, hub: MemoryHub, name: str) -> None:
        self.hub, self.name = hub, name
        self.sent: list[RmrMessage] = []

    async def start(self) -> None:
        """Attach to the hub."""
        self.hub.queues.setdefault(self.name, asyncio.Queue())

    async def close(self) -> None:
        """Detach."""
        self.hub.queues.pop(self.name, None)

    async def receive(self, timeout: float | None = None) -> RmrMessage | None:
        """The next message."""
        try:
            return await asyncio.wait_for(self.hub.queues[self.name].get(), timeout)
        except TimeoutError:
            return None

    async def _deliver(self, endpoint: str, msg: RmrMessage) -> None:
        queue = self.hub.queues.get(endpoint)
        if queue is None:
            raise SendError(f"no in-memory endpoint {endpoint!r}")
        self.sent.append(msg)
        await queue.put(replace(msg, src=self.name, extra={}))

    async def send(self, msg: RmrMessage) -> int:
        """Route by mtype."""
        targets = self.hub.routes.get(msg.mtype)
        if not targets:
            raise SendError(f"no route for mtype {msg.mtype}")
        for target in targets:
            await self._deliver(target, msg)
        return len(targets)

    async def send_to(self, endpoint: str, msg: RmrMessage) -> None:
        """Deliver to one endpoint."""
        await self._deliver(endpoint, msg)

    async def rts(self, request: RmrMessage, reply: RmrMessage) -> None:
        """Deliver to the request's sender, keeping its xid, meid and sub_id unless set."""
        reply = replace(reply, xid=reply.xid or request.xid, meid=reply.meid or request.meid,
                        sub_id=reply.sub_id if reply.sub_id != -1 else request.sub_id)
        await self._deliver(request.src, reply)
