"""What rApp handlers get: the app, typed config and state, the telemetry store, the A1 client, a model, a logger.

``RAppContext[ConfigT, StateT]``: ``ctx.config`` is the validated settings, ``ctx.app_state`` what
the lifespan yielded, ``ctx.model`` the registry model the runner follows (or ``None``).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import Any, Generic

from ranml.errors import PolicyError
from ranml.host import AppInfo, ConfigT, HoldsAppState, StateT
from ranml.protocols.a1policies import PolicyType
from ranml.rapp.a1client import A1Client
from ranml.rapp.telemetry import TelemetryStore
from ranml.serving import ServedModel

__all__ = ["AppInfo", "ConfigT", "RAppContext", "StateT"]



@dataclass
class RAppContext(HoldsAppState[StateT], Generic[ConfigT, StateT]):
    """Handed to every handler."""

    app: AppInfo
    config: ConfigT
    telemetry: TelemetryStore
    a1: A1Client | None
    log: logging.Logger
    model: ServedModel | None = None
    counters: dict[str, int] = field(default_factory=lambda: {"policies_put": 0, "policy_errors": 0})
    written: dict[str, dict[str, Any]] = field(default_factory=dict)  # "type/id" -> last payload

    async def put_policy(self, policy_type: PolicyType, instance_id: str, payload: dict[str, Any]) -> bool:
        """Write a policy instance through A1 (in a worker thread); ``False`` when it failed (logged)."""
        if self.a1 is None:
            self.log.warning("no A1 URL configured: policy %d/%s not sent", policy_type.policy_type_id, instance_id)
            return False
        try:
            await asyncio.to_thread(self.a1.put_policy, policy_type.policy_type_id, instance_id, payload)
        except PolicyError as exc:
            self.counters["policy_errors"] += 1
            self.log.warning("%s", exc)
            return False
        self.counters["policies_put"] += 1
        self.written[f"{policy_type.policy_type_id}/{instance_id}"] = payload
        return True
