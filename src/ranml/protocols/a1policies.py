"""A1 policy types shared by the policy producers (rApps) and consumers (xApps).

Each type has the A1-P v2 definition the mediator stores (``name``, ``description``,
``policy_type_id``, ``create_schema``), and a parser for the consumer side.

* :data:`TRAFFIC_STEERING` (20008, the OSC traffic-steering type id): the load band
  ``{"high": 0.85, "low": 0.6}`` of the traffic-steering xApp.
* :data:`SLEEP_SCHEDULE` (21000): per cell, the time windows ``[start, end)`` (Unix seconds) in
  which the cell may sleep, from a day-ahead forecast. The energy-saving xApp sleeps a listed cell
  only inside its windows and wakes it before a window ends; the traffic-steering xApp does not
  steer into a cell about to sleep.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from typing import Any

from ranml.errors import ConfigError

__all__ = ["SLEEP_SCHEDULE", "TRAFFIC_STEERING", "PolicyType", "SleepSchedule"]


@dataclass(frozen=True)
class PolicyType:
    """An A1 policy type: what ``PUT /A1-P/v2/policytypes/{id}`` carries."""

    policy_type_id: int
    name: str
    description: str
    create_schema: dict[str, Any]

    def definition(self) -> dict[str, Any]:
        """The A1-P v2 policy type body."""
        return {"name": self.name, "description": self.description, "policy_type_id": self.policy_type_id,
                "create_schema": self.create_schema}


TRAFFIC_STEERING = PolicyType(
    20008, "tsapolicytype", "Traffic steering load band (fraction of PRBs)",
    {"$schema": "http://json-schema.org/draft-07/schema#", "type": "object", "additionalProperties": False,
     "properties": {"high": {"type": "number", "exclusiveMinimum": 0, "maximum": 1.5},
                    "low": {"type": "number", "exclusiveMinimum": 0, "maximum": 1.0}}})

SLEEP_SCHEDULE = PolicyType(
    21000, "ranml-sleep-schedule", "Per-cell sleep windows [start, end) in Unix seconds from a day-ahead forecast",
    {"$schema": "http://json-schema.org/draft-07/schema#", "type": "object", "required": ["cells"],
     "additionalProperties": False,
     "properties": {
         "cells": {"type": "object", "additionalProperties": {
             "type": "array", "items": {"type": "array", "items": {"type": "number"}, "minItems": 2, "maxItems": 2}}},
         "generated_at": {"type": "number"},
         "horizon_s": {"type": "number", "minimum": 0},
         "model": {"type": "string"}}})


@dataclass
class SleepSchedule:
    """Parsed :data:`SLEEP_SCHEDULE` windows, per cell, sorted and merged."""

    windows: dict[str, list[tuple[float, float]]] = field(default_factory=dict)

    @classmethod
    def parse(cls, payload: dict[str, Any]) -> SleepSchedule:
        """Validate a policy instance (errors name the cell and the window)."""
        cells = payload.get("cells")
        if not isinstance(cells, dict):
            raise ConfigError("sleep schedule: 'cells' must map cell keys to lists of [start, end]")
        out: dict[str, list[tuple[float, float]]] = {}
        for cell, items in cells.items():
            spans = []
            for i, item in enumerate(items or []):
                try:
                    start, end = float(item[0]), float(item[1])
                except (TypeError, ValueError, IndexError):
                    raise ConfigError(f"sleep schedule: cells.{cell}[{i}] must be [start, end]") from None
                if not end > start:
                    raise ConfigError(f"sleep schedule: cells.{cell}[{i}]: end {end} is not after start {start}")
                spans.append((start, end))
            spans.sort()
            merged: list[tuple[float, float]] = []
            for start, end in spans:
                if merged and start <= merged[-1][1]:
                    merged[-1] = (merged[-1][0], max(merged[-1][1], end))
                else:
                    merged.append((start, end))
            out[str(cell)] = merged
        return cls(out)

    @classmethod
    def combine(cls, payloads: list[dict[str, Any]]) -> SleepSchedule:
        """One schedule from several instances (windows of the same cell are merged)."""
        cells: dict[str, list[Any]] = {}
        for payload in payloads:
            for cell, items in (payload.get("cells") or {}).items():
                cells.setdefault(cell, []).extend(items)
        return cls.parse({"cells": cells})

    def covers(self, cell: str) -> bool:
        """Whether the schedule speaks about ``cell``."""
        return cell in self.windows

    def window_at(self, cell: str, t: float) -> tuple[float, float] | None:
        """The window holding time ``t``, if any."""
        spans = self.windows.get(cell) or []
        i = bisect.bisect_right(spans, (t, float("inf"))) - 1
        if i >= 0 and spans[i][0] <= t < spans[i][1]:
            return spans[i]
        return None

    def sleeps_within(self, cell: str, t: float, horizon_s: float) -> bool:
        """Whether ``cell`` is in a window now or one starts within ``horizon_s``."""
        return any(start < t + horizon_s and end > t for start, end in self.windows.get(cell) or [])
