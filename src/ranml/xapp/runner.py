"""The xApp runner: composes the transport, the message path, subscriptions, state, HTTP and the app's lifespan.

Each job lives in its own module: :mod:`~ranml.xapp.dispatch` (bounded queue, reader and worker),
:mod:`~ranml.xapp.indications` (KPM indications decoded into :class:`~ranml.xapp.app.CellReport`),
:mod:`~ranml.xapp.discovery` (E2 nodes), :mod:`~ranml.xapp.subscriptions` (direct E2 subscriptions
and the stale-node watchdog), :mod:`~ranml.xapp.rest_subscriptions` (subscription-manager REST
mode) and :mod:`~ranml.xapp.routes` (HTTP). Stop: stop re-subscribing, drain what arrived before
the signal, delete the subscriptions, run the lifespan's shutdown, close.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any, Generic, Literal

from pydantic import Field

from ranml.config import RanmlModel
from ranml.host import TinyHttpServer, cancel_and_wait
from ranml.protocols.rmr import MTYPES, RmrMessage
from ranml.xapp.a1 import policy_query
from ranml.xapp.app import KpmRequest, XApp
from ranml.xapp.context import ConfigT, Context, NodeInfo, StateT
from ranml.xapp.discovery import discover_nodes
from ranml.xapp.dispatch import INDICATION, Dispatcher
from ranml.xapp.features import FeatureStore
from ranml.xapp.forecast import Forecaster
from ranml.xapp.indications import IndicationDecoder, MalformedIndicationError
from ranml.xapp.metrics import XAppMetrics
from ranml.xapp.rest_subscriptions import RestSubscriptions
from ranml.xapp.routes import XAppEndpoints
from ranml.xapp.state import open_state_store
from ranml.xapp.subscriptions import E2Subscriptions, SubscriptionError, SubscriptionSpec, watch_stale_nodes
from ranml.xapp.transport import SendError, Transport

__all__ = ["RunnerSettings", "XAppRunner"]

log = logging.getLogger("ranml.xapp.runner")

HEALTH_REQ, HEALTH_RESP = MTYPES["RIC_HEALTH_CHECK_REQ"], MTYPES["RIC_HEALTH_CHECK_RESP"]


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


class XAppRunner(Generic[ConfigT, StateT]):
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
        An optional started forecaster, exposed as ``ctx.model`` (an app's lifespan may set its own).
    """

    def __init__(self, app: XApp[ConfigT, StateT], transport: Transport, settings: RunnerSettings | None = None,
                 config: dict[str, Any] | None = None, model: Forecaster | None = None) -> None:
        self.app = app
        self.transport = transport
        self.settings = settings or RunnerSettings()
        self.config_values = config
        self.model = model
        self.ctx: Context[ConfigT, StateT] | None = None
        self.ready = False
        self.http: TinyHttpServer | None = None
        self.dispatcher: Dispatcher | None = None
        self.decoder = IndicationDecoder(self._kpm_requests(), self.settings.kpm_version)
        self.rest: RestSubscriptions | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._lifespan = contextlib.AsyncExitStack()

    # -- lifecycle ----------------------------------------------------------------------------
    async def start(self) -> Context[ConfigT, StateT]:
        """Open everything, discover nodes, subscribe, start dispatching; returns the context."""
        app, s = self.app, self.settings
        config = app.load_config(self.config_values)  # refused before anything is opened
        await self.transport.start()
        state = open_state_store(s.state, app.name)
        subs = E2Subscriptions(self.transport.send, app.requestor_id, s.subscribe_timeout_s, s.subscribe_retries,
                               stale_after=s.stale_after_periods)
        features = None
        if self.decoder.requests:
            requests = self.decoder.requests
            names = tuple(dict.fromkeys(m for r in requests for m in r.measurements))
            features = FeatureStore(names, requests[0].granularity_ms / 1000.0, s.feature_slots)
        ctx: Context[ConfigT, StateT] = Context(app, config, self.transport, state, XAppMetrics(app.name), subs,
                                                logging.getLogger(f"ranml.xapp.{app.name}"), features, self.model)
        self.ctx = ctx
        self.dispatcher = Dispatcher(self.transport, ctx, self._dispatch, s.queue_size)
        self._tasks.append(asyncio.create_task(self.dispatcher.read(), name="xapp-read"))
        self._tasks.append(asyncio.create_task(self.dispatcher.work(), name="xapp-work"))
        if s.http_port is not None:
            self.http = TinyHttpServer(XAppEndpoints(self), s.http_port, s.http_host)
            await self.http.start()
        saved = state.get("a1_policies", {}) or {}
        ctx.policies = {int(t): dict(v) for t, v in saved.items() if int(t) in app.policy_types}
        if app.lifespan_context is not None:
            ctx.set_app_state(await self._lifespan.enter_async_context(app.lifespan_context(ctx)))
        else:
            ctx.set_app_state(None)  # type: ignore[arg-type]  # StateT is None for an app without a lifespan
        await self._query_policies()
        ctx.nodes = await discover_nodes(s.nodes, s.e2mgr_url)
        await self._subscribe_all()
        self._tasks.append(asyncio.create_task(watch_stale_nodes(subs), name="xapp-watchdog"))
        self.ready = True
        log.info("%s %s ready: %d nodes, %d subscriptions", app.name, app.version, len(ctx.nodes), len(subs.active))
        return ctx

    async def _query_policies(self) -> None:
        """Ask the A1 mediator for the instances of every policy type the app handles (20012)."""
        for policy_type in sorted(self.app.policy_handlers):
            try:
                await self.transport.send(RmrMessage(MTYPES["A1_POLICY_QUERY"], policy_query(policy_type),
                                                     sub_id=policy_type))
            except SendError as exc:
                log.info("no A1 policy query for type %d (%s); policies arrive when created", policy_type, exc)

    async def stop(self) -> dict[str, Any]:
        """Drain, delete subscriptions, shut the lifespan down, close; returns final counters.

        Safe after a partial or failed :meth:`start` (it closes what was opened).
        """
        self.ready = False
        for task in self._tasks:
            if task.get_name() == "xapp-watchdog":
                task.cancel()  # no re-subscription may race the deletes below
        if self.dispatcher is not None:
            await self.dispatcher.drain(self.settings.drain_timeout_s)  # what arrived before the signal is handled
            self.dispatcher.stop_reading()
        deleted = 0
        if self.ctx is not None:
            with contextlib.suppress(Exception):
                deleted = await self.ctx.subscriptions.delete_all()
        if self.rest is not None:
            deleted += await self.rest.delete_all()
        await cancel_and_wait(self._tasks)
        await self._lifespan.aclose()
        if self.http is not None:
            await self.http.close()
        await self.transport.close()
        d = self.dispatcher
        handled, dropped = (d.handled, d.dropped) if d is not None else (0, 0)
        log.info("%s stopped: %d handled, %d dropped, %d subscriptions deleted", self.app.name, handled, dropped,
                 deleted)
        return {"handled": handled, "dropped": dropped, "ignored_at_stop": d.ignored_at_stop if d is not None else 0,
                "subscriptions_deleted": deleted, **self.counters()}

    def counters(self) -> dict[str, Any]:
        """Message, control and model counters (in the stop summary and ``/ric/v1/status``)."""
        if self.ctx is None or self.dispatcher is None:
            return {}
        ctx, m, name = self.ctx, self.ctx.metrics, self.app.name
        model = ctx.model
        out: dict[str, Any] = {
            "indications": int(m.value("ranml_xapp_messages_received_total", xapp=name, mtype=str(INDICATION))),
            "malformed": int(sum(m.value("ranml_xapp_messages_malformed_total", xapp=name, layer=layer)
                                 for layer in ("e2ap", "e2sm"))),
            "controls_ok": int(m.value("ranml_xapp_controls_total", xapp=name, outcome="ack")),
            "controls_failed": int(m.value("ranml_xapp_controls_total", xapp=name, outcome="failure")
                                   + m.value("ranml_xapp_controls_total", xapp=name, outcome="timeout")),
            "resubscribed": ctx.subscriptions.resubscribed,
            "deadline_misses": model.misses if model is not None else 0,
            "model_version": model.version if model is not None else None,
            "model_swaps": [dict(x) for x in model.swaps] if model is not None else [],
            "canary_decisions": [{"action": d.action, "reason": d.reason}
                                 for d in (model.decisions if model is not None else [])],
        }
        for name, values in (("latency", self.dispatcher.latencies_us), ("service", self.dispatcher.service_us)):
            ordered = sorted(values)
            if ordered:
                out[f"{name}_p50_us"] = round(ordered[len(ordered) // 2], 1)
                out[f"{name}_p99_us"] = round(ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))], 1)
        out["indication_handler_s"] = round(self.dispatcher.handler_s, 4)
        out.update(ctx.counters)
        return out

    def status(self) -> dict[str, Any]:
        """``/ric/v1/status``: readiness, queue, subscriptions, nodes, policies and :meth:`counters`."""
        ctx, d = self.ctx, self.dispatcher
        if ctx is None or d is None:
            return {"ready": self.ready}
        return {"ready": self.ready, "handled": d.handled, "dropped": d.dropped,
                "subscriptions": len(ctx.subscriptions.active), "nodes": sorted(ctx.nodes), "queue": len(d),
                "policies": {str(t): sorted(v) for t, v in ctx.policies.items()}, **self.counters()}

    @property
    def handled(self) -> int:
        """Messages handled so far."""
        return self.dispatcher.handled if self.dispatcher is not None else 0

    @property
    def dropped(self) -> int:
        """Messages dropped at overload so far."""
        return self.dispatcher.dropped if self.dispatcher is not None else 0

    async def run(self, stop: asyncio.Event) -> dict[str, Any]:
        """Start, wait for ``stop``, stop."""
        await self.start()
        await stop.wait()
        return await self.stop()

    # -- subscriptions ----------------------------------------------------------------------------
    def _kpm_requests(self) -> list[KpmRequest]:
        period = self.settings.kpm_period_ms
        if period is None:
            return list(self.app.kpm)
        return [KpmRequest(r.measurements, period, min(r.granularity_ms, period), r.per_cell) for r in self.app.kpm]

    async def _subscribe_all(self) -> None:
        """Subscribe every node concurrently (a slow or absent node does not delay the others)."""
        assert self.ctx is not None
        ctx, s = self.ctx, self.settings
        if s.submgr_url:
            http_port = self.http.port if self.http is not None else 8080
            rmr_port = int(self.transport.name.rpartition(":")[2]) if ":" in self.transport.name else 4560
            self.rest = RestSubscriptions(s.submgr_url, s.client_host, http_port, rmr_port, self.decoder)
            await self.rest.subscribe(list(ctx.nodes.values()))
            return

        async def one(node: NodeInfo, spec: SubscriptionSpec, cells: dict[int, Any]) -> None:
            try:
                sub = await ctx.subscriptions.subscribe(spec)
            except SubscriptionError as exc:
                log.warning("%s", exc)
                return
            self.decoder.watch(node.meid, sub.instance_id, cells)

        await asyncio.gather(*(one(node, spec, cells) for node in ctx.nodes.values()
                               for spec, cells in self.decoder.specs(node)))
        ctx.metrics.subscriptions.set(len(ctx.subscriptions.active))

    # -- the message path -------------------------------------------------------------------------
    async def _dispatch(self, msg: RmrMessage) -> None:
        ctx = self.ctx
        assert ctx is not None
        mtype = msg.mtype
        if mtype == HEALTH_REQ:
            await self.transport.rts(msg, RmrMessage(HEALTH_RESP, b"OK\n"))
            return
        if mtype == INDICATION:
            try:
                report = self.decoder.decode(msg, ctx.subscriptions)
            except MalformedIndicationError as exc:
                ctx.metrics.count_malformed(exc.layer)
                return
            if report is not None and self.app.report_handler is not None:
                await self.app.report_handler(ctx, report)
            return
        handler = self.app.handlers.get(mtype) or self.app.default_handler
        if handler is None:
            ctx.metrics.unhandled.inc()
            log.debug("no handler for message type %d", mtype)
            return
        await handler(ctx, msg)
