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
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from ranml.errors import ConfigError
from ranml.protocols.a1policies import PolicyType

if TYPE_CHECKING:
    from ranml.rapp.context import RAppContext

__all__ = ["RApp", "load_rapp"]

log = logging.getLogger("ranml.rapp")

TelemetryHandler = Callable[["RAppContext", int], Awaitable[None]]
TimerHandler = Callable[["RAppContext"], Awaitable[None]]
Lifespan = Callable[["RAppContext"], AbstractAsyncContextManager[None]]
LifespanFn = Callable[["RAppContext"], AsyncIterator[None]]

BUILTIN = {"energy-saving-planner": "ranml.rapp.apps.energy_saving_planner:app"}


@dataclass
class RApp:
    """An rApp: name, version, settings model and handlers. Construction does no work."""

    name: str
    version: str = "1.0.0"
    config: type[BaseModel] | None = None
    telemetry_step: str = "15min"
    description: str = ""
    telemetry_handlers: list[TelemetryHandler] = field(default_factory=list)
    timers: list[tuple[float, TimerHandler]] = field(default_factory=list)
    lifespans: list[Lifespan] = field(default_factory=list)
    policies: dict[int, PolicyType] = field(default_factory=dict)

    def on_telemetry(self, fn: TelemetryHandler) -> TelemetryHandler:
        """Register ``handler(ctx, rows_added)``, called after each ingest."""
        self.telemetry_handlers.append(fn)
        return fn

    def every(self, seconds: float) -> Callable[[TimerHandler], TimerHandler]:
        """Register ``handler(ctx)`` to run every ``seconds`` (wall clock)."""
        if seconds <= 0:
            raise ConfigError(f"{self.name}: every() needs a positive period, got {seconds}")

        def register(fn: TimerHandler) -> TimerHandler:
            self.timers.append((float(seconds), fn))
            return fn

        return register

    def lifespan(self, fn: LifespanFn) -> LifespanFn:
        """Register an async generator: before ``yield`` at start, after it at shutdown."""
        from contextlib import asynccontextmanager

        self.lifespans.append(asynccontextmanager(fn))
        return fn

    def produces_policy(self, policy_type: PolicyType) -> None:
        """Declare an A1 policy type the app writes (created on the mediator at start)."""
        self.policies[policy_type.policy_type_id] = policy_type

    def default_config(self) -> dict[str, Any]:
        """The settings' defaults."""
        return {} if self.config is None else self.config().model_dump(mode="json")

    def load_config(self, values: dict[str, Any] | None) -> Any:
        """Validate ``values`` into the settings model (errors name the field)."""
        if self.config is None:
            return dict(values or {})
        from ranml.config import parse_mapping

        return parse_mapping(self.config, values or {}, source=f"{self.name} config")  # type: ignore[type-var]


def load_rapp(ref: str) -> RApp:
    """Import ``module:attribute`` (or a built-in rApp name) and check it is an :class:`RApp`."""
    from ranml.host.refs import load_object

    return load_object(ref, BUILTIN, RApp, "rApp", "ranml.rapp.RApp")
