"""The xApp's message path: a reader fills a bounded queue, a worker dispatches from it.

At overload the oldest queued messages are dropped and counted, so memory stays flat. Replies a
handler may be awaiting (subscription and control outcomes) skip the queue. After :meth:`stop_reading`
what arrives is counted as received and ignored (the nodes report until the deletes reach them).

Two latencies per indication: from its arrival (taken from the transport) to its handler's end,
which includes the time it waited in the queue behind the reports that arrived with it, and the
handler's own time.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from ranml.protocols import e2ap
from ranml.protocols.rmr import MTYPES, RmrMessage
from ranml.xapp.context import Context
from ranml.xapp.transport import Transport

__all__ = ["Dispatcher"]

log = logging.getLogger("ranml.xapp.dispatch")

INDICATION = MTYPES["RIC_INDICATION"]
_SUB_REPLIES = {MTYPES["RIC_SUB_RESP"], MTYPES["RIC_SUB_FAILURE"], MTYPES["RIC_SUB_DEL_RESP"],
                MTYPES["RIC_ERROR_INDICATION"]}
_CONTROL_REPLIES = {MTYPES["RIC_CONTROL_ACK"], MTYPES["RIC_CONTROL_FAILURE"]}

Handle = Callable[[RmrMessage], Awaitable[None]]


class Dispatcher:
    """Read ``transport`` into a queue of ``queue_size`` messages and hand each to ``handle``."""

    def __init__(self, transport: Transport, ctx: Context[Any, Any], handle: Handle, queue_size: int) -> None:
        self.transport, self.ctx, self.handle = transport, ctx, handle
        self._queue: collections.deque[RmrMessage] = collections.deque(maxlen=queue_size)
        self._wake = asyncio.Event()
        self.reading = True
        self.busy = False
        self.latencies_us: collections.deque[float] = collections.deque(maxlen=100_000)  # arrival -> handled
        self.service_us: collections.deque[float] = collections.deque(maxlen=100_000)  # in the handler only
        self.handler_s = 0.0
        self.dropped = 0
        self.handled = 0
        self.ignored_at_stop = 0  # arrived after the stop signal, while the subscription deletes were in flight

    def __len__(self) -> int:
        return len(self._queue)

    def stop_reading(self) -> None:
        """Nothing received from now on is handled (replies still are)."""
        self.reading = False

    async def drain(self, timeout_s: float, quiet_s: float = 0.2) -> None:
        """Wait until the queue is empty and the worker idle for ``quiet_s`` (at most ``timeout_s``)."""
        deadline = time.monotonic() + timeout_s
        quiet_since = time.monotonic()
        while time.monotonic() < deadline:
            if self._queue or self.busy:
                quiet_since = time.monotonic()
            elif time.monotonic() - quiet_since > quiet_s:
                return
            await asyncio.sleep(0.01)

    async def read(self) -> None:
        """The reader task."""
        metrics = self.ctx.metrics
        while True:
            msg = await self.transport.receive(timeout=0.2)
            if msg is None:
                continue
            if msg.mtype in _SUB_REPLIES or msg.mtype in _CONTROL_REPLIES:
                self._reply(msg)  # answers to requests a handler may be awaiting: never queued behind it
                continue
            if not self.reading:
                self.ignored_at_stop += 1
                metrics.count_received(msg.mtype)
                continue
            if len(self._queue) == self._queue.maxlen:
                self.dropped += 1  # the deque drops the oldest on append
                metrics.dropped.inc()
            msg.extra["t_in"] = time.perf_counter()
            self._queue.append(msg)
            self._wake.set()

    def _reply(self, msg: RmrMessage) -> None:
        ctx = self.ctx
        ctx.metrics.count_received(msg.mtype)
        try:
            decoded = e2ap.decode(msg.payload)
        except e2ap.E2apError as exc:
            ctx.metrics.count_malformed("e2ap")
            log.info("malformed E2AP in message type %d: %s", msg.mtype, exc)
            return
        if msg.mtype in _CONTROL_REPLIES:
            ctx.on_control_outcome(decoded)
        else:
            ctx.subscriptions.on_reply(decoded)

    async def work(self) -> None:
        """The worker task: one message at a time; a failing handler never stops it."""
        metrics = self.ctx.metrics
        while True:
            if not self._queue:
                self._wake.clear()
                await self._wake.wait()
                continue
            msg = self._queue.popleft()
            metrics.queue_depth.set(len(self._queue))
            metrics.count_received(msg.mtype)
            self.busy = True
            t_start = time.perf_counter()
            try:
                await self.handle(msg)
            except Exception:  # one bad message or handler bug never stops the app
                metrics.handler_errors.inc()
                log.exception("handler for message type %d failed", msg.mtype)
            finally:
                self.busy = False
            self.handled += 1
            t_done = time.perf_counter()
            t_in = msg.extra.get("t_in")
            if isinstance(t_in, float):
                spent = t_done - t_in
                metrics.latency.observe(spent)
                if msg.mtype == INDICATION:
                    self.latencies_us.append(spent * 1e6)
                    self.service_us.append((t_done - t_start) * 1e6)
                    self.handler_s += t_done - t_start
