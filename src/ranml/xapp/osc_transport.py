"""Adapter for the OSC ``ricxappframe`` RMR binding (needs ``librmr_si.so``; imported lazily).

Use it when an xApp must run on librmr itself: to take its route table from the OSC Route Manager
(which pushes to librmr's control port) or from a seed file, exactly as an OSC xApp does.
``ricxappframe`` is imported inside :meth:`OscRmrTransport.start` only, so importing this module
never needs the C library. The calls written against ``ricxappframe==3.2.2``'s API
(``ricxappframe.rmr.rmr``): the message state is read from the buffer (``sbuf.contents.state``);
there is no ``rmr_get_state``.

librmr is configured the way OSC deploys it, through its environment variables, read once by
``rmr_init``: ``RMR_SEED_RT`` (seed route table file), ``RMR_RTG_SVC`` (Route Manager: a port to
be pushed to, or ``host:port`` to request tables from), ``RMR_CTL_PORT`` and ``RMR_SRC_ID`` (the
name put in the source field). The constructor's arguments set them for this process when given;
left out, whatever the environment (a Helm chart) holds applies.

The C calls block, so receiving runs on one worker thread and sending on another (librmr allows
one receiver beside senders). A received buffer is kept for :meth:`OscRmrTransport.rts` (which
must reuse it) in a bounded window; buffers that fall out of the window are freed, and a reply to
one of those goes back through a wormhole to the request's source instead.
"""

from __future__ import annotations

import asyncio
import ctypes
import itertools
import logging
import os
import socket
import tempfile
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from ranml.errors import ConfigError, DependencyError
from ranml.protocols.rmr import RmrMessage, parse_route_table
from ranml.xapp.transport import SendError

__all__ = ["OscRmrTransport", "librmr_available"]

log = logging.getLogger("ranml.xapp.osc")

# librmr's public states (rmr.h); the binding exposes only some of them as names.
_RMR_OK, _RMR_ERR_RETRY, _RMR_ERR_TIMEOUT = 0, 10, 12
_RMRFL_MTCALL = 0x02
_XID_LEN = 32
_SEND_RETRIES = 50


def librmr_available() -> str | None:
    """``None`` when ``ricxappframe.rmr`` imports (librmr found), else the reason it does not."""
    try:
        import ricxappframe.rmr.rmr  # noqa: F401
    except (ImportError, OSError) as exc:
        return f"{type(exc).__name__}: {exc}"
    return None


class OscRmrTransport:
    """RMR through ``ricxappframe.rmr`` (librmr_si), behind the :class:`~ranml.xapp.transport.Transport` interface.

    Parameters
    ----------
    port
        RMR data port to listen on.
    max_size
        Largest payload ``rmr_init`` prepares buffers for.
    routes
        A static route table in the seed file format (``newrt|start`` … ``newrt|end``); checked,
        written to a file and given to librmr as ``RMR_SEED_RT``.
    seed_file
        An existing seed route table file (``RMR_SEED_RT``); not with ``routes``.
    rtg_svc
        ``RMR_RTG_SVC``: a port number (the Route Manager pushes tables there) or ``host:port``
        (librmr requests tables from the Route Manager). Left out with ``routes`` or ``seed_file``,
        it is set to ``-1``: the table comes from the file only.
    ctl_port
        ``RMR_CTL_PORT``: librmr's control port for Route Manager traffic (librmr's default 4561).
    src_id
        ``RMR_SRC_ID``: the host name librmr writes into the source field (default: the host name).
    ready_timeout_s
        How long :meth:`start` waits for librmr to have a route table.
    rts_window
        How many received buffers are kept for a later :meth:`rts`.
    """

    def __init__(self, port: int, max_size: int = 65536, *, routes: str | None = None,
                 seed_file: str | Path | None = None, rtg_svc: str | int | None = None, ctl_port: int | None = None,
                 src_id: str | None = None, ready_timeout_s: float = 10.0, rts_window: int = 1024) -> None:
        if routes is not None and seed_file is not None:
            raise ConfigError("OscRmrTransport: give routes or seed_file, not both")
        if routes is not None:
            parse_route_table(routes)  # a bad line is refused here, naming it, not ignored by librmr
        if rts_window < 1:
            raise ConfigError(f"OscRmrTransport rts_window={rts_window}: must be at least 1")
        self.port = port
        self.max_size = max_size
        self.routes = routes
        self.seed_file = Path(seed_file) if seed_file is not None else None
        self.rtg_svc = rtg_svc
        self.ctl_port = ctl_port
        self.src_id = src_id
        self.ready_timeout_s = ready_timeout_s
        self.rts_window = rts_window
        self.name = f"{src_id or os.environ.get('RMR_SRC_ID') or socket.gethostname()}:{port}"
        self.ready = False
        self._rmr: Any = None
        self._ctx: Any = None
        self._mt_call: Any = None
        self._held: OrderedDict[int, Any] = OrderedDict()
        self._ids = itertools.count(1)
        self._call_ids = itertools.cycle(range(2, 256))  # librmr reserves call ids 0 and 1
        self._wormholes: dict[str, int] = {}
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self._rx: ThreadPoolExecutor | None = None
        self._tx: ThreadPoolExecutor | None = None

    # -- life cycle ----------------------------------------------------------------------------

    def _environment(self) -> dict[str, str]:
        env: dict[str, str] = {}
        if self.routes is not None:
            self._tmp = tempfile.TemporaryDirectory(prefix="ranml-librmr-")
            seed = Path(self._tmp.name) / "seed.rt"
            seed.write_text(self.routes, encoding="utf-8")
            env["RMR_SEED_RT"] = str(seed)
        elif self.seed_file is not None:
            if not self.seed_file.is_file():
                raise ConfigError(f"OscRmrTransport seed_file={self.seed_file}: no such file")
            env["RMR_SEED_RT"] = str(self.seed_file)
        if self.rtg_svc is not None:
            env["RMR_RTG_SVC"] = str(self.rtg_svc)
        elif "RMR_SEED_RT" in env:
            env["RMR_RTG_SVC"] = "-1"  # librmr: the seed file only, no Route Manager to listen for or ask
        if self.ctl_port is not None:
            env["RMR_CTL_PORT"] = str(self.ctl_port)
        if self.src_id is not None:
            env["RMR_SRC_ID"] = self.src_id
        return env

    async def start(self) -> None:
        """Initialise librmr on ``port`` and wait until it has a route table."""
        reason = librmr_available()
        if reason is not None:
            raise DependencyError(f"the ricxappframe transport needs librmr_si.so ({reason}); "
                                  "use the default pure-Python RMR transport instead")
        from ricxappframe.rmr import rmr

        env = self._environment()
        if env:
            log.info("librmr environment for port %d: %s", self.port, env)
            os.environ.update(env)  # librmr reads its settings from the environment in rmr_init
        self._rmr = rmr
        self._rx = ThreadPoolExecutor(1, thread_name_prefix=f"librmr-rx-{self.port}")
        self._tx = ThreadPoolExecutor(1, thread_name_prefix=f"librmr-tx-{self.port}")
        self._ctx = await self._on(self._tx, rmr.rmr_init, str(self.port).encode(), self.max_size, _RMRFL_MTCALL)
        if not self._ctx:
            raise DependencyError(f"librmr rmr_init failed on port {self.port} (port taken?)")
        mt_call = rmr.rmr_c_lib.rmr_mt_call
        mt_call.restype = ctypes.POINTER(rmr.rmr_mbuf_t)
        mt_call.argtypes = [ctypes.c_void_p, ctypes.POINTER(rmr.rmr_mbuf_t), ctypes.c_int, ctypes.c_int]
        self._mt_call = mt_call
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.ready_timeout_s
        while loop.time() < deadline:
            if rmr.rmr_ready(self._ctx):
                self.ready = True
                return
            await asyncio.sleep(0.05)
        log.warning("librmr on port %d has no route table after %.0f s", self.port, self.ready_timeout_s)

    async def _on(self, pool: ThreadPoolExecutor | None, fn: Any, *args: Any) -> Any:
        if pool is None:
            raise SendError("the librmr transport is not started")
        return await asyncio.get_running_loop().run_in_executor(pool, fn, *args)

    async def close(self) -> None:
        """Free held buffers, close wormholes and the librmr context."""
        if self._ctx is None:
            return
        ctx, self._ctx = self._ctx, None
        if self._rx is not None:
            self._rx.shutdown(wait=True)  # a pending receive ends within its timeout
        for sbuf in self._held.values():
            self._rmr.rmr_free_msg(sbuf)
        self._held.clear()
        for whid in self._wormholes.values():
            self._rmr.rmr_wh_close(ctx, whid)
        self._wormholes.clear()
        if self._tx is not None:
            await asyncio.get_running_loop().run_in_executor(self._tx, self._rmr.rmr_close, ctx)
            self._tx.shutdown(wait=True)
        self._rx = self._tx = None
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    # -- buffers -------------------------------------------------------------------------------

    def _to_message(self, sbuf: Any) -> RmrMessage:
        c = sbuf.contents
        payload = ctypes.string_at(c.payload, c.len) if c.len > 0 else b""
        xid = ctypes.string_at(c.xaction, _XID_LEN).rstrip(b"\x00")
        meid = self._rmr.rmr_get_meid(sbuf) or b""
        src = self._rmr.get_src(sbuf)
        held = next(self._ids)
        self._held[held] = sbuf
        while len(self._held) > self.rts_window:
            _, old = self._held.popitem(last=False)
            self._rmr.rmr_free_msg(old)
        return RmrMessage(mtype=c.mtype, payload=payload, sub_id=c.sub_id, xid=xid, src=str(src or ""),
                          meid=meid.decode(errors="replace") if isinstance(meid, bytes) else str(meid),
                          extra={"librmr": held})

    def _fill(self, sbuf: Any, msg: RmrMessage, keep_meid: bool = False) -> Any:
        rmr = self._rmr
        if rmr.rmr_payload_size(sbuf) < len(msg.payload):
            sbuf = rmr.rmr_realloc_payload(sbuf, len(msg.payload), False)
        ctypes.memmove(sbuf.contents.payload, msg.payload, len(msg.payload))
        sbuf.contents.len = len(msg.payload)
        sbuf.contents.mtype = msg.mtype
        sbuf.contents.sub_id = msg.sub_id
        if msg.meid or not keep_meid:
            rmr.rmr_set_meid(sbuf, msg.meid.encode())
        if msg.xid:
            rmr.set_transaction_id(sbuf, msg.xid[:_XID_LEN].ljust(_XID_LEN, b"\x00"))
        elif not keep_meid:
            rmr.generate_and_set_transaction_id(sbuf)
        return sbuf

    def _alloc(self, msg: RmrMessage) -> Any:
        sbuf = self._rmr.rmr_alloc_msg(self._ctx, max(len(msg.payload), 1))
        return self._fill(sbuf, msg)

    def _retrying(self, send: Any, sbuf: Any) -> int:
        """Send with librmr's transient-failure retries; returns the final state (buffer freed)."""
        for _ in range(_SEND_RETRIES):
            sbuf = send(sbuf)
            if not sbuf:
                return -1
            if sbuf.contents.state != _RMR_ERR_RETRY:
                break
        state = int(sbuf.contents.state)
        self._rmr.rmr_free_msg(sbuf)
        return state

    # -- Transport -----------------------------------------------------------------------------

    async def receive(self, timeout: float | None = None) -> RmrMessage | None:
        """The next message (``rmr_torcv_msg`` on the receive thread), or ``None`` after ``timeout``."""
        if self._ctx is None:
            return None
        ms = 1000 if timeout is None else max(1, int(timeout * 1000))
        sbuf = await self._on(self._rx, self._rmr.rmr_torcv_msg, self._ctx, None, ms)
        if not sbuf:  # librmr returns no buffer when the wait timed out with nothing queued
            return None
        state = int(sbuf.contents.state)
        if state != _RMR_OK:
            if state != _RMR_ERR_TIMEOUT:
                log.warning("librmr receive on port %d: state %d", self.port, state)
            self._rmr.rmr_free_msg(sbuf)
            return None
        return self._to_message(sbuf)

    async def send(self, msg: RmrMessage) -> int:
        """``rmr_send_msg``: routed by librmr's table (mtype, sub_id)."""
        ctx = self._ctx

        def work() -> int:
            return self._retrying(lambda b: self._rmr.rmr_send_msg(ctx, b), self._alloc(msg))

        state = await self._on(self._tx, work)
        if state != _RMR_OK:
            raise SendError(f"librmr send of mtype {msg.mtype} failed with state {state}")
        return 1

    async def send_to(self, endpoint: str, msg: RmrMessage) -> None:
        """Send to ``host:port`` through a librmr wormhole (opened once per endpoint)."""
        ctx = self._ctx

        def work() -> int:
            whid = self._wormholes.get(endpoint)
            if whid is None:
                whid = int(self._rmr.rmr_wh_open(ctx, endpoint.encode()))
                if whid < 0:
                    raise SendError(f"librmr could not open a wormhole to {endpoint}")
                self._wormholes[endpoint] = whid
            return self._retrying(lambda b: self._rmr.rmr_wh_send_msg(ctx, whid, b), self._alloc(msg))

        state = await self._on(self._tx, work)
        if state != _RMR_OK:
            raise SendError(f"librmr wormhole send to {endpoint} failed with state {state}")

    async def rts(self, request: RmrMessage, reply: RmrMessage) -> None:
        """``rmr_rts_msg`` on the request's own buffer (its source, xid and meid kept unless set)."""
        held = request.extra.get("librmr")
        if not isinstance(held, int):
            raise SendError("rts needs a message received through this transport")
        sbuf = self._held.pop(held, None)
        if sbuf is None:  # fell out of the rts window: answer through a wormhole to the source
            log.info("rts to %s after its buffer was released: sending by wormhole", request.src)
            await self.send_to(request.src, RmrMessage(
                mtype=reply.mtype, payload=reply.payload, sub_id=reply.sub_id if reply.sub_id != -1 else request.sub_id,
                xid=reply.xid or request.xid, meid=reply.meid or request.meid))
            return
        ctx = self._ctx
        keep = RmrMessage(mtype=reply.mtype, payload=reply.payload,
                          sub_id=reply.sub_id if reply.sub_id != -1 else request.sub_id,
                          xid=reply.xid, meid=reply.meid)

        def work() -> int:
            return self._retrying(lambda b: self._rmr.rmr_rts_msg(ctx, b), self._fill(sbuf, keep, keep_meid=True))

        state = await self._on(self._tx, work)
        if state != _RMR_OK:
            raise SendError(f"librmr rts to {request.src} failed with state {state}")

    async def call(self, msg: RmrMessage, timeout: float = 1.0) -> RmrMessage:
        """``rmr_mt_call``: send by route and wait for the reply librmr matches to it."""
        ctx, call_id = self._ctx, next(self._call_ids)

        def work() -> Any:
            return self._mt_call(ctx, self._alloc(msg), call_id, max(1, int(timeout * 1000)))

        sbuf = await self._on(self._tx, work)
        if not sbuf:
            raise SendError(f"librmr call with mtype {msg.mtype} returned no buffer")
        state = int(sbuf.contents.state)
        if state != _RMR_OK:
            self._rmr.rmr_free_msg(sbuf)
            raise SendError(f"librmr call with mtype {msg.mtype} failed with state {state}")
        return self._to_message(sbuf)
