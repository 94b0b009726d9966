"""The rApp object: decorator-registered handlers for O1 telemetry and timers, typed config.

The same pattern as the xApp SDK (an app object that only stores things; a runner that owns
HTTP, tasks and signals), for the Non-RT RIC loop (> 1 s)::

    app = RApp("es-planner", version="1.0.0", config=Settings, telemetry_step="15min")
    app.produces_policy(SLEEP_SCHEDULE)

    @app.on_telemetry
    async def plan(ctx: RAppContext, added: int) -> None:
        table = ctx.telemetry.table()          # the benchmark's tidy table
        ...
        await ctx.put_policy(SLEEP_SCHEDULE, "day-ahead", schedule)

``ranml rapp run module:app --a1-url URL`` runs it.
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
from ranml.protocols.a1policies import PolicyType
from ranml.rapp.context import ConfigT, RAppContext, StateT

__all__ = ["RApp", "load_rapp"]

log = logging.getLogger("ranml.rapp")

TelemetryHandler = Callable[[RAppContext[ConfigT, StateT], int], Awaitable[None]]
TimerHandler = Callable[[RAppContext[ConfigT, StateT]], Awaitable[None]]
Lifespan = Callable[[RAppContext[ConfigT, Any]], AbstractAsyncContextManager[StateT]]
LifespanFn = Callable[[RAppContext[ConfigT, Any]], AsyncIterator[StateT]]

BUILTIN = {"energy-saving-planner": "ranml.rapp.apps.energy_saving_planner:app"}


@dataclass
class RApp(Generic[ConfigT, StateT]):
    """An rApp: name, version, settings model and handlers. Construction does no work.

    ``RApp[Settings, State]``: handlers get an ``RAppContext[Settings, State]``.
    """

    name: str
    version: str = "1.0.0"
    config: type[ConfigT] | None = None
    telemetry_step: str = "15min"
    description: str = ""
    telemetry_handler: TelemetryHandler[ConfigT, StateT] | None = None
    timers: list[tuple[float, TimerHandler[ConfigT, StateT]]] = field(default_factory=list)
    lifespan_context: Lifespan[ConfigT, StateT] | None = None
    policies: dict[int, PolicyType] = field(default_factory=dict)

    def __post_init__(self) -> None:
        check_app_settings(self.name, self.config)

    def on_telemetry(self, fn: TelemetryHandler[ConfigT, StateT]) -> TelemetryHandler[ConfigT, StateT]:
        """Register ``handler(ctx, rows_added)``, called after each ingest (one per app)."""
        register_once(self.name, "a telemetry handler", self.telemetry_handler)
        self.telemetry_handler = fn
        return fn

    def every(self, seconds: float) -> Callable[[TimerHandler[ConfigT, StateT]], TimerHandler[ConfigT, StateT]]:
        """Register ``handler(ctx)`` to run every ``seconds`` (wall clock); a function is registered once."""
        if seconds <= 0:
            raise ConfigError(f"{self.name}: every() needs a positive period, got {seconds}")

        def register(fn: TimerHandler[ConfigT, StateT]) -> TimerHandler[ConfigT, StateT]:
            if any(f is fn for _, f in self.timers):
                raise ConfigError(f"{self.name}: timer {fn.__name__} is already registered")
            self.timers.append((float(seconds), fn))
            return fn

        return register

    def lifespan(self, fn: LifespanFn[ConfigT, StateT]) -> LifespanFn[ConfigT, StateT]:
        """Register the async generator (one per app): before ``yield`` at start, after it at shutdown.

        What it yields is the app's state for the run: ``ctx.app_state`` in every handler.
        """
        from contextlib import asynccontextmanager

        register_once(self.name, "a lifespan", self.lifespan_context)
        self.lifespan_context = asynccontextmanager(fn)
        return fn

    def produces_policy(self, policy_type: PolicyType) -> None:
        """Declare an A1 policy type the app writes (created on the mediator at start)."""
        self.policies[policy_type.policy_type_id] = policy_type

    def default_config(self) -> dict[str, Any]:
        """The settings' defaults."""
        return {} if self.config is None else self.config().model_dump(mode="json")

    def load_config(self, values: dict[str, Any] | None) -> ConfigT:
        """Validate ``values`` into the settings model (errors name the field; an app without one takes none)."""
        from ranml.config import parse_mapping

        model = cast("type[ConfigT]", self.config if self.config is not None else AppSettings)
        return parse_mapping(model, values or {}, source=f"{self.name} config")


def load_rapp(ref: str) -> RApp[Any, Any]:
    """Import ``module:attribute`` (or a built-in rApp name) and check it is an :class:`RApp`."""
    from ranml.host import load_object

    return load_object(ref, BUILTIN, RApp, "rApp", "ranml.rapp.RApp")
