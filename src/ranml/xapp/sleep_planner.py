"""Receding-horizon sleep planning for the cells of one node (model-predictive control).

At every reporting period the planner looks at each cell's demand over the horizon (an upper
bound: the forecast plus its error quantile, or the true future for the oracle) and answers
which capacity cells to switch off now and which to start waking now:

* at each future step ``k`` it builds the largest set of cells that may be asleep: cells in a
  fixed order (those asleep first, so that a plan does not flip between equal choices, then by
  mean demand), each added while the awake cells can still carry their own demand plus the
  sleepers' demand at ``1 / efficiency`` under ``absorb_below`` of their pooled capacity (a new
  sleeper must fit under ``absorb_below - hysteresis``);
* a sleeping cell starts waking now when the first step it is needed at is within
  ``wake_steps`` (the wake-up delay plus the control latency, in periods): with a forecast it
  serves again before the rise, not after it;
* an awake cell is switched off only when it can stay asleep for ``wake_steps + min_sleep_steps``
  periods: a shorter sleep would spend its time waking up.

Steps past the end of the horizon repeat its last value. Pure numpy; the energy-saving xApp
feeds it, the unit tests drive it directly.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ranml.errors import ConfigError

__all__ = ["NodeCell", "NodePlan", "PlannerSettings", "plan_node"]


@dataclass(frozen=True)
class PlannerSettings:
    """How the planner trades energy against the risk of overload.

    Parameters
    ----------
    absorb_below
        Highest planned utilisation of the awake cells' pooled capacity.
    hysteresis
        A cell is switched off only under ``absorb_below - hysteresis``: no flapping at the edge.
    efficiency
        Capacity a receiving cell spends per unit of a sleeper's demand is ``1 / efficiency``.
    wake_steps
        Periods from a wake command to the cell serving again (wake-up delay + control latency).
    min_sleep_steps
        A switch-off must be able to last this many periods beyond the wake-up.
    """

    absorb_below: float = 0.85
    hysteresis: float = 0.05
    efficiency: float = 0.8
    wake_steps: int = 6
    min_sleep_steps: int = 2

    def __post_init__(self) -> None:
        if not 0 < self.absorb_below <= 1.5:
            raise ConfigError(f"absorb_below must be in (0, 1.5], got {self.absorb_below}")
        if not 0 <= self.hysteresis < self.absorb_below:
            raise ConfigError(f"hysteresis must be in [0, absorb_below), got {self.hysteresis}")
        if not 0 < self.efficiency <= 1:
            raise ConfigError(f"efficiency must be in (0, 1], got {self.efficiency}")
        if self.wake_steps < 0 or self.min_sleep_steps < 0:
            raise ConfigError("wake_steps and min_sleep_steps must be ≥ 0")


@dataclass
class NodeCell:
    """One cell of the node as the planner sees it.

    Parameters
    ----------
    key
        The cell's key (what the decisions name).
    capacity
        Its capacity in any unit shared by the node's cells (PRBs).
    demand
        Upper bound of its own demand per future period, as a share of its own capacity.
    sleepable
        Whether it may ever sleep (coverage cells may not).
    asleep
        Whether it is off now (asleep or still waking).
    may_sleep
        Whether it may be switched off now (dwell time, schedules, a wake-up under way); an awake
        cell that may not sleep is planned awake. Waking is never held back.
    """

    key: str
    capacity: float
    demand: np.ndarray
    sleepable: bool = True
    asleep: bool = False
    may_sleep: bool = True


@dataclass(frozen=True)
class NodePlan:
    """The planner's answer: cells to switch off now, cells to start waking now, the plan itself."""

    sleep: tuple[str, ...]
    wake: tuple[str, ...]
    asleep_per_step: np.ndarray  # planned number of sleeping cells per future step


def _path(demand: np.ndarray, steps: int) -> np.ndarray:
    d = np.asarray(demand, dtype=np.float64)
    if d.size == 0:
        raise ConfigError("a cell's demand path is empty; give at least one future period")
    if d.size >= steps:
        return d[:steps]
    return np.concatenate([d, np.full(steps - d.size, d[-1])])


def plan_node(cells: Sequence[NodeCell], settings: PlannerSettings) -> NodePlan:
    """Decide which cells of one node to switch off and which to wake now.

    Parameters
    ----------
    cells
        Every cell of the node (coverage cells too: they carry the sleepers' demand).
    settings
        Thresholds, offload efficiency and the wake-up delay in periods.

    Returns
    -------
    NodePlan
        Keys to switch off now, keys to start waking now, the planned sleepers per step.
    """
    s = settings
    steps = max(s.wake_steps + s.min_sleep_steps, max((c.demand.size for c in cells), default=1), 1)
    demand = np.array([_path(c.demand, steps) for c in cells]) if cells else np.zeros((0, steps))
    demand = np.nan_to_num(demand, nan=1.0)  # unknown demand counts as full: never plan on it
    cap = np.array([c.capacity for c in cells], dtype=np.float64)
    load = demand * cap[:, None]  # own demand in capacity units
    order = sorted((i for i, c in enumerate(cells) if c.sleepable and (c.asleep or c.may_sleep)),
                   key=lambda i: (not cells[i].asleep, float(demand[i].mean())))
    asleep_at = np.zeros((len(cells), steps), dtype=bool)
    for k in range(steps):
        awake_cap, carried = float(cap.sum()), float(load[:, k].sum())
        for i in order:
            limit = s.absorb_below if cells[i].asleep else s.absorb_below - s.hysteresis
            cap_after = awake_cap - cap[i]
            carried_after = carried + load[i, k] * (1.0 / s.efficiency - 1.0)
            if cap_after > 0 and carried_after <= limit * cap_after:
                asleep_at[i, k], awake_cap, carried = True, cap_after, carried_after
    sleep, wake = [], []
    hold = min(steps, s.wake_steps + s.min_sleep_steps)
    for i, c in enumerate(cells):
        if not c.sleepable:
            continue
        if c.asleep:
            needed = np.flatnonzero(~asleep_at[i])
            if needed.size and needed[0] <= s.wake_steps:
                wake.append(c.key)
        elif c.may_sleep and asleep_at[i, : max(hold, 1)].all():
            sleep.append(c.key)
    return NodePlan(tuple(sleep), tuple(wake), asleep_at.sum(axis=0))
