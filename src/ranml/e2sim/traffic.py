"""Per-cell offered load over simulated time, from the synthetic generator or a replayed table."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ranml.e2sim.scenario import CellSpec, Scenario
from ranml.errors import ConfigError, DataError

__all__ = ["TrafficTrace", "build_trace"]


class TrafficTrace:
    """Offered load (Mbit/s) per cell, linearly interpolated, repeating after its last sample.

    Parameters
    ----------
    step_s
        Sample spacing in seconds.
    mbps
        Samples, shape ``(time, cell)``.
    """

    def __init__(self, step_s: float, mbps: np.ndarray) -> None:
        if mbps.ndim != 2 or mbps.shape[0] < 2:
            raise DataError("a traffic trace needs at least two samples per cell")
        self.step_s = step_s
        self.mbps = np.ascontiguousarray(mbps, dtype=np.float64)
        self.period_s = step_s * mbps.shape[0]

    def at(self, t: float, out: np.ndarray | None = None) -> np.ndarray:
        """Offered load of every cell at simulated second ``t`` (written into ``out`` if given)."""
        pos = (t % self.period_s) / self.step_s
        i = int(pos)
        frac = pos - i
        j = (i + 1) % self.mbps.shape[0]
        if out is None:
            out = np.empty(self.mbps.shape[1])
        np.multiply(self.mbps[i], 1.0 - frac, out=out)
        out += frac * self.mbps[j]
        return out


def _fill(matrix: np.ndarray) -> np.ndarray:
    frame = pd.DataFrame(matrix).interpolate(limit_direction="both").fillna(0.0)
    return frame.to_numpy(dtype=np.float64)


def build_trace(scenario: Scenario, cells: list[CellSpec]) -> TrafficTrace:
    """The offered-load trace for ``cells`` (in the order given) as the scenario describes it."""
    spec = scenario.traffic
    if spec.source == "synth":
        from ranml.telemetry import SynthSpec, generate

        table = generate(SynthSpec(cells=len(cells), days=spec.days, step=spec.step, seed=spec.seed,
                                   start=str(pd.Timestamp(scenario.start).normalize().date()),
                                   missing_rate=0.0, kpis=("traffic",)))
    else:
        from ranml.telemetry import load_table

        assert spec.path is not None  # checked by TrafficSpec
        table = load_table(spec.path, step=spec.step, sort=True)
    _, names, matrix = table.to_matrix(spec.kpi)
    columns = []
    for i, cell in enumerate(cells):
        if cell.trace is not None:
            if cell.trace not in names:
                raise ConfigError(f"cell {cell.name}: trace {cell.trace!r} is not a cell of the traffic source "
                                  f"(have {names[:8]}{'…' if len(names) > 8 else ''})")
            columns.append(names.index(cell.trace))
        else:
            columns.append(i % len(names))
    raw = _fill(matrix[:, columns])
    rng = np.random.default_rng(spec.seed + 7919)
    peaks = rng.uniform(spec.peak_low, spec.peak_high, size=len(cells))
    p99 = np.maximum(np.percentile(raw, 99, axis=0), 1e-9)
    capacity = np.array([c.capacity_mbps for c in cells])
    mbps = raw / p99 * peaks * capacity
    return TrafficTrace(table.step.total_seconds(), mbps)
