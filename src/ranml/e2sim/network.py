"""The simulated radio network: cells with load, capacity, UEs, power and the effects of controls.

State advances in fixed simulated ticks (vectorised over cells). Per tick and cell:

* offered load = trace × short-term fluctuation (log-normal AR(1), ``traffic.noise_sigma`` /
  ``noise_tau``) + steered load (handovers move load; it decays back with ``ues.steer_decay`` as
  steered UEs end their sessions);
* a sleeping (or still waking) cell serves nothing; its load goes to awake neighbours in proportion
  to their headroom, and what does not fit is unserved;
* served = min(offered, capacity); PRB usage = served / capacity × PRBs (so it saturates);
* connected UEs = offered / ``ues.mbps_per_ue`` (rounded up), numbered 0..UEs-1 (ids by
  :func:`ranml.protocols.e2sm.enumerated_ue_id`); UE throughput = served / UEs;
* power = base + load share × utilisation when active, the wake-up power (base) while waking,
  sleep power when asleep; energy integrates power.

Cumulative integrals of every measurement are kept so that a KPM record for any granularity
period is a difference of two snapshots divided by its length.

:meth:`Network.demand` answers each cell's own demand (trace × fluctuation + steered load, as if
every cell were awake) per period from any recent time on: the past from a one-hour record, the
future by running the same random stream ahead on a copy. It is the ``oracle`` policy's true
future; no control changes it, since controls only change where demand is served.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass

import numpy as np

from ranml.e2sim.scenario import CellSpec, Scenario, seconds
from ranml.e2sim.traffic import TrafficTrace

__all__ = ["MEASUREMENTS", "Measurement", "Network"]


@dataclass(frozen=True)
class Measurement:
    """A KPM measurement e2sim offers: row in the integral table, value kind, node aggregation."""

    row: int
    integer: bool
    node_sum: bool  # node-level value: sum over cells (else mean)
    scale: float = 1.0  # record = Δintegral / granularity × scale (energy: kWh per period instead)
    per_period: bool = False


MEASUREMENTS: dict[str, Measurement] = {
    "RRU.PrbUsedDl": Measurement(0, True, True),
    "RRU.PrbUsedUl": Measurement(1, True, True),
    "RRU.PrbAvailDl": Measurement(2, True, True),
    "RRU.PrbAvailUl": Measurement(3, True, True),
    "RRU.PrbTotDl": Measurement(4, False, False),  # %
    "DRB.UEThpDl": Measurement(5, False, False),  # kbit/s
    "DRB.UEThpUl": Measurement(6, False, False),
    "RRC.ConnMean": Measurement(7, True, True),
    "PEE.AvgPower": Measurement(8, False, True),  # W
    "PEE.Energy": Measurement(8, False, True, 1 / 3.6e6, True),  # kWh in the granularity period
    "ranml.OfferedDl": Measurement(9, False, True),  # Mbit/s offered (incl. load absorbed from neighbours)
    "ranml.ServedDl": Measurement(10, False, True),  # Mbit/s served
    "ranml.Sleeping": Measurement(11, False, True),  # share of the period asleep or waking
}
_ROWS = 12


class Network:
    """Cells of all nodes as arrays; cheap to construct, advanced by :meth:`step`."""

    def __init__(self, scenario: Scenario, cells: list[CellSpec], node_of: list[int],
                 neighbours: list[list[int]], trace: TrafficTrace, noise_seed: int | None = None) -> None:
        self.cells = cells
        self.node_of = np.array(node_of)
        self.neighbours = neighbours
        self.trace = trace
        n = len(cells)
        self.capacity = np.array([c.capacity_mbps for c in cells])
        self.prbs = np.array([float(c.prbs) for c in cells])
        energy, ues = scenario.energy, scenario.ues
        self.base_w, self.load_w, self.sleep_w = energy.base_w, energy.load_w, energy.sleep_w
        self.wake_delay_s = seconds(energy.wake_delay)
        self.co_sited_only = energy.offload == "co-sited"
        self.offload_efficiency = energy.offload_efficiency
        self.mbps_per_ue, self.admission, self.ul_ratio = ues.mbps_per_ue, ues.admission, ues.ul_ratio
        self.steer_tau_s = seconds(ues.steer_decay)
        self.noise_sigma = scenario.traffic.noise_sigma
        self.noise_tau_s = seconds(scenario.traffic.noise_tau)
        self._rng = np.random.default_rng(scenario.traffic.seed + 104729 if noise_seed is None else noise_seed)
        self._noise = self._rng.normal(0.0, self.noise_sigma, n)
        self.trace_offset_s = 0.0
        self.steered = np.zeros(n)
        self.sleeping = np.zeros(n, dtype=bool)
        self.wake_at = np.full(n, math.inf)
        self.own = np.zeros(n)
        self.offered = np.zeros(n)
        self.served = np.zeros(n)
        self.unserved = np.zeros(n)
        self.util = np.zeros(n)
        self.ues = np.zeros(n, dtype=np.int64)
        self.power = np.zeros(n)
        self.values = np.zeros((_ROWS, n))
        self.integral = np.zeros((_ROWS, n))
        self.energy_j = np.zeros(n)
        self.unserved_mbit = np.zeros(n)
        self.overload_s = np.zeros(n)
        self.sleep_s = np.zeros(n)
        self.handovers_ok = 0
        self.handovers_failed = 0
        self.switches = 0
        self.time_s = 0.0
        self._history_s = 3600.0
        self._demand_log: np.ndarray | None = None  # own demand per tick over the last hour (ring)
        self._tick_s = 0.0

    @property
    def waking(self) -> np.ndarray:
        """Cells that were told to wake and are not serving yet."""
        return np.isfinite(self.wake_at)

    # -- time ---------------------------------------------------------------------------------
    def step(self, dt: float) -> None:
        """Advance ``dt`` simulated seconds (the state is evaluated at the start of the tick)."""
        t = self.time_s
        done = self.waking & (self.wake_at <= t)
        if done.any():
            self.sleeping[done] = False
            self.wake_at[done] = math.inf
        self.trace.at(self.trace_offset_s + t, out=self.own)
        if self.noise_sigma > 0:
            phi = math.exp(-dt / self.noise_tau_s)
            self._noise *= phi
            self._noise += self._rng.normal(0.0, self.noise_sigma * math.sqrt(1 - phi * phi), len(self._noise))
            self.own *= np.exp(self._noise - self.noise_sigma**2 / 2)
        self.steered *= math.exp(-dt / self.steer_tau_s)
        self.own += self.steered
        np.maximum(self.own, 0.0, out=self.own)
        self._log_demand(t, dt)
        off = self.sleeping | self.waking
        offered = np.where(off, 0.0, self.own)
        lost = np.zeros_like(offered)
        eta = self.offload_efficiency
        for s in np.flatnonzero(off):
            load = self.own[s]
            peers = [j for j in self.neighbours[s]
                     if not off[j] and (not self.co_sited_only or self.node_of[j] == self.node_of[s])]
            room = np.array([max(self.capacity[j] - offered[j], 0.0) for j in peers])
            total = float(room.sum())
            spent = min(load / eta, total)  # capacity the receiving cells spend on it
            if total > 0:
                for j, r in zip(peers, room, strict=True):
                    offered[j] += spent * r / total
            lost[s] = load - spent * eta
        self.offered = offered
        self.served = np.minimum(offered, self.capacity)
        self.unserved = offered - self.served + lost
        self.util = self.served / self.capacity
        self.ues = np.ceil(offered / self.mbps_per_ue - 1e-9).astype(np.int64)
        self.power = np.where(self.sleeping & ~self.waking, self.sleep_w,
                              np.where(self.waking, self.base_w, self.base_w + self.load_w * self.util))
        v = self.values
        v[0] = self.util * self.prbs
        v[1] = np.minimum(v[0] * self.ul_ratio * 2.0, self.prbs)
        v[2] = np.where(off, 0.0, self.prbs)
        v[3] = v[2]
        v[4] = self.util * 100.0
        v[5] = np.where(self.ues > 0, self.served * 1000.0 / np.maximum(self.ues, 1), 0.0)
        v[6] = v[5] * self.ul_ratio
        v[7] = self.ues
        v[8] = self.power
        v[9] = offered
        v[10] = self.served
        v[11] = off
        self.integral += v * dt
        self.energy_j += self.power * dt
        self.unserved_mbit += self.unserved * dt
        self.overload_s += (self.unserved > 1e-9) * dt
        self.sleep_s += off * dt
        self.time_s = t + dt

    def _log_demand(self, t: float, dt: float) -> None:
        if self._demand_log is None or dt != self._tick_s:
            self._tick_s = dt
            self._demand_log = np.full((max(2, math.ceil(self._history_s / dt)), len(self.cells)), np.nan)
        self._demand_log[round(t / dt) % self._demand_log.shape[0]] = self.own

    def demand(self, start_s: float, period_s: float, steps: int) -> np.ndarray:
        """Own demand / capacity per cell, averaged over ``steps`` periods from simulated ``start_s``.

        Returns ``[steps, cells]``. Times before the last hour are refused; times after now are
        simulated ahead on a copy of the fluctuation's random stream (the state is untouched).
        """
        dt = self._tick_s
        if dt <= 0 or self._demand_log is None:
            raise ValueError("no tick simulated yet")
        now = self.time_s  # ticks at 0, dt, ..., now - dt are logged
        if start_s < now - self._history_s + dt:
            raise ValueError(f"start {start_s:.0f}s is more than {self._history_s:.0f}s before now ({now:.0f}s)")
        first, last = math.floor(start_s / dt + 1e-9), math.ceil((start_s + steps * period_s) / dt - 1e-9)
        ticks = np.empty((max(last - first, 0), len(self.cells)))
        n_past = min(max(round(now / dt) - first, 0), ticks.shape[0])
        ticks[:n_past] = self._demand_log[np.arange(first, first + n_past) % self._demand_log.shape[0]]
        if n_past < ticks.shape[0]:
            ticks[n_past:] = self._simulate_ahead(max(first, round(now / dt)), ticks.shape[0] - n_past, dt)
        per = np.array([ticks[round(k * period_s / dt): round((k + 1) * period_s / dt)].mean(axis=0)
                        for k in range(steps)])
        return np.asarray(per / self.capacity)

    def _simulate_ahead(self, first_tick: int, n: int, dt: float) -> np.ndarray:
        rng, noise, steered = copy.deepcopy(self._rng), self._noise.copy(), self.steered.copy()
        phi = math.exp(-dt / self.noise_tau_s)
        decay = math.exp(-dt / self.steer_tau_s)
        out = np.empty((n, len(self.cells)))
        for k in range(n):
            own = self.trace.at(self.trace_offset_s + (first_tick + k) * dt, out=out[k])
            if self.noise_sigma > 0:
                noise *= phi
                noise += rng.normal(0.0, self.noise_sigma * math.sqrt(1 - phi * phi), len(noise))
                own *= np.exp(noise - self.noise_sigma**2 / 2)
            steered *= decay
            own += steered
            np.maximum(own, 0.0, out=own)
        return out

    # -- controls -----------------------------------------------------------------------------
    def connected(self, cell: int, k: int) -> bool:
        """Whether UE number ``k`` of ``cell`` is connected now (cells number UEs 0..UEs-1)."""
        return 0 <= k < self.ues[cell] and not self.sleeping[cell] and not self.waking[cell]

    def handover(self, source: int, target: int) -> str | None:
        """Move one UE's share of load from ``source`` to ``target``; ``None`` or the failure reason."""
        if target == source:
            reason = "target is the serving cell"
        elif target not in self.neighbours[source]:
            reason = f"{self.cells[target].name} is not a neighbour of {self.cells[source].name}"
        elif self.sleeping[target] or self.waking[target]:
            reason = f"{self.cells[target].name} is switched off"
        else:
            share = self.offered[source] / max(int(self.ues[source]), 1)
            if self.offered[target] + share > self.admission * self.capacity[target]:
                reason = f"{self.cells[target].name} has no headroom"
            else:
                self.steered[source] -= share
                self.steered[target] += share
                self.offered[source] -= share
                self.offered[target] += share
                self.handovers_ok += 1
                return None
        self.handovers_failed += 1
        return reason

    def switch(self, cell: int, sleep: bool) -> None:
        """Put a cell to sleep now, or start waking it (serving again after the wake-up delay)."""
        self.switches += 1
        if sleep:
            self.sleeping[cell] = True
            self.wake_at[cell] = math.inf
        elif self.sleeping[cell] and not self.waking[cell]:
            self.wake_at[cell] = self.time_s + self.wake_delay_s

    # -- ground truth -------------------------------------------------------------------------
    def cell_state(self, i: int) -> dict[str, object]:
        """JSON-ready state of one cell."""
        return {"name": self.cells[i].name, "offered_mbps": round(float(self.offered[i]), 3),
                "served_mbps": round(float(self.served[i]), 3), "unserved_mbps": round(float(self.unserved[i]), 3),
                "capacity_mbps": float(self.capacity[i]), "prb_used_dl": round(float(self.values[0, i]), 2),
                "prb_util_pct": round(float(self.values[4, i]), 2), "power_w": round(float(self.power[i]), 2),
                "sleeping": bool(self.sleeping[i] and not self.waking[i]), "waking": bool(self.waking[i]),
                "ues": int(self.ues[i]), "steered_mbps": round(float(self.steered[i]), 3),
                "energy_j": round(float(self.energy_j[i]), 1), "overload_s": float(self.overload_s[i]),
                "unserved_mbit": round(float(self.unserved_mbit[i]), 3)}

    def totals(self) -> dict[str, float | int]:
        """Network totals since the start."""
        return {"energy_j": round(float(self.energy_j.sum()), 1),
                "energy_kwh": round(float(self.energy_j.sum()) / 3.6e6, 4),
                "unserved_mbit": round(float(self.unserved_mbit.sum()), 3),
                "overload_minutes": round(float(self.overload_s.sum()) / 60.0, 3),
                "sleep_minutes": round(float(self.sleep_s.sum()) / 60.0, 3),
                "handovers_ok": self.handovers_ok, "handovers_failed": self.handovers_failed,
                "cell_switches": self.switches, "simulated_s": self.time_s}
