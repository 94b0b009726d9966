r"""Route tables from a Route Manager: RMR's control-port protocol (plain RMR messaging).

A private endpoint listens on the control port (default 4561). Table data arrives as mtype 20
(``RMRRM_TABLE_DATA``, newline-terminated records, possibly spread over several messages). In
*request mode* (``RMR_RTG_SVC=host:port``) the client also sends mtype 21 (``RMRRM_REQ_TABLE``,
payload ``"<src> ts=<unix seconds>\\n"`` plus a NUL) until data arrives, and acknowledges each
installed table with mtype 22 (``RMRRM_TABLE_STATE``, ``"OK <table-id> \\n"`` plus a NUL, or
``"ERR <table-id> <reason>\\n"``) by return-to-sender. Push mode sends no acks.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

from ranml.protocols.rmr.endpoint import RmrEndpoint, RmrSendError
from ranml.protocols.rmr.frame import RmrMessage
from ranml.protocols.rmr.routes import RouteError, parse_route_table

__all__ = ["RouteManagerClient"]

log = logging.getLogger("ranml.protocols.rmr")

TABLE_DATA, REQ_TABLE, TABLE_STATE = 20, 21, 22
_END_RECORDS = ("newrt", "updatert", "meid_map")


class RouteManagerClient:
    """Keep ``endpoint.routes`` up to date from a Route Manager.

    Parameters
    ----------
    endpoint
        The data endpoint whose route table is replaced when a table arrives.
    control_port
        Port of the private control endpoint.
    rtg_svc
        ``host:port`` of the Route Manager for request mode; ``None`` for push mode.
    request_every_s
        Seconds between table requests until the first data arrives (request mode).
    """

    def __init__(self, endpoint: RmrEndpoint, control_port: int = 4561, rtg_svc: str | None = None,
                 request_every_s: float = 5.0) -> None:
        self.endpoint = endpoint
        self.control = RmrEndpoint(control_port, name=endpoint.src.rsplit(":", 1)[0])
        self.rtg_svc = rtg_svc
        self.request_every_s = request_every_s
        self.tables_installed = 0
        self.errors: list[str] = []
        self._pending = ""
        self._got_data = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self) -> RouteManagerClient:
        """Listen on the control port (and start requesting tables in request mode)."""
        await self.control.start()
        self._tasks.append(asyncio.create_task(self._receive_loop()))
        if self.rtg_svc:
            self._tasks.append(asyncio.create_task(self._request_loop()))
        return self

    async def close(self) -> None:
        """Stop the control endpoint."""
        for task in self._tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self.control.close()

    async def _request_loop(self) -> None:
        assert self.rtg_svc is not None
        while not self._got_data.is_set():
            payload = f"{self.endpoint.src} ts={int(time.time())}\n".encode() + b"\x00"
            try:
                await self.control.send_to(self.rtg_svc, RmrMessage(mtype=REQ_TABLE, payload=payload, sub_id=0))
            except RmrSendError as exc:
                log.info("route manager %s not reachable yet: %s", self.rtg_svc, exc)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._got_data.wait(), self.request_every_s)

    async def _receive_loop(self) -> None:
        while True:
            msg = await self.control.receive()
            if msg is None or msg.mtype != TABLE_DATA:
                continue
            self._got_data.set()
            await self._feed(msg)

    async def _feed(self, msg: RmrMessage) -> None:
        self._pending += msg.payload.rstrip(b"\x00").decode("utf-8", errors="replace")
        lines = self._pending.split("\n")
        self._pending = lines.pop()  # an unterminated last line waits for the next message
        block: list[str] = []
        for line in lines:
            block.append(line)
            fields = [f.strip() for f in line.split("|")]
            if fields[0] in _END_RECORDS and len(fields) > 1 and fields[1] == "end":
                await self._install("\n".join(block) + "\n", msg)
                block = []
        self._pending = "\n".join(block) + ("\n" if block else "") + self._pending

    async def _install(self, text: str, msg: RmrMessage) -> None:
        table_id = "<id-missing>"
        for line in text.splitlines():
            fields = [f.strip() for f in line.split("|")]
            if fields[0] in ("newrt", "updatert") and len(fields) > 2 and fields[1] == "start" and fields[2]:
                table_id = fields[2]
        try:
            self.endpoint.routes = parse_route_table(text, self.endpoint.own_names, base=self.endpoint.routes)
            self.tables_installed += 1
            state = f"OK {table_id} \n"
        except RouteError as exc:
            self.errors.append(str(exc))
            log.warning("route table %s rejected: %s", table_id, exc)
            state = f"ERR {table_id} {exc}\n"
        if self.rtg_svc:  # acknowledgements only in request mode
            with contextlib.suppress(RmrSendError):
                await self.control.rts(msg, RmrMessage(mtype=TABLE_STATE, payload=state.encode() + b"\x00"))
