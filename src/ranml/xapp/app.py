"""The xApp object: handlers registered by decorator, declared subscriptions, typed config.

A forecasting xApp is a short module::

    app = XApp("load-watch", version="1.0.0", config=Settings)
    app.subscribe_kpm(("RRU.PrbUsedDl", "RRC.ConnMean"), period_ms=1000)

    @app.on_report
    async def report(ctx: Context, r: CellReport) -> None:
        ctx.features.add(r.cell_key, r.time, r.last("RRU.PrbUsedDl", "RRC.ConnMean"))

and ``ranml xapp run module:app`` owns the transport, the HTTP endpoints, signals and shutdown.
Constructing an :class:`XApp` does no work.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from typing import Any, Generic, cast

from ranml.config import AppSettings
from ranml.errors import ConfigError
from ranml.host import check_app_settings, register_once
from ranml.protocols.e2sm import NrCgi
from ranml.protocols.rmr import MTYPES, RmrMessage
from ranml.xapp.a1 import PolicyRequest, parse_policy_request, policy_response
from ranml.xapp.context import ConfigT, Context, StateT

__all__ = ["CellReport", "KpmRequest", "XApp"]

log = logging.getLogger("ranml.xapp")

MessageHandler = Callable[[Context[ConfigT, StateT], RmrMessage], Awaitable[None]]
PolicyHandler = Callable[[Context[ConfigT, StateT], PolicyRequest], Awaitable[None]]
ReportHandler = Callable[[Context[ConfigT, StateT], "CellReport"], Awaitable[None]]
LifespanFn = Callable[[Context[ConfigT, Any]], AsyncIterator[StateT]]
Lifespan = Callable[[Context[ConfigT, Any]], AbstractAsyncContextManager[StateT]]


@dataclass(frozen=True)
class KpmRequest:
    """A KPM subscription the app wants on every node (one action per cell)."""

    measurements: tuple[str, ...]
    period_ms: int
    granularity_ms: int
    per_cell: bool = True


@dataclass(frozen=True)
class CellReport:
    """One decoded KPM indication for one cell (or the whole node when ``cell`` is ``None``)."""

    meid: str
    cell: NrCgi | None
    time: float  # start of the reporting period (Unix seconds, the node's clock)
    granularity_s: float
    measurements: tuple[str, ...]
    records: tuple[tuple[int | float | None, ...], ...]
    received_at: float = 0.0

    @property
    def cell_key(self) -> str:
        """A stable text key (``<plmn>:<cell id>``, or the MEID for node-level reports)."""
        return self.cell.text() if self.cell is not None else self.meid

    def last(self, *names: str) -> tuple[float | None, ...]:
        """Values of ``names`` in the newest record (``None`` when absent)."""
        rec = self.records[-1]
        idx = {n: i for i, n in enumerate(self.measurements)}
        return tuple(None if n not in idx or rec[idx[n]] is None else float(rec[idx[n]]) for n in names)  # type: ignore[arg-type]

    def series(self, name: str) -> list[float | None]:
        """One measurement across the records (one per granularity period)."""
        i = self.measurements.index(name)
        return [None if r[i] is None else float(r[i]) for r in self.records]  # type: ignore[arg-type]


@dataclass
class XApp(Generic[ConfigT, StateT]):
    """An xApp definition (handlers, subscriptions, config model); cheap to construct.

    ``XApp[Settings, State]``: handlers get a ``Context[Settings, State]`` whose ``config`` is the
    validated ``Settings`` and whose ``app_state`` is the ``State`` the lifespan yielded.

    Parameters
    ----------
    name, version
        As in the OSC descriptor (``version`` is semantic).
    config
        The app's settings, an :class:`~ranml.config.AppSettings` subclass (unknown keys are
        refused); its defaults and JSON schema become the descriptor's ``controls`` and schema.
    requestor_id
        The RIC requestor id used in E2 subscriptions and controls.
    """

    name: str
    version: str = "1.0.0"
    config: type[ConfigT] | None = None
    requestor_id: int = 1001
    description: str = ""
    handlers: dict[int, MessageHandler[ConfigT, StateT]] = field(default_factory=dict)
    report_handler: ReportHandler[ConfigT, StateT] | None = None
    lifespan_context: Lifespan[ConfigT, StateT] | None = None
    kpm: list[KpmRequest] = field(default_factory=list)
    policy_types: set[int] = field(default_factory=set)
    policy_handlers: dict[int, PolicyHandler[ConfigT, StateT]] = field(default_factory=dict)
    sends: set[int] = field(default_factory=set)
    default_handler: MessageHandler[ConfigT, StateT] | None = None

    def __post_init__(self) -> None:
        check_app_settings(self.name, self.config)

    # -- registration -----------------------------------------------------------------------
    def on(self, mtype: int | str) -> Callable[[MessageHandler[ConfigT, StateT]], MessageHandler[ConfigT, StateT]]:
        """Register ``handler(ctx, msg)`` for an RMR message type (number or RIC name)."""
        number = MTYPES[mtype] if isinstance(mtype, str) else int(mtype)

        def register(fn: MessageHandler[ConfigT, StateT]) -> MessageHandler[ConfigT, StateT]:
            if number in self.handlers:
                raise ConfigError(f"{self.name}: a handler for message type {number} is already registered")
            self.handlers[number] = fn
            return fn

        return register

    def on_default(self, fn: MessageHandler[ConfigT, StateT]) -> MessageHandler[ConfigT, StateT]:
        """Register the handler for message types nobody else handles (one per app)."""
        register_once(self.name, "a default handler", self.default_handler)
        self.default_handler = fn
        return fn

    def on_report(self, fn: ReportHandler[ConfigT, StateT]) -> ReportHandler[ConfigT, StateT]:
        """Register ``handler(ctx, report)`` for decoded KPM reports (one call per cell; one per app)."""
        register_once(self.name, "a report handler", self.report_handler)
        self.report_handler = fn
        return fn

    def lifespan(self, fn: LifespanFn[ConfigT, StateT]) -> LifespanFn[ConfigT, StateT]:
        """Register the app's async generator: before ``yield`` at start, after it at shutdown (one per app).

        What it yields is the app's state for the run: ``ctx.app_state`` in every handler.
        """
        from contextlib import asynccontextmanager

        register_once(self.name, "a lifespan", self.lifespan_context)
        self.lifespan_context = asynccontextmanager(fn)
        return fn

    def subscribe_kpm(self, measurements: tuple[str, ...] | list[str], period_ms: int,
                      granularity_ms: int | None = None, per_cell: bool = True) -> KpmRequest:
        """Ask for KPM reports of ``measurements`` from every node, every ``period_ms``."""
        request = KpmRequest(tuple(measurements), period_ms, granularity_ms or period_ms, per_cell)
        if request.granularity_ms > request.period_ms or period_ms <= 0:
            raise ConfigError(f"{self.name}: granularity_ms must be positive and at most period_ms")
        self.kpm.append(request)
        return request

    def uses_policy(self, policy_type: int) -> None:
        """Declare an A1 policy type the app consumes (descriptor ``policies``)."""
        self.policy_types.add(policy_type)

    def on_policy(self, policy_type: int) -> Callable[[PolicyHandler[ConfigT, StateT]], PolicyHandler[ConfigT, StateT]]:
        """Register ``handler(ctx, request)`` for A1 policy operations of ``policy_type``.

        The SDK decodes the mediator's request, keeps the instances in ``ctx.policies`` (and
        in the state store, so a restart resumes with them), calls the handler and answers
        ``OK`` / ``DELETED``, or ``ERROR`` when the handler raises :class:`ValueError` or
        :class:`~ranml.errors.ConfigError` (the instance is then not kept).
        """
        a1_req = MTYPES["A1_POLICY_REQ"]

        def register(fn: PolicyHandler[ConfigT, StateT]) -> PolicyHandler[ConfigT, StateT]:
            if policy_type in self.policy_handlers:
                raise ConfigError(f"{self.name}: a handler for A1 policy type {policy_type} is already registered")
            existing = self.handlers.get(a1_req)
            if existing is not None and getattr(existing, "__func__", None) is not XApp._dispatch_policy:
                raise ConfigError(f"{self.name}: A1_POLICY_REQ has a plain handler; use on_policy only")
            self.handlers[a1_req] = self._dispatch_policy
            self.policy_handlers[policy_type] = fn
            self.policy_types.add(policy_type)
            return fn

        return register

    def sends_mtype(self, mtype: int | str) -> None:
        """Declare a message type the app sends (descriptor ``txMessages``)."""
        self.sends.add(MTYPES[mtype] if isinstance(mtype, str) else int(mtype))

    # -- introspection ----------------------------------------------------------------------
    def rx_mtypes(self) -> set[int]:
        """Message types the app receives."""
        rx = set(self.handlers)
        if self.kpm:
            rx |= {MTYPES["RIC_SUB_RESP"], MTYPES["RIC_SUB_FAILURE"], MTYPES["RIC_SUB_DEL_RESP"],
                   MTYPES["RIC_INDICATION"]}
        if MTYPES["RIC_CONTROL_REQ"] in self.sends:
            rx |= {MTYPES["RIC_CONTROL_ACK"], MTYPES["RIC_CONTROL_FAILURE"]}
        if self.policy_types:
            rx |= {MTYPES["A1_POLICY_REQ"]}
        return rx

    def tx_mtypes(self) -> set[int]:
        """Message types the app sends."""
        tx = set(self.sends)
        if self.kpm:
            tx |= {MTYPES["RIC_SUB_REQ"], MTYPES["RIC_SUB_DEL_REQ"]}
        if self.policy_types:
            tx |= {MTYPES["A1_POLICY_RESP"], MTYPES["A1_POLICY_QUERY"]}
        return tx

    def default_config(self) -> dict[str, Any]:
        """The config model's defaults (the descriptor's ``controls``)."""
        return {} if self.config is None else self.config().model_dump(mode="json")

    def config_schema(self) -> dict[str, Any]:
        """JSON schema of the config (validates the descriptor's ``controls``)."""
        return {"type": "object"} if self.config is None else self.config.model_json_schema()

    def load_config(self, values: dict[str, Any] | None) -> ConfigT:
        """Validate ``values`` into the config model (errors name the field; an app without one takes none)."""
        from ranml.config import parse_mapping

        model = cast("type[ConfigT]", self.config if self.config is not None else AppSettings)
        return parse_mapping(model, values or {}, source=f"{self.name} config")

    async def _dispatch_policy(self, ctx: Context[ConfigT, StateT], msg: RmrMessage) -> None:
        """Decode an A1 policy request, run the app's handler, keep the instance, answer the mediator."""
        try:
            request = parse_policy_request(msg.payload)
        except ConfigError as exc:
            log.warning("%s: ignoring A1 policy request: %s", self.name, exc)
            return
        handler = self.policy_handlers.get(request.policy_type_id)
        ok = handler is not None
        if handler is None:
            log.warning("%s: A1 policy type %d is not handled here", self.name, request.policy_type_id)
        else:
            try:
                await handler(ctx, request)
            except (ValueError, ConfigError) as exc:
                ok = False
                log.warning("%s: A1 policy %d/%s refused: %s", self.name, request.policy_type_id,
                            request.policy_instance_id, exc)
        if ok:
            instances = ctx.policies.setdefault(request.policy_type_id, {})
            if request.operation == "DELETE":
                instances.pop(request.policy_instance_id, None)
            else:
                instances[request.policy_instance_id] = request.payload
            ctx.state.set("a1_policies", {str(t): v for t, v in ctx.policies.items()})
        await ctx.transport.rts(msg, RmrMessage(MTYPES["A1_POLICY_RESP"], policy_response(request, self.name, ok),
                                                sub_id=request.policy_type_id))
