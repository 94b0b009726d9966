"""The xApp runner: owns the transport, the HTTP endpoints, subscriptions, the queue and signals.

Flow: a reader task moves messages from the transport into a bounded queue (at overload the
oldest are dropped and counted, so memory stays flat); a worker task dispatches them — health
checks, subscription and control replies, KPM indications (decoded into :class:`CellReport`
per cell), and the app's own handlers. A watchdog re-subscribes nodes whose reports stopped (a
node restart loses its subscriptions). SIGTERM/SIGINT: stop reading, drain the queue, delete the
subscriptions, run the lifespans' shutdown, exit 0.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import json
import logging
import time
from typing import Any, Literal

from pydantic import Field

from ranml.config import RanmlModel
from ranml.host.http import Text, TinyHttpServer
from ranml.host.tasks import cancel_and_wait
from ranml.protocols import e2ap
from ranml.protocols.e2sm import ActionDefinition, CccCodec, E2smError, KpmCodec, NrCgi
from ranml.protocols.e2sm.kpm import detect_version
from ranml.protocols.rmr import MTYPES, RmrMessage
from ranml.xapp.app import CellReport, KpmRequest, XApp
from ranml.xapp.context import Context, NodeInfo
from ranml.xapp.descriptor import build_descriptor
from ranml.xapp.features import FeatureStore
from ranml.xapp.metrics import XAppMetrics
from ranml.xapp.state import open_state_store
from ranml.xapp.subscriptions import E2Subscriptions, SubmgrClient, SubscriptionError, SubscriptionSpec
from ranml.xapp.transport import SendError, Transport

__all__ = ["RunnerSettings", "XAppRunner"]

log = logging.getLogger("ranml.xapp.runner")

HEALTH_REQ, HEALTH_RESP = MTYPES["RIC_HEALTH_CHECK_REQ"], MTYPES["RIC_HEALTH_CHECK_RESP"]
INDICATION = MTYPES["RIC_INDICATION"]
_SUB_REPLIES = {MTYPES["RIC_SUB_RESP"], MTYPES["RIC_SUB_FAILURE"], MTYPES["RIC_SUB_DEL_RESP"],
                MTYPES["RIC_ERROR_INDICATION"]}
_CONTROL_REPLIES = {MTYPES["RIC_CONTROL_ACK"], MTYPES["RIC_CONTROL_FAILURE"]}


class RunnerSettings(RanmlModel):
    """How the runner connects the app to the RIC (not the app's own config)."""

    http_port: int | None = Field(default=8080, ge=0, le=65535)
    http_host: str = "0.0.0.0"
    state: Literal["memory", "redis", "auto"] = "auto"
    e2mgr_url: str | None = None
    nodes: list[str] = Field(default_factory=list)
    kpm_version: Literal[2, 3] = 3
    queue_size: int = Field(default=10_000, ge=1)
    drain_timeout_s: float = Field(default=5.0, ge=0)
    stale_after_periods: float = Field(default=5.0, gt=0)
    feature_slots: int = Field(default=512, ge=8)
    subscribe_timeout_s: float = Field(default=2.0, gt=0)
    subscribe_retries: int = Field(default=5, ge=1)
    kpm_period_ms: int | None = Field(default=None, gt=0, description="override the app's KPM reporting period")
    submgr_url: str | None = Field(default=None, description="OSC subscription manager (REST mode), e.g. "
                                   "http://service-ricplt-submgr-http.ricplt:8088/ric/v1")
    client_host: str = Field(default="127.0.0.1", description="this xApp's host name for the subscription manager")


class XAppRunner:
    """Run ``app`` on ``transport``.

    Parameters
    ----------
    app
        The app definition.
    transport
        Where messages come from and go to.
    settings
        Runner settings (ports, state store, node discovery, queue size).
    config
        The app's config values (validated into ``app.config``).
    model
        An optional started model binding (see :mod:`ranml.xapp.model`), exposed as ``ctx.model``.
    """

    def __init__(self, app: XApp, transport: Transport, settings: RunnerSettings | None = None,
                 config: dict[str, Any] | None = None, model: Any = None) -> None:
        self.app = app
        self.transport = transport
        self.settings = settings or RunnerSettings()
        self.config_values = config
        self.model = model
        self.ctx: Context | None = None
        self.ready = False
        self.http: TinyHttpServer | None = None
        self._queue: collections.deque[RmrMessage] = collections.deque(maxlen=self.settings.queue_size)
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._lifespans = contextlib.AsyncExitStack()
        self._kpm = KpmCodec(self.settings.kpm_version)
        self._kpm_by_node: dict[str, KpmCodec] = {}  # the KPM version each node's reports turned out to use
        self._actions: dict[tuple[str, int, int], NrCgi | None] = {}
        self._rest: dict[int, tuple[str, dict[int, NrCgi | None]]] = {}  # XappEventInstanceId -> node, cells
        self._rest_ids: list[str] = []
        self._submgr: SubmgrClient | None = None
        self._reading = True
        self._busy = False
        self.latencies_us: collections.deque[float] = collections.deque(maxlen=100_000)
        self.handler_s = 0.0
        self.dropped = 0
        self.handled = 0
        self.ignored_at_stop = 0  # arrived after the stop signal, while the subscription deletes were in flight

    # -- lifecycle ----------------------------------------------------------------------------
    async def start(self) -> Context:
        """Open everything, discover nodes, subscribe, start dispatching; returns the context."""
        app, s = self.app, self.settings
        await self.transport.start()
        metrics = XAppMetrics(app.name)
        state = open_state_store(s.state, app.name)
        subs = E2Subscriptions(self.transport.send, app.requestor_id, s.subscribe_timeout_s, s.subscribe_retries,
                               stale_after=s.stale_after_periods)
        features = None
        if app.kpm:
            requests = self._kpm_requests()
            names = tuple(dict.fromkeys(m for r in requests for m in r.measurements))
            features = FeatureStore(names, requests[0].granularity_ms / 1000.0, s.feature_slots)
        self.ctx = Context(app, app.load_config(self.config_values), self.transport, state, metrics, subs,
                           logging.getLogger(f"ranml.xapp.{app.name}"), features, self.model)
        self._tasks.append(asyncio.create_task(self._read(), name="xapp-read"))
        self._tasks.append(asyncio.create_task(self._work(), name="xapp-work"))
        if s.http_port is not None:
            self.http = TinyHttpServer(self._http, s.http_port, s.http_host)
            await self.http.start()
        saved = state.get("a1_policies", {}) or {}
        self.ctx.policies = {int(t): dict(v) for t, v in saved.items() if int(t) in app.policy_types}
        for lifespan in app.lifespans:
            await self._lifespans.enter_async_context(lifespan(self.ctx))
        await self._query_policies()
        self.ctx.nodes = await self._discover()
        await self._subscribe_all()
        self._tasks.append(asyncio.create_task(self._watchdog(), name="xapp-watchdog"))
        self.ready = True
        log.info("%s %s ready: %d nodes, %d subscriptions", app.name, app.version, len(self.ctx.nodes),
                 len(subs.active))
        return self.ctx

    async def _query_policies(self) -> None:
        """Ask the A1 mediator for the instances of every policy type the app handles (20012)."""
        from ranml.xapp.a1 import policy_query

        for policy_type in sorted(self.app.policy_handlers):
            try:
                await self.transport.send(RmrMessage(MTYPES["A1_POLICY_QUERY"], policy_query(policy_type),
                                                     sub_id=policy_type))
            except SendError as exc:
                log.info("no A1 policy query for type %d (%s); policies arrive when created", policy_type, exc)

    async def stop(self) -> dict[str, Any]:
        """Drain, delete subscriptions, shut the lifespans down, close; returns final counters."""
        self.ready = False
        for task in self._tasks:
            if task.get_name() == "xapp-watchdog":
                task.cancel()  # no re-subscription may race the deletes below
        deadline = time.monotonic() + self.settings.drain_timeout_s
        quiet_since = time.monotonic()
        while time.monotonic() < deadline:  # drain: what arrived before the signal is still handled
            if self._queue or self._busy:
                quiet_since = time.monotonic()
            elif time.monotonic() - quiet_since > 0.2:
                break
            await asyncio.sleep(0.01)
        self._reading = False
        deleted = 0
        if self.ctx is not None:
            with contextlib.suppress(Exception):
                deleted = await self.ctx.subscriptions.delete_all()
            for sub_id in self._rest_ids if self._submgr is not None else []:
                try:
                    await self._submgr.delete(sub_id)  # type: ignore[union-attr]
                    deleted += 1
                except SubscriptionError as exc:
                    log.info("%s", exc)
        await cancel_and_wait(self._tasks)
        await self._lifespans.aclose()
        if self.http is not None:
            await self.http.close()
        await self.transport.close()
        log.info("%s stopped: %d handled, %d dropped, %d subscriptions deleted", self.app.name, self.handled,
                 self.dropped, deleted)
        return {"handled": self.handled, "dropped": self.dropped, "ignored_at_stop": self.ignored_at_stop,
                "subscriptions_deleted": deleted, **self.counters()}

    def counters(self) -> dict[str, Any]:
        """Message, control and model counters (in the stop summary and ``/ric/v1/status``)."""
        if self.ctx is None:
            return {}
        m, name = self.ctx.metrics, self.app.name
        out: dict[str, Any] = {
            "indications": int(m.value("ranml_xapp_messages_received_total", xapp=name, mtype=str(INDICATION))),
            "malformed": int(sum(m.value("ranml_xapp_messages_malformed_total", xapp=name, layer=layer)
                                 for layer in ("e2ap", "e2sm"))),
            "controls_ok": int(m.value("ranml_xapp_controls_total", xapp=name, outcome="ack")),
            "controls_failed": int(m.value("ranml_xapp_controls_total", xapp=name, outcome="failure")
                                   + m.value("ranml_xapp_controls_total", xapp=name, outcome="timeout")),
            "resubscribed": self.ctx.subscriptions.resubscribed,
            "deadline_misses": int(getattr(self.ctx.model, "misses", 0)),
            "model_version": getattr(self.ctx.model, "version", None),
            "model_swaps": [dict(x) for x in getattr(self.ctx.model, "swaps", [])],
            "canary_decisions": [{"action": d.action, "reason": d.reason}
                                 for d in getattr(self.ctx.model, "decisions", [])],
        }
        if self.latencies_us:
            lat = sorted(self.latencies_us)
            out["latency_p50_us"] = round(lat[len(lat) // 2], 1)
            out["latency_p99_us"] = round(lat[min(len(lat) - 1, int(0.99 * len(lat)))], 1)
        out["indication_handler_s"] = round(self.handler_s, 4)
        out.update(self.ctx.scratch.get("counters", {}))
        return out

    async def run(self, stop: asyncio.Event) -> dict[str, Any]:
        """Start, wait for ``stop``, stop."""
        await self.start()
        await stop.wait()
        return await self.stop()

    # -- nodes and subscriptions ----------------------------------------------------------------
    async def _discover(self) -> dict[str, NodeInfo]:
        s = self.settings
        nodes = {m: NodeInfo(m, functions={"kpm": 2, "rc": 3, "ccc": 4}) for m in s.nodes}
        if s.e2mgr_url:
            nodes.update(await self._from_e2mgr(s.e2mgr_url.rstrip("/")))
        return nodes

    async def _from_e2mgr(self, base: str) -> dict[str, NodeInfo]:
        """Nodes and their RAN functions/cells from the E2 manager REST API (``/v1/nodeb/...``)."""
        import httpx

        out: dict[str, NodeInfo] = {}
        async with httpx.AsyncClient(timeout=5.0) as client:
            states = (await client.get(f"{base}/v1/nodeb/states")).json()
            for entry in states:
                name = entry["inventoryName"]
                if entry.get("connectionStatus") not in (None, "CONNECTED"):
                    continue
                data = (await client.get(f"{base}/v1/nodeb/{name}")).json()
                functions: dict[str, int] = {}
                cells: list[NrCgi] = []
                for f in data.get("gnb", {}).get("ranFunctions", []):
                    oid = f.get("ranFunctionOid", "")
                    kind = ("kpm" if oid.endswith(".2.2.2") else "rc" if oid.endswith(".2.3")
                            else "ccc" if oid.endswith(".2.4") else None)
                    if kind:
                        functions[kind] = int(f["ranFunctionId"])
                    if kind == "ccc":
                        with contextlib.suppress(E2smError, ValueError):
                            cells = list(CccCodec().decode_ran_function(bytes.fromhex(f["ranFunctionDefinition"])))
                for c in data.get("gnb", {}).get("servedNrCells", []):
                    plmn, _, nci = c.get("servedNrCellInformation", {}).get("cellId", "").partition(":")
                    with contextlib.suppress(ValueError):
                        cgi = NrCgi(bytes.fromhex(plmn), int(nci, 16))
                        if cgi not in cells:
                            cells.append(cgi)
                plmn_hex = data.get("globalNbId", {}).get("plmnId", "00f110")
                out[name] = NodeInfo(name, tuple(cells), functions, bytes.fromhex(plmn_hex))
        return out

    async def _subscribe_rest(self, url: str) -> None:
        """Subscribe through the OSC subscription manager (REST mode).

        The E2 instance ids arrive later, in the manager's notification
        (``POST /ric/v1/subscriptions/response``).
        """
        assert self.ctx is not None
        http_port = self.http.port if self.http is not None else 8080
        rmr_port = int(self.transport.name.rpartition(":")[2]) if ":" in self.transport.name else 4560
        self._submgr = SubmgrClient(url, self.settings.client_host, http_port, rmr_port)
        for node in self.ctx.nodes.values():
            for spec, cells in self._specs(node):
                body = self._submgr.params(spec)
                event_id = body["SubscriptionDetails"][0]["XappEventInstanceId"]
                try:
                    self._rest_ids.append(await self._submgr.subscribe_params(body))
                except SubscriptionError as exc:
                    log.warning("%s", exc)
                    continue
                self._rest[event_id] = (node.meid, cells)

    def _rest_notification(self, body: bytes) -> tuple[int, Any]:
        """The subscription manager's answer: map E2 instance ids to the requested actions."""
        try:
            data = json.loads(body)
            instances = data.get("SubscriptionInstances") or []
        except (ValueError, AttributeError):
            return 400, {"error": "expected the subscription manager's JSON notification"}
        for inst in instances:
            known = self._rest.get(int(inst.get("XappEventInstanceId", -1)))
            if known is None or inst.get("ErrorCause"):
                log.warning("subscription notification not usable: %s", inst)
                continue
            meid, cells = known
            for action, cell in cells.items():
                self._actions[(meid, int(inst["E2EventInstanceId"]), action)] = cell
        return 200, {}

    def _kpm_requests(self) -> list[KpmRequest]:
        period = self.settings.kpm_period_ms
        if period is None:
            return list(self.app.kpm)
        return [KpmRequest(r.measurements, period, min(r.granularity_ms, period), r.per_cell) for r in self.app.kpm]

    def _specs(self, node: NodeInfo) -> list[tuple[SubscriptionSpec, dict[int, NrCgi | None]]]:
        out = []
        for req in self._kpm_requests():
            cells: list[NrCgi | None] = list(node.cells) if req.per_cell and node.cells else [None]
            actions = tuple((i + 1, self._kpm.encode_action_definition(
                ActionDefinition(req.measurements, req.granularity_ms, cell=c))) for i, c in enumerate(cells))
            spec = SubscriptionSpec(node.meid, node.functions.get("kpm", 2), self._kpm.encode_event_trigger(
                req.period_ms), actions, req.period_ms / 1000.0)
            out.append((spec, {i + 1: c for i, c in enumerate(cells)}))
        return out

    async def _subscribe_all(self) -> None:
        """Subscribe every node concurrently (a slow or absent node does not delay the others)."""
        assert self.ctx is not None
        ctx = self.ctx
        if self.settings.submgr_url:
            await self._subscribe_rest(self.settings.submgr_url)
            return

        async def one(node: NodeInfo, spec: SubscriptionSpec, cells: dict[int, NrCgi | None]) -> None:
            try:
                sub = await ctx.subscriptions.subscribe(spec)
            except SubscriptionError as exc:
                log.warning("%s", exc)
                return
            for action, cell in cells.items():
                self._actions[(node.meid, sub.instance_id, action)] = cell

        await asyncio.gather(*(one(node, spec, cells) for node in ctx.nodes.values()
                               for spec, cells in self._specs(node)))
        ctx.metrics.subscriptions.set(len(ctx.subscriptions.active))

    async def _watchdog(self) -> None:
        assert self.ctx is not None
        while True:
            await asyncio.sleep(0.5)
            for meid in self.ctx.subscriptions.stale_nodes():
                log.warning("%s: reports stopped; re-subscribing (node restart?)", meid)
                await self.ctx.subscriptions.resubscribe_node(meid)

    # -- the message path -------------------------------------------------------------------------
    async def _read(self) -> None:
        while True:
            msg = await self.transport.receive(timeout=0.2)
            if msg is None:
                continue
            if msg.mtype in _SUB_REPLIES or msg.mtype in _CONTROL_REPLIES:
                self._reply(msg)  # answers to requests a handler may be awaiting: never queued behind it
                continue
            if not self._reading:
                # Shut down: nothing new is handled, but it was received (the node keeps reporting
                # until our subscription delete reaches it), so it is counted as such.
                self.ignored_at_stop += 1
                if self.ctx is not None:
                    self.ctx.metrics.count_received(msg.mtype)
                continue
            if len(self._queue) == self._queue.maxlen:
                self.dropped += 1  # the deque drops the oldest on append
                if self.ctx is not None:
                    self.ctx.metrics.dropped.inc()
            msg.extra["t_in"] = time.perf_counter()
            self._queue.append(msg)
            self._wake.set()

    def _reply(self, msg: RmrMessage) -> None:
        ctx = self.ctx
        if ctx is None:
            return
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

    async def _work(self) -> None:
        assert self.ctx is not None
        ctx = self.ctx
        while True:
            if not self._queue:
                self._wake.clear()
                await self._wake.wait()
                continue
            msg = self._queue.popleft()
            ctx.metrics.queue_depth.set(len(self._queue))
            ctx.metrics.count_received(msg.mtype)
            self._busy = True
            try:
                await self._dispatch(ctx, msg)
            except Exception:  # one bad message or handler bug never stops the app
                ctx.metrics.handler_errors.inc()
                log.exception("handler for message type %d failed", msg.mtype)
            finally:
                self._busy = False
            self.handled += 1
            t_in = msg.extra.get("t_in")
            if isinstance(t_in, float):
                spent = time.perf_counter() - t_in
                ctx.metrics.latency.observe(spent)
                if msg.mtype == INDICATION:
                    self.latencies_us.append(spent * 1e6)
                    self.handler_s += spent

    async def _dispatch(self, ctx: Context, msg: RmrMessage) -> None:
        mtype = msg.mtype
        if mtype == HEALTH_REQ:
            await self.transport.rts(msg, RmrMessage(HEALTH_RESP, b"OK\n"))
            return
        if mtype == INDICATION:
            await self._indication(ctx, msg)
            return
        handler = self.app.handlers.get(mtype) or self.app.default_handler
        if handler is None:
            ctx.metrics.unhandled.inc()
            log.debug("no handler for message type %d", mtype)
            return
        await handler(ctx, msg)

    async def _indication(self, ctx: Context, msg: RmrMessage) -> None:
        try:
            ind = e2ap.decode(msg.payload)
        except e2ap.E2apError:
            ctx.metrics.count_malformed("e2ap")
            return
        if not isinstance(ind, e2ap.Indication):
            ctx.metrics.count_malformed("e2ap")
            return
        ctx.subscriptions.on_report(ind.instance_id)
        key = (msg.meid, ind.instance_id, ind.action_id)
        if key not in self._actions:
            sub = ctx.subscriptions.active.get(ind.instance_id)
            if sub is None or sub.spec.meid != msg.meid:
                log.debug("indication for unknown subscription %s", key)
                return
            self._actions[key] = None
        try:
            kpm = self._kpm_of(msg.meid, ind.header)
            header = kpm.decode_indication_header(ind.header)
            body = kpm.decode_indication_message(ind.message)
        except E2smError:
            ctx.metrics.count_malformed("e2sm")
            return
        gran = (body.granularity_ms or 0) / 1000.0
        report = CellReport(msg.meid, self._actions[key], header.collect_start, gran, body.measurements, body.records,
                            time.time())
        for handler in self.app.report_handlers:
            await handler(ctx, report)

    def _kpm_of(self, meid: str, header: bytes) -> KpmCodec:
        """The KPM codec for ``meid``: the configured version, or the other one if its first header says so."""
        codec = self._kpm_by_node.get(meid)
        if codec is None:
            version = detect_version(header, self.settings.kpm_version)
            if version != self.settings.kpm_version:
                log.info("%s reports in E2SM-KPM v%d (configured v%d): decoding its reports as v%d", meid, version,
                         self.settings.kpm_version, version)
            codec = self._kpm if version == self._kpm.version else KpmCodec(version)
            self._kpm_by_node[meid] = codec
        return codec

    # -- HTTP -----------------------------------------------------------------------------------
    def _http(self, method: str, path: str, body: bytes) -> tuple[int, Any]:
        ctx = self.ctx
        if path == "/ric/v1/health/alive":
            return 200, {"status": "alive"}
        if path == "/ric/v1/health/ready":
            return (200, {"status": "ready"}) if self.ready else (503, {"status": "not ready"})
        if path == "/ric/v1/config":
            descriptor = build_descriptor(self.app)
            if ctx is not None:
                config = ctx.config.model_dump(mode="json") if hasattr(ctx.config, "model_dump") else ctx.config
                descriptor["controls"] = config
            return 200, [{"metadata": {"xappName": self.app.name, "configType": "json"}, "config": descriptor}]
        if path == "/metrics" and ctx is not None:
            ctx.metrics.sync_model(ctx.model)
            return 200, Text(ctx.metrics.render(), "text/plain; version=0.0.4; charset=utf-8")
        if path == "/ric/v1/subscriptions/response" and method == "POST":
            return self._rest_notification(body)
        if path == "/ric/v1/status" and ctx is not None:
            return 200, {"ready": self.ready, "handled": self.handled, "dropped": self.dropped,
                         "subscriptions": len(ctx.subscriptions.active), "nodes": sorted(ctx.nodes),
                         "queue": len(self._queue),
                         "policies": {str(t): sorted(v) for t, v in ctx.policies.items()}, **self.counters()}
        return 404, {"error": f"unknown path {path}"}

