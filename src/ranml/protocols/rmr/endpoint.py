"""A pure-Python asyncio RMR endpoint, wire-compatible with librmr's SI95 transport.

* listens on one TCP port; reads frames from every connection it owns (accepted and dialed);
* dials lazily, one connection per endpoint *name* (``host:port`` string), re-dials after EOF;
* routes by a :class:`~ranml.protocols.rmr.routes.RouteTable` (fan-out, round-robin, fallback);
* return-to-sender dials the request's ``src`` and falls back to the connection it arrived on;
* calls set the call flag and a call id in ``d1[0]``; replies are matched by call id and all 32
  ``xid`` bytes;
* answers health checks (mtype 100) with mtype 101 and the payload ``OK`` plus a newline;
* a connection that sends an implausible frame length is closed; malformed frames are counted.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from dataclasses import dataclass, field, replace

from ranml.errors import RanmlError
from ranml.protocols.rmr.frame import CALL_FLAG, RmrFrameError, RmrMessage, encode
from ranml.protocols.rmr.framer import FrameReader
from ranml.protocols.rmr.mtypes import MTYPES
from ranml.protocols.rmr.routes import RouteError, RouteTable

__all__ = ["EndpointStats", "RmrEndpoint", "RmrSendError"]

log = logging.getLogger("ranml.protocols.rmr")

_WRITE_HIGH = 256 * 1024  # bytes queued on a connection before a send waits for the socket
HEALTH_REQ = MTYPES["RIC_HEALTH_CHECK_REQ"]
HEALTH_RESP = MTYPES["RIC_HEALTH_CHECK_RESP"]


class RmrSendError(RanmlError):
    """A message could not be sent (no route, endpoint unreachable)."""


@dataclass
class EndpointStats:
    """Counters for operations and troubleshooting."""

    received: int = 0
    sent: int = 0
    malformed: int = 0
    closed_bad_length: int = 0
    dropped_queue_full: int = 0
    health_checks: int = 0
    rts_fallbacks: int = 0
    errors: dict[str, int] = field(default_factory=dict)


class _Conn:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, name: str) -> None:
        self.reader, self.writer, self.name = reader, writer, name
        self.task: asyncio.Task[None] | None = None

    @property
    def open(self) -> bool:
        return not self.writer.is_closing()

    async def write(self, frame: bytes) -> None:
        writer = self.writer
        if writer.is_closing():
            raise ConnectionResetError(f"connection {self.name} is closed")
        writer.write(frame)  # one write() per frame: frames never interleave on a connection
        if writer.transport.get_write_buffer_size() > _WRITE_HIGH:
            await writer.drain()  # back-pressure only when the kernel does not keep up


class RmrEndpoint:
    """An RMR endpoint on ``port``.

    Parameters
    ----------
    port
        Listen (data) port.
    routes
        Route table for :meth:`send`; :meth:`send_to`, :meth:`rts` and :meth:`call` with an
        endpoint name need none.
    name
        Host name written in ``src`` (default ``RMR_SRC_ID``, else the short host name); replies
        dial ``name:port``, so it must resolve for the peer.
    bind
        Listen address.
    queue_size
        Received messages kept for :meth:`receive`; beyond it new ones are dropped and counted.
    """

    def __init__(self, port: int, routes: RouteTable | None = None, name: str | None = None,
                 bind: str = "0.0.0.0", queue_size: int = 4096) -> None:
        self.port = port
        self.routes = routes or RouteTable()
        host = name or os.environ.get("RMR_SRC_ID") or socket.gethostname().split(".")[0]
        self.src = f"{host.split(':')[0]}:{port}"
        self.srcip = f"{os.environ.get('RMR_BIND_IF', '127.0.0.1')}:{port}"
        self.bind = bind
        self.stats = EndpointStats()
        self._queue: asyncio.Queue[RmrMessage] = asyncio.Queue(queue_size)
        self._server: asyncio.base_events.Server | None = None
        self._out: dict[str, _Conn] = {}
        self._conns: set[_Conn] = set()
        self._dial_locks: dict[str, asyncio.Lock] = {}
        self._calls: dict[tuple[int, bytes], asyncio.Future[RmrMessage]] = {}
        self._dial_tasks: set[asyncio.Task[None]] = set()
        self._next_call = 1

    @property
    def own_names(self) -> set[str]:
        """The endpoint's own names (for route-table self-pruning and sender filters)."""
        return {self.src, self.srcip}

    async def start(self) -> RmrEndpoint:
        """Start listening."""
        self._server = await asyncio.start_server(self._accepted, self.bind, self.port, reuse_address=True)
        log.info("RMR endpoint %s listening on %s:%d", self.src, self.bind, self.port)
        return self

    async def close(self) -> None:
        """Stop listening and close every connection."""
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        conns = list(self._conns)
        for conn in conns:
            conn.writer.close()  # the read loops see EOF and end by themselves
        tasks = [c.task for c in conns if c.task is not None and c.task is not asyncio.current_task()]
        if tasks:
            _, pending = await asyncio.wait(tasks, timeout=1.0)
            for task in pending:  # only our own dial tasks can be left; never the server's callbacks
                if task in self._dial_tasks:
                    task.cancel()
        for fut in self._calls.values():
            fut.cancel()
        self._conns.clear()
        self._out.clear()

    def drop_connections(self) -> int:
        """Close every open connection but keep listening (peers re-dial; sends dial again).

        Returns the number of connections closed.
        """
        conns = list(self._conns)
        for conn in conns:
            conn.writer.close()
        self._out.clear()
        return len(conns)

    async def __aenter__(self) -> RmrEndpoint:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # -- receiving ----------------------------------------------------------------------------
    async def _accepted(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("peername")
        conn = _Conn(reader, writer, f"inbound:{peer}")
        self._conns.add(conn)
        conn.task = asyncio.current_task()
        await self._read_loop(conn)

    async def _read_loop(self, conn: _Conn) -> None:
        framer = FrameReader()
        try:
            while True:
                data = await conn.reader.read(65536)
                if not data:
                    break
                try:
                    messages = framer.feed(data)
                except RmrFrameError as exc:
                    self.stats.closed_bad_length += 1
                    log.warning("closing %s: %s", conn.name, exc)
                    break
                self.stats.malformed = framer.malformed
                for msg in messages:
                    msg.extra["conn"] = conn
                    self._dispatch(msg)
        except (ConnectionError, OSError):
            pass
        finally:
            conn.writer.close()
            self._conns.discard(conn)
            if self._out.get(conn.name) is conn:
                del self._out[conn.name]

    def _dispatch(self, msg: RmrMessage) -> None:
        self.stats.received += 1
        if msg.call_id and not msg.is_call:
            fut = self._calls.pop((msg.call_id, bytes(msg.xid)), None)
            if fut is not None:
                if not fut.done():
                    fut.set_result(msg)
                return
        if msg.mtype == HEALTH_REQ:
            self.stats.health_checks += 1
            task = asyncio.create_task(self._answer_health_check(msg))
            self._dial_tasks.add(task)
            task.add_done_callback(self._dial_tasks.discard)
            return
        try:
            self._queue.put_nowait(msg)
        except asyncio.QueueFull:
            self.stats.dropped_queue_full += 1

    async def _answer_health_check(self, msg: RmrMessage) -> None:
        try:
            await self.rts(msg, replace(msg, mtype=HEALTH_RESP, payload=b"OK\n", extra={}))
        except (RmrSendError, ConnectionError, OSError) as exc:
            log.info("health check from %s not answered: %s", msg.src, exc)

    async def receive(self, timeout: float | None = None) -> RmrMessage | None:
        """The next received message (``None`` after ``timeout`` seconds)."""
        if not self._queue.empty():  # the common case under load: no timer, no task
            return self._queue.get_nowait()
        try:
            return await asyncio.wait_for(self._queue.get(), timeout)
        except TimeoutError:
            return None

    # -- sending ------------------------------------------------------------------------------
    async def _connection(self, endpoint: str) -> _Conn:
        conn = self._out.get(endpoint)
        if conn is not None and conn.open:
            return conn
        lock = self._dial_locks.setdefault(endpoint, asyncio.Lock())
        async with lock:
            conn = self._out.get(endpoint)
            if conn is not None and conn.open:
                return conn
            host, _, port = endpoint.rpartition(":")
            host = host.strip("[]")
            try:
                reader, writer = await asyncio.wait_for(asyncio.open_connection(host, int(port)), 2.0)
            except (OSError, ValueError, TimeoutError) as exc:
                raise RmrSendError(f"cannot reach RMR endpoint {endpoint}: {exc}") from None
            conn = _Conn(reader, writer, endpoint)
            conn.task = asyncio.create_task(self._read_loop(conn))  # replies may come back on it
            self._dial_tasks.add(conn.task)
            conn.task.add_done_callback(self._dial_tasks.discard)
            self._out[endpoint] = conn
            self._conns.add(conn)
            return conn

    async def send_to(self, endpoint: str, msg: RmrMessage) -> None:
        """Send to one endpoint name, bypassing the route table (an RMR wormhole)."""
        frame = encode(msg, self.src, self.srcip)
        conn = self._out.get(endpoint)
        if conn is None or not conn.open:
            conn = await self._connection(endpoint)
        try:
            await conn.write(frame)
        except (ConnectionError, OSError):
            conn.writer.close()
            self._out.pop(endpoint, None)
            conn = await self._connection(endpoint)  # re-dial once after a broken connection
            await conn.write(frame)
        self.stats.sent += 1

    async def send(self, msg: RmrMessage) -> int:
        """Route ``msg`` by (sub_id, mtype): one copy per group. Returns the copies sent."""
        try:
            targets = self.routes.endpoints(msg.mtype, msg.sub_id, msg.meid)
        except RouteError as exc:
            raise RmrSendError(str(exc)) from None
        if not msg.call_id:
            msg = replace(msg, d1=b"\x00" + msg.d1[1:4] if len(msg.d1) >= 4 else b"\x00\x00\x00\x00")
        for target in targets:
            await self.send_to(target, msg)
        return len(targets)

    async def rts(self, request: RmrMessage, reply: RmrMessage) -> None:
        """Return to sender: dial the request's ``src``; fall back to the connection it arrived on.

        The reply keeps the request's xid, meid, sub_id and d1 unless ``reply`` sets them; the call
        flag is cleared.
        """
        reply = replace(reply, xid=reply.xid or request.xid, meid=reply.meid or request.meid,
                        sub_id=reply.sub_id if reply.sub_id != -1 else request.sub_id,
                        d1=request.d1, flags=reply.flags & ~CALL_FLAG)
        try:
            await self.send_to(request.src, reply)
            return
        except (RmrSendError, ConnectionError, OSError):
            pass
        arrival = request.extra.get("conn")
        if not isinstance(arrival, _Conn) or not arrival.open:
            raise RmrSendError(f"cannot return to {request.src!r}: unreachable and no arrival connection")
        self.stats.rts_fallbacks += 1
        await arrival.write(encode(reply, self.src, self.srcip))
        self.stats.sent += 1

    async def call(self, msg: RmrMessage, endpoint: str | None = None, timeout: float = 1.0) -> RmrMessage:
        """Send with the call flag and wait for the reply matched by call id and xid."""
        call_id = self._next_call
        self._next_call = self._next_call % 255 + 1
        xid = (msg.xid or os.urandom(16).hex().encode())[:32].ljust(32, b"\x00")
        d1 = bytes([call_id]) + (msg.d1[1:4] if len(msg.d1) >= 4 else b"\x00\x00\x00")
        request = replace(msg, xid=xid, d1=d1, flags=msg.flags | CALL_FLAG)
        fut: asyncio.Future[RmrMessage] = asyncio.get_running_loop().create_future()
        self._calls[(call_id, xid)] = fut
        try:
            if endpoint is None:
                await self.send(request)
            else:
                await self.send_to(endpoint, request)
            return await asyncio.wait_for(fut, timeout)
        except TimeoutError:
            raise RmrSendError(f"no reply to call {call_id} within {timeout}s") from None
        finally:
            self._calls.pop((call_id, xid), None)

