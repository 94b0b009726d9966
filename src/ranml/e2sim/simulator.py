"""The e2sim runtime: network + E2 nodes + RMR endpoint + fault injection + ground-truth API.

Without a real E2 Termination, e2sim plays the E2 node, the E2 termination and the subscription
manager on the RMR side: xApps send it E2AP subscription requests (12010), deletes (12020) and
control requests (12040) with the node's RAN name as MEID, and receive responses by
return-to-sender and RIC indications (12050) by route (``mtype 12050`` + subscription id) or, when
no route exists, at the subscriber's address. Each node sends an E2 Setup Request (12001) at
start and after a restart when the route table has a route for 12001 (to the E2 manager or a
test peer); otherwise the setup is accepted internally.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

from ranml.e2sim.a1mediator import A1Mediator
from ranml.e2sim.faults import FaultInjector
from ranml.e2sim.layout import auto_neighbours, build_layout, build_network
from ranml.e2sim.network import Network
from ranml.e2sim.node import E2Node
from ranml.e2sim.scenario import Scenario, seconds
from ranml.host import TinyHttpServer, on_stop_signals
from ranml.protocols import e2ap
from ranml.protocols.e2sm import enumerated_ue_id, plmn_from_text
from ranml.protocols.rmr import (
    MTYPES,
    RmrEndpoint,
    RmrMessage,
    RmrSendError,
    RouteTable,
    parse_route_table,
    seed_route_table,
)

__all__ = ["Simulator", "auto_neighbours"]

log = logging.getLogger("ranml.e2sim")

SETUP_REQ, SETUP_RESP, SETUP_FAIL = MTYPES["RIC_E2_SETUP_REQ"], MTYPES["RIC_E2_SETUP_RESP"], MTYPES[
    "RIC_E2_SETUP_FAILURE"]
SUB_REQ, SUB_RESP, SUB_FAIL = MTYPES["RIC_SUB_REQ"], MTYPES["RIC_SUB_RESP"], MTYPES["RIC_SUB_FAILURE"]
DEL_REQ, DEL_RESP = MTYPES["RIC_SUB_DEL_REQ"], MTYPES["RIC_SUB_DEL_RESP"]
CTRL_REQ, CTRL_ACK, CTRL_FAIL = MTYPES["RIC_CONTROL_REQ"], MTYPES["RIC_CONTROL_ACK"], MTYPES["RIC_CONTROL_FAILURE"]
INDICATION, ERROR_IND = MTYPES["RIC_INDICATION"], MTYPES["RIC_ERROR_INDICATION"]
_EXPECTED = {SUB_REQ: e2ap.SubscriptionRequest, DEL_REQ: e2ap.SubscriptionDeleteRequest,
             CTRL_REQ: e2ap.ControlRequest, SETUP_RESP: e2ap.E2SetupResponse, SETUP_FAIL: e2ap.E2SetupFailure}


class Simulator:
    """Run a scenario in simulated time over RMR.

    Parameters
    ----------
    scenario
        The validated scenario.
    speed, duration_s, state_port, rmr_port
        Overrides of the scenario's values (``state_port`` 0 picks a free port).
    routes
        Route-table text; default: the scenario's, else the file named by ``RMR_SEED_RT``.
    hold_s
        Keep the clock at 0 until the first subscription is admitted (at most this many real
        seconds), so an xApp started after e2sim sees the whole scenario.
    """

    def __init__(self, scenario: Scenario, *, speed: float | None = None, duration_s: float | None = None,
                 state_port: int | None = None, rmr_port: int | None = None, routes: str | None = None,
                 hold_s: float = 0.0, a1_port: int | None = None, http_host: str = "127.0.0.1") -> None:
        self.scenario = scenario
        self.a1_port, self.http_host = a1_port, http_host
        self.speed = speed or scenario.speed
        self.duration_s = duration_s if duration_s is not None else seconds(scenario.duration)
        self.tick_s = seconds(scenario.tick)
        self.state_port = state_port if state_port is not None else scenario.state_port
        self.rmr_port = rmr_port if rmr_port is not None else scenario.rmr.port
        self._routes_text = routes
        self.hold_s = hold_s
        self.epoch_s = pd.Timestamp(scenario.start).timestamp()
        self.nodes: dict[str, E2Node] = {}
        self.network: Network | None = None
        self.endpoint: RmrEndpoint | None = None
        self.http: TinyHttpServer | None = None
        self.a1: A1Mediator | None = None
        self.a1_http: TinyHttpServer | None = None
        self._peers: set[str] = set()
        self.faults = FaultInjector(list(scenario.faults))
        self.counters = {"malformed_e2ap": 0, "unknown_mtypes": 0, "unknown_meid": 0, "send_errors": 0,
                         "dropped_while_disconnected": 0, "indications_sent": 0, "report_errors": 0}
        self._stop = asyncio.Event()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._setup_events: dict[str, asyncio.Event] = {}
        self._wall_start = 0.0
        self._wall_end: float | None = None

    # -- lifecycle ----------------------------------------------------------------------------
    def _build(self) -> None:
        layout = build_layout(self.scenario)
        self.network = build_network(self.scenario, layout)
        plmn = plmn_from_text(self.scenario.plmn)
        cgis = {cgi: i for i, cgi in enumerate(layout.cgis)}
        for spec, idx in zip(self.scenario.all_nodes(), layout.node_cells, strict=True):
            self.nodes[spec.name] = E2Node(spec, idx, self.network, plmn, cgis, self.scenario.kpm_version)
            self._setup_events[spec.name] = asyncio.Event()

    def _route_table(self, own: set[str]) -> RouteTable:
        text = self._routes_text or self.scenario.rmr.routes
        if text is None and self.scenario.rmr.routes_file:
            text = Path(self.scenario.rmr.routes_file).read_text(encoding="utf-8")
        return parse_route_table(text, own) if text else seed_route_table(own)

    async def start(self) -> None:
        """Build the network, listen on RMR (and HTTP), send the E2 Setups."""
        self._build()
        self.endpoint = RmrEndpoint(self.rmr_port, name=self.scenario.rmr.name)
        self.endpoint.routes = self._route_table(self.endpoint.own_names)
        await self.endpoint.start()
        if self.state_port is not None:
            self.http = TinyHttpServer(self._http, self.state_port, self.http_host)
            self.state_port = await self.http.start()
        if self.a1_port is not None:
            self.a1 = A1Mediator(self.endpoint.send, self.endpoint.send_to, lambda: set(self._peers))
            self.a1_http = TinyHttpServer(self.a1.http, self.a1_port, self.http_host)
            self.a1_port = await self.a1_http.start()
        self._spawn(self._receive_loop())
        for node in self.nodes.values():
            self._spawn(self._setup(node))
        self._wall_start = time.monotonic()
        log.info("e2sim %s: %d nodes, %d cells, speed %gx, duration %gs", self.scenario.name, len(self.nodes),
                 len(self.network.cells) if self.network else 0, self.speed, self.duration_s)

    def stop(self) -> None:
        """Ask :meth:`run` to return at the next tick."""
        self._stop.set()

    async def close(self) -> None:
        """Stop background work and close the sockets."""
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if self.http is not None:
            await self.http.close()
        if self.a1_http is not None:
            await self.a1_http.close()
        if self.endpoint is not None:
            await self.endpoint.close()

    def _spawn(self, coro: Any) -> None:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- the clock ----------------------------------------------------------------------------
    async def run(self) -> dict[str, Any]:
        """Advance simulated time at ``speed`` until ``duration`` or :meth:`stop`; return the summary."""
        assert self.network is not None, "call start() first"
        net, tick = self.network, self.tick_s
        held = time.monotonic() + self.hold_s
        while self.hold_s > 0 and time.monotonic() < held and not self._stop.is_set() and not any(
                n.subscriptions for n in self.nodes.values()):
            await asyncio.sleep(0.02)
        wall0 = self._wall_start = time.monotonic()
        while not self._stop.is_set() and net.time_s < self.duration_s - 1e-9:
            target = (time.monotonic() - wall0) * self.speed
            batch = 0
            while net.time_s + tick <= target + 1e-9 and net.time_s < self.duration_s - 1e-9 and batch < 2000:
                before = net.time_s
                net.step(tick)
                await self._transitions(before, net.time_s)
                for node in self.nodes.values():
                    if node.up:
                        await self._report(node)
                batch += 1
            wait = wall0 + (net.time_s + tick) / self.speed - time.monotonic()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), max(0.0, min(wait, 0.05)))
        self._wall_end = time.monotonic()
        return self.summary()

    async def _report(self, node: E2Node) -> None:
        assert self.network is not None
        try:
            due = node.reports(self.network.time_s, self.epoch_s)
        except Exception:  # a reporting bug must not stop the clock; it is counted and logged
            self.counters["report_errors"] += 1
            log.exception("%s: building indications failed", node.name)
            return
        for sub, ind in due:
            await self._indication(node, sub.reply_to, ind)

    async def _transitions(self, t0: float, t1: float) -> None:
        for tr in self.faults.transitions(t0, t1):
            targets = [self.nodes[tr.fault.node]] if tr.fault.node else list(self.nodes.values())
            if tr.fault.kind == "disconnect" and tr.starting and self.endpoint is not None:
                log.warning("fault: disconnect (%d connections closed)", self.endpoint.drop_connections())
            elif tr.fault.kind == "restart":
                for node in targets:
                    if tr.starting:
                        log.warning("fault: node %s restarting (subscriptions lost)", node.name)
                        node.restart()
                        self._setup_events[node.name].clear()
                    else:
                        node.up = True
                        log.warning("fault: node %s back up", node.name)
                        self._spawn(self._setup(node))

    # -- sending ------------------------------------------------------------------------------
    async def _emit(self, msg: RmrMessage, *, request: RmrMessage | None = None, to: str | None = None) -> None:
        assert self.endpoint is not None and self.network is not None
        out = self.faults.outgoing(self.network.time_s, msg.payload)
        for payload in out.payloads:
            copy = RmrMessage(msg.mtype, payload, msg.sub_id, meid=msg.meid)
            if out.delay_s > 0:
                self._spawn(self._later(out.delay_s, copy, request, to))
            else:
                await self._send(copy, request, to)

    async def _later(self, delay: float, msg: RmrMessage, request: RmrMessage | None, to: str | None) -> None:
        await asyncio.sleep(delay)
        await self._send(msg, request, to)

    async def _send(self, msg: RmrMessage, request: RmrMessage | None, to: str | None) -> None:
        assert self.endpoint is not None
        try:
            if request is not None:
                await self.endpoint.rts(request, msg)
            elif to is not None:
                await self.endpoint.send_to(to, msg)
            else:
                await self.endpoint.send(msg)
        except (RmrSendError, ConnectionError, OSError) as exc:
            self.counters["send_errors"] += 1
            log.debug("send of mtype %d failed: %s", msg.mtype, exc)

    async def _indication(self, node: E2Node, reply_to: str, ind: e2ap.Indication) -> None:
        assert self.endpoint is not None
        msg = RmrMessage(INDICATION, e2ap.encode(ind), ind.instance_id, meid=node.name)
        routed = self.endpoint.routes.has_route(INDICATION, ind.instance_id, node.name)
        to = None if routed else reply_to
        self.counters["indications_sent"] += 1
        await self._emit(msg, to=to)

    async def _setup(self, node: E2Node) -> None:
        assert self.endpoint is not None
        if not self.endpoint.routes.has_route(SETUP_REQ, -1, node.name):
            node.counters.setups += 1
            node.setup_done = True
            log.info("%s: no route for E2 Setup (12001); accepted internally", node.name)
            return
        event = self._setup_events[node.name]
        for attempt in range(10):
            await self._emit(RmrMessage(SETUP_REQ, e2ap.encode(node.setup_request()), meid=node.name))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(event.wait(), min(0.5 * 2**attempt, 5.0))
                return
        log.warning("%s: no E2 Setup response after 10 attempts", node.name)

    # -- receiving ----------------------------------------------------------------------------
    async def _receive_loop(self) -> None:
        assert self.endpoint is not None and self.network is not None
        while True:
            msg = await self.endpoint.receive()
            if msg is None:
                continue
            if msg.src and msg.src not in self.endpoint.own_names:
                self._peers.add(msg.src)
            if self.a1 is not None and await self.a1.handle_rmr(msg):
                continue
            if self.faults.disconnected(self.network.time_s):
                self.counters["dropped_while_disconnected"] += 1
                continue
            try:
                await self._handle(msg)
            except Exception:  # one bad message must never stop the simulator
                log.exception("error while handling mtype %d", msg.mtype)

    async def _handle(self, msg: RmrMessage) -> None:
        assert self.network is not None
        expected = _EXPECTED.get(msg.mtype)
        if expected is None:
            self.counters["unknown_mtypes"] += 1
            log.info("ignoring message type %d from %s", msg.mtype, msg.src)
            return
        try:
            m = e2ap.decode(msg.payload)
        except e2ap.E2apError as exc:
            self.counters["malformed_e2ap"] += 1
            log.info("malformed E2AP in mtype %d from %s: %s", msg.mtype, msg.src, exc)
            return
        if not isinstance(m, expected):
            self.counters["malformed_e2ap"] += 1
            log.info("mtype %d carries %s, expected %s", msg.mtype, type(m).__name__, expected.__name__)
            return
        node = self.nodes.get(msg.meid)
        if node is None:
            self.counters["unknown_meid"] += 1
            log.info("mtype %d for unknown RAN name %r (nodes: %s)", msg.mtype, msg.meid, sorted(self.nodes))
            if isinstance(m, e2ap.SubscriptionRequest | e2ap.ControlRequest):
                fail: e2ap.Message = (e2ap.SubscriptionFailure if isinstance(m, e2ap.SubscriptionRequest)
                                      else e2ap.ControlFailure)(m.requestor_id, m.instance_id, m.ran_function_id,
                                                               ("ricRequest", "ran-function-id-invalid"))
                mtype = SUB_FAIL if isinstance(m, e2ap.SubscriptionRequest) else CTRL_FAIL
                await self._emit(RmrMessage(mtype, e2ap.encode(fail), m.instance_id), request=msg)
            return
        if isinstance(m, e2ap.E2SetupResponse):
            node.setup_done = True
            self._setup_events[node.name].set()
            log.info("%s: E2 Setup accepted (%d RAN functions)", node.name, len(m.accepted))
        elif isinstance(m, e2ap.E2SetupFailure):
            log.warning("%s: E2 Setup refused: %s", node.name, m.cause)
        elif isinstance(m, e2ap.SubscriptionRequest):
            reply = node.subscribe(m, msg.src, self.network.time_s, self.tick_s)
            mtype = SUB_RESP if isinstance(reply, e2ap.SubscriptionResponse) else SUB_FAIL
            await self._emit(RmrMessage(mtype, e2ap.encode(reply), m.instance_id, meid=node.name), request=msg)
        elif isinstance(m, e2ap.SubscriptionDeleteRequest):
            answer = node.delete(m)
            mtype = DEL_RESP if isinstance(answer, e2ap.SubscriptionDeleteResponse) else ERROR_IND
            await self._emit(RmrMessage(mtype, e2ap.encode(answer), m.instance_id, meid=node.name), request=msg)
        elif isinstance(m, e2ap.ControlRequest):
            result = node.control(m)
            if isinstance(result, e2ap.ControlFailure) or m.ack_requested:
                mtype = CTRL_ACK if isinstance(result, e2ap.ControlAck) else CTRL_FAIL
                await self._emit(RmrMessage(mtype, e2ap.encode(result), m.instance_id, meid=node.name), request=msg)

    # -- ground truth -------------------------------------------------------------------------
    def state(self) -> dict[str, Any]:
        """Per-cell state, per-node E2 state and totals (JSON-ready)."""
        net = self.network
        assert net is not None
        cells = []
        for node in self.nodes.values():
            for c in node.cells:
                cell = net.cell_state(c)
                cgi = node.cell_cgi(c)
                cells.append({**cell, "node": node.name, "nr_cell_id": cgi.cell_id, "plmn": cgi.plmn.hex(),
                              "ue_ids": [enumerated_ue_id(cgi, k) for k in range(min(int(net.ues[c]), 8))]})
        sim_time = pd.Timestamp(self.epoch_s + net.time_s, unit="s").isoformat()
        return {"scenario": self.scenario.name, "sim_time": sim_time, "simulated_s": net.time_s,
                "speed": self.speed, "cells": cells, "nodes": [n.state() for n in self.nodes.values()],
                "totals": net.totals()}

    def summary(self) -> dict[str, Any]:
        """The state plus E2, RMR and fault counters and the achieved speed."""
        out = self.state()
        wall = (self._wall_end or time.monotonic()) - self._wall_start
        out["wall_s"] = round(wall, 3)
        out["speed_achieved"] = round(out["simulated_s"] / wall, 1) if wall > 0 else None
        e2 = dict(self.counters)
        for node in self.nodes.values():
            for key, value in node.counters.__dict__.items():
                e2[key] = e2.get(key, 0) + value
        out["e2"] = e2
        out["faults"] = self.faults.counters()
        if self.a1 is not None:
            out["a1"] = dict(self.a1.counters)
        if self.endpoint is not None:
            out["rmr"] = {k: v for k, v in self.endpoint.stats.__dict__.items() if isinstance(v, int)}
        return out

    def _http(self, method: str, path: str, body: bytes) -> tuple[int, Any]:
        if method != "GET":
            return 405, {"error": f"{method} not allowed; the ground-truth API is read-only"}
        if path in ("/", "/state"):
            return 200, self.state()
        if path == "/totals":
            assert self.network is not None
            return 200, self.network.totals()
        if path == "/healthz":
            return 200, {"ok": True}
        if path == "/summary":
            return 200, self.summary()
        if path == "/v1/nodeb/states":
            return 200, [{"inventoryName": n.name, "connectionStatus": "CONNECTED" if n.up else "DISCONNECTED",
                          "globalNbId": {"plmnId": n.plmn.hex(), "nbId": f"{n.spec.gnb_id:022b}"}}
                         for n in self.nodes.values()]
        if path.startswith("/future/"):
            return self._future(path)
        if path.startswith("/v1/nodeb/"):
            node = self.nodes.get(path.rsplit("/", 1)[1])
            if node is None:
                return 404, {"error": f"unknown RAN name; nodes are {sorted(self.nodes)}"}
            return 200, self._nodeb(node)
        return 404, {"error": f"unknown path {path}; try /state, /totals, /summary, /future/<start>/<period>/<steps>, "
                             f"/v1/nodeb/<ran name>"}

    def _future(self, path: str) -> tuple[int, Any]:
        """``/future/<start epoch s>/<period s>/<steps>``: each cell's true demand per period (the oracle's input)."""
        net = self.network
        assert net is not None
        try:
            start, period, steps = (float(p) for p in path.split("/")[2:5])
        except ValueError:
            return 400, {"error": "use /future/<start, seconds since the epoch>/<period seconds>/<steps>"}
        if not (0 < period <= 86400 and 1 <= steps <= 288 and steps == int(steps)):
            return 400, {"error": "period must be in (0, 86400] seconds and steps in 1..288"}
        try:
            demand = net.demand(start - self.epoch_s, period, int(steps))
        except ValueError as exc:
            return 400, {"error": str(exc)}
        keys = [node.cell_cgi(c).text() for node in self.nodes.values() for c in node.cells]
        index = [c for node in self.nodes.values() for c in node.cells]
        return 200, {"start": start, "period_s": period, "now": self.epoch_s + net.time_s,
                     "cells": {k: demand[:, i].round(5).tolist() for k, i in zip(keys, index, strict=True)}}

    def _nodeb(self, node: E2Node) -> dict[str, Any]:
        """E2 manager style node view (its RAN function definitions as hex)."""
        return {"ranName": node.name, "connectionStatus": "CONNECTED" if node.up else "DISCONNECTED",
                "globalNbId": {"plmnId": node.plmn.hex(), "nbId": f"{node.spec.gnb_id:022b}"},
                "gnb": {"ranFunctions": [{"ranFunctionId": fid, "ranFunctionDefinition": d.hex(),
                                          "ranFunctionRevision": rev, "ranFunctionOid": oid}
                                         for fid, d, rev, oid in node.ran_functions()],
                        "servedNrCells": [{"servedNrCellInformation": {
                            "cellId": f"{node.plmn.hex()}:{node.cell_cgi(c).cell_id:09x}",
                            "cellName": self.network.cells[c].name if self.network else ""}}
                            for c in node.cells]}}

    async def serve(self, summary_path: str | Path | None = None,
                    on_started: Callable[[Simulator], None] | None = None) -> dict[str, Any]:
        """Start, run until the scenario ends or SIGTERM/SIGINT, write the summary, close; returns the summary."""
        async with on_stop_signals(self.stop):
            await self.start()
            if on_started is not None:
                on_started(self)
            try:
                summary = await self.run()
                if summary_path is not None:
                    self.write_summary(summary_path)
            finally:
                await self.close()
        return summary

    def write_summary(self, path: str | Path) -> None:
        """Write :meth:`summary` as JSON (atomically)."""
        path = Path(path)
        tmp = path.with_suffix(path.suffix + ".tmp")
        tmp.write_text(json.dumps(self.summary(), indent=2), encoding="utf-8")
        tmp.replace(path)
