"""Adapter for the OSC ``ricxappframe`` RMR binding (needs ``librmr_si.so``; imported lazily).

Use it when an xApp must run on librmr itself (e.g. to share a route table with a Route Manager
that pushes to librmr's control port). ``ricxappframe`` is imported inside :meth:`start` only, so
importing this module never needs the C library. The RMR calls block, so they run in a worker
thread; the adapter exposes the same :class:`~ranml.xapp.transport.Transport` interface.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from ranml.errors import DependencyError
from ranml.protocols.rmr import RmrMessage
from ranml.xapp.transport import SendError

__all__ = ["OscRmrTransport", "librmr_available"]

log = logging.getLogger("ranml.xapp.osc")


def librmr_available() -> str | None:
    """``None`` when ``ricxappframe.rmr`` imports (librmr found), else the reason it does not."""
    try:
        import ricxappframe.rmr.rmr  # noqa: F401
    except (ImportError, OSError) as exc:
        return f"{type(exc).__name__}: {exc}"
    return None


class OscRmrTransport:
    """RMR through ``ricxappframe.rmr`` (librmr_si)."""

    def __init__(self, port: int, max_size: int = 65536) -> None:
        self.port = port
        self.max_size = max_size
        self.name = f"librmr:{port}"
        self._rmr: Any = None
        self._ctx: Any = None

    async def start(self) -> None:
        """Initialise librmr on ``port`` and wait until it is ready."""
        reason = librmr_available()
        if reason is not None:
            raise DependencyError(f"the ricxappframe transport needs librmr_si.so ({reason}); "
                                  "use the default pure-Python RMR transport instead")
        from ricxappframe.rmr import rmr

        self._rmr = rmr
        self._ctx = await asyncio.to_thread(rmr.rmr_init, str(self.port).encode(), self.max_size, 0x00)
        for _ in range(100):
            if rmr.rmr_ready(self._ctx):
                return
            await asyncio.sleep(0.1)
        log.warning("librmr not ready after 10 s (no route table yet?)")

    async def close(self) -> None:
        """Close the librmr context."""
        if self._ctx is not None:
            await asyncio.to_thread(self._rmr.rmr_close, self._ctx)
            self._ctx = None

    def _to_message(self, sbuf: Any) -> RmrMessage:
        s = self._rmr.message_summary(sbuf)
        meid = s.get("meid") or b""
        return RmrMessage(mtype=s["message type"], payload=bytes(s["payload"] or b""), sub_id=s["subscription id"],
                          xid=bytes(s.get("transaction id") or b""), src=str(s.get("message source") or ""),
                          meid=meid.decode(errors="replace") if isinstance(meid, bytes) else str(meid),
                          extra={"sbuf": sbuf})

    async def receive(self, timeout: float | None = None) -> RmrMessage | None:
        """The next message (``rmr_torcv_msg`` in a worker thread)."""
        ms = 1000 if timeout is None else max(1, int(timeout * 1000))
        sbuf = await asyncio.to_thread(self._rmr.rmr_torcv_msg, self._ctx, None, ms)
        if self._rmr.rmr_get_state(sbuf) != self._rmr.RMR_OK:
            self._rmr.rmr_free_msg(sbuf)
            return None
        return self._to_message(sbuf)

    def _alloc(self, msg: RmrMessage) -> Any:
        return self._rmr.rmr_alloc_msg(self._ctx, max(len(msg.payload), 1), payload=msg.payload,
                                       gen_transaction_id=True, mtype=msg.mtype,
                                       meid=msg.meid.encode() if msg.meid else None, sub_id=msg.sub_id)

    async def send(self, msg: RmrMessage) -> int:
        """``rmr_send_msg`` (routes from librmr's table)."""
        sbuf = await asyncio.to_thread(self._rmr.rmr_send_msg, self._ctx, self._alloc(msg))
        state = self._rmr.rmr_get_state(sbuf)
        self._rmr.rmr_free_msg(sbuf)
        if state != self._rmr.RMR_OK:
            raise SendError(f"librmr send failed with state {state}")
        return 1

    async def send_to(self, endpoint: str, msg: RmrMessage) -> None:
        """Send by route: ricxappframe's binding has no wormholes."""
        await self.send(msg)

    async def rts(self, request: RmrMessage, reply: RmrMessage) -> None:
        """``rmr_rts_msg`` reusing the request's buffer."""
        sbuf = request.extra.get("sbuf")
        if sbuf is None:
            raise SendError("rts needs a message received through this transport")
        sbuf = await asyncio.to_thread(self._rmr.rmr_rts_msg, self._ctx, sbuf, reply.payload, reply.mtype)
        state = self._rmr.rmr_get_state(sbuf)
        self._rmr.rmr_free_msg(sbuf)
        if state != self._rmr.RMR_OK:
            raise SendError(f"librmr rts failed with state {state}")
