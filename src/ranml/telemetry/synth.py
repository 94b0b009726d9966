"""A synthetic cellular telemetry generator, deterministic by seed.

The generator reproduces statistics measured on real cellular traffic (city-scale operator data and
the Telecom Italia Milan set), so that models benchmarked on it face the same difficulties:

* a diurnal cycle with its trough at 03–05 h and its peak between 12 and 21 h (business cells peak
  early afternoon, residential cells in the evening); the peak/trough ratio of single cells ranges
  from about 2.5 to about 20, aggregated areas sit at the low end;
* a weekly factor between about 0.85 and 1.35 (weekend days low), holidays behaving like Sundays;
* right-skewed marginals (skewness about 2, p99 about 5–8× the mean) with a few per cent zeros;
* heavy-tailed scale across cells (log-normal, the top 10 % of cells carry about half the traffic);
* spatial correlation: neighbouring cells share a noise field (≈0.9 correlation on raw values,
  ≈0.7 on increments);
* autocorrelation at lags 1 h / 24 h / 168 h of about 0.8 / 0.7 / 0.7;
* PRB utilisation as a bounded (0–100 %) saturating function of load; active UEs roughly
  proportional to load;
* occasional bursts (events) and missing samples (absent rows).

Cells sit on a square grid and use the Milan square-id convention (``id = 100·row + col + 1``) so the
same data feeds spatio-temporal models through :func:`ranml.telemetry.grid.build_grid`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ranml.errors import DataError
from ranml.telemetry.grid import GRID_SIDE, square_id
from ranml.telemetry.table import CELL, TIME, TelemetryTable

__all__ = ["SYNTH_KPIS", "SynthSpec", "generate", "neighbours"]

SYNTH_KPIS = ["traffic", "prb_util", "active_ues"]

# Relative daily volume per weekday (Mon..Sun); weekend low, Friday high.
# Shape constants, tuned against the statistics above (see docs/benchmark.md for the measured values).
PEAKINESS = 6.0  # exponent sharpening the daytime peaks (skewed marginals)
AREA_SHARE = 0.7  # weight of the area-wide noise in the shared noise (neighbour correlation)
DEPTH_POWER = 1.0  # skew of the per-cell peak/trough depth between 2.5 and 20
BURST_LOW, BURST_HIGH = 1.5, 4.0  # event multipliers (cell + neighbours; next ring at half)
_WEEKDAY_FACTOR = np.array([1.06, 1.09, 1.10, 1.12, 1.18, 0.92, 0.86])


@dataclass(frozen=True)
class SynthSpec:
    """Parameters of the generator (defaults reproduce the statistics in the module docstring).

    Parameters
    ----------
    cells
        Number of cells; they fill a square block of the grid row by row.
    days
        Length in days.
    step
        Reporting period.
    seed
        Random seed; the same spec always gives the same table.
    start
        First timestamp (UTC). Default: a Monday.
    holidays
        Dates (``YYYY-MM-DD``) that behave like Sundays.
    missing_rate
        Fraction of samples dropped (absent rows), plus a few multi-hour outages.
    burst_rate
        Expected bursts (events) per cell per week.
    noise_sigma, noise_phi_per_hour, shared_noise
        Log-space noise: standard deviation, AR(1) correlation after one hour, and the share of
        its variance common to a neighbourhood.
    scale_sigma
        Log-normal spread of cell scales (1.28: top 10 % of cells ≈ half the traffic).
    zero_level
        Load (relative to the cell's scale) under which slots may report zero activity.
    business_range
        Range of the cells' business share (0: residential evening peak, 1: office daytime peak
        and quiet weekends). A narrow range gives a site one traffic mix (non-IID sites).
    """

    cells: int = 16
    days: int = 28
    step: str = "15min"
    seed: int = 0
    start: str = "2026-03-02"
    holidays: tuple[str, ...] = ()
    missing_rate: float = 0.003
    burst_rate: float = 0.25
    noise_sigma: float = 0.22
    noise_phi_per_hour: float = 0.55
    shared_noise: float = 0.97
    scale_sigma: float = 1.28
    zero_level: float = 0.15
    kpis: tuple[str, ...] = field(default=tuple(SYNTH_KPIS))
    business_range: tuple[float, float] = (0.0, 1.0)

    def validate(self) -> None:
        """Raise :class:`DataError` naming the bad parameter."""
        if self.cells < 1:
            raise DataError(f"cells must be >= 1, got {self.cells}")
        if self.days < 1:
            raise DataError(f"days must be >= 1, got {self.days}")
        step = pd.Timedelta(self.step)
        if step <= pd.Timedelta(0) or pd.Timedelta("1D") % step != pd.Timedelta(0):
            raise DataError(f"step must divide one day, got {self.step!r}; use e.g. '15min'")
        if not 0 <= self.missing_rate < 0.5:
            raise DataError(f"missing_rate must be in [0, 0.5), got {self.missing_rate}")
        low, high = self.business_range
        if not 0.0 <= low <= high <= 1.0:
            raise DataError(f"business_range must satisfy 0 <= low <= high <= 1, got {self.business_range}")
        unknown = set(self.kpis) - set(SYNTH_KPIS)
        if unknown:
            raise DataError(f"unknown synthetic KPIs {sorted(unknown)}; valid: {SYNTH_KPIS}")


def _grid_side(cells: int) -> int:
    return max(1, math.ceil(math.sqrt(cells)))


def _positions(cells: int) -> list[tuple[int, int]]:
    side = _grid_side(cells)
    return [(i // side, i % side) for i in range(cells)]


def neighbours(cells: int) -> dict[int, list[int]]:
    """Index-based 4-neighbourhood of the generator's cell layout."""
    pos = _positions(cells)
    where = {p: i for i, p in enumerate(pos)}
    out: dict[int, list[int]] = {}
    for i, (r, c) in enumerate(pos):
        out[i] = [where[q] for q in ((r - 1, c), (r + 1, c), (r, c - 1), (r, c + 1)) if q in where]
    return out


def _bump(hours: np.ndarray, centre: float, width: float) -> np.ndarray:
    d = np.abs(((hours - centre) + 12.0) % 24.0 - 12.0)
    return np.exp(-0.5 * (d / width) ** 2)


def _daily_shape(hours: np.ndarray, business: float, ratio: float) -> np.ndarray:
    """Diurnal profile with minimum ≈1/ratio near 04 h and maximum 1 between 12 and 21 h."""
    day = 0.3 * _bump(hours, 10.0, 3.0) + business * _bump(hours, 13.0, 2.2)
    day = day + (1.0 - business) * _bump(hours, 20.5, 2.0) + 0.2 * _bump(hours, 16.5, 3.5)
    night = _bump(hours, 4.0, 1.4)
    raw = day - 0.5 * night
    lo, hi = raw.min(), raw.max()
    base = (raw - lo) / (hi - lo)
    unit = 0.85 * base**PEAKINESS + 0.15 * base
    trough = 1.0 / ratio
    return trough + (1.0 - trough) * unit


def _ar1(rng: np.random.Generator, n: int, k: int, phi: float) -> np.ndarray:
    """``k`` independent unit-variance AR(1) series of length ``n`` (columns)."""
    eps = rng.standard_normal((n, k)) * math.sqrt(1.0 - phi * phi)
    out = np.empty((n, k))
    out[0] = rng.standard_normal(k)
    for t in range(1, n):
        out[t] = phi * out[t - 1] + eps[t]
    return out


def _smooth_static(values: np.ndarray, cells: int) -> np.ndarray:
    """Smooth per-cell values over the neighbourhood twice and rescale to [0, 1]."""
    nb = neighbours(cells)
    out = values
    for _ in range(4):
        out = np.array([out[[i, *js]].mean() for i, js in nb.items()])
    lo, hi = out.min(), out.max()
    return (out - lo) / (hi - lo) if hi > lo else np.full_like(out, 0.5)


def _smooth_field(noise: np.ndarray, cells: int) -> np.ndarray:
    """Average each cell's noise with its neighbours' (spatially correlated field)."""
    nb = neighbours(cells)
    out = noise
    for _ in range(2):
        nxt = np.empty_like(out)
        for i, js in nb.items():
            nxt[:, i] = out[:, [i, *js]].mean(axis=1)
        out = nxt
    return out / out.std(axis=0, keepdims=True).clip(1e-9)


def generate(spec: SynthSpec | None = None, **overrides: object) -> TelemetryTable:
    """Generate a telemetry table.

    Parameters
    ----------
    spec
        Generator parameters; keyword overrides are applied on top (``generate(cells=64)``).

    Returns
    -------
    TelemetryTable
        KPIs ``traffic`` (Mbit/s offered), ``prb_util`` (% 0–100) and ``active_ues``.
    """
    spec = spec or SynthSpec()
    if overrides:
        spec = SynthSpec(**{**spec.__dict__, **overrides})  # type: ignore[arg-type]
    spec.validate()
    rng = np.random.default_rng(spec.seed)
    step = pd.Timedelta(spec.step)
    times = pd.date_range(pd.Timestamp(spec.start), periods=int(spec.days * pd.Timedelta("1D") / step), freq=step)
    n, k = len(times), spec.cells
    steps_per_hour = pd.Timedelta("1h") / step
    hours = (times.hour + times.minute / 60.0).to_numpy(dtype=np.float64)

    # Per-cell character: scale (heavy tail), business vs residential mix, diurnal depth.
    # Neighbouring cells serve similar areas: business mix and diurnal depth vary smoothly.
    scale = np.exp(rng.normal(0.0, spec.scale_sigma, k)) * 20.0
    low, high = spec.business_range
    business = low + (high - low) * _smooth_static(rng.uniform(0.0, 1.0, k), k)
    depth = _smooth_static(rng.uniform(0.0, 1.0, k), k) ** DEPTH_POWER
    ratio = np.exp(math.log(2.5) + (math.log(20.0) - math.log(2.5)) * depth)
    shape = np.stack([_daily_shape(hours, business[j], ratio[j]) for j in range(k)], axis=1)

    # Weekly factor; holidays like Sundays; business cells drop more at weekends.
    holidays = {pd.Timestamp(d).normalize() for d in spec.holidays}
    dow = np.where(times.normalize().isin(list(holidays)), 6, times.day_of_week)
    week = _WEEKDAY_FACTOR[dow][:, None] ** (0.6 + 0.8 * business[None, :])

    # Log-space noise: a spatially shared field plus an idiosyncratic part; a slow day-level part.
    phi = spec.noise_phi_per_hour ** (1.0 / steps_per_hour)
    area = _ar1(rng, n, 1, phi)
    shared = _smooth_field(_ar1(rng, n, k, phi), k)
    own = _ar1(rng, n, k, phi)
    a = math.sqrt(spec.shared_noise)
    local = AREA_SHARE * area + math.sqrt(1 - AREA_SHARE**2) * shared
    noise = spec.noise_sigma * (a * local + math.sqrt(1 - a * a) * own)
    day_index = np.arange(n) // round(24 * steps_per_hour)
    day_level = _ar1(rng, int(day_index.max()) + 1, 1, 0.5)[:, 0]
    noise = noise + 0.06 * day_level[day_index][:, None]
    load = scale[None, :] * shape * week * np.exp(noise - 0.5 * spec.noise_sigma**2)

    # Bursts: events lasting 1–4 h, ×1.5–4, sometimes spilling to neighbours.
    nb = neighbours(k)
    n_bursts = rng.poisson(spec.burst_rate * spec.days / 7.0 * k)
    for _ in range(n_bursts):
        j = int(rng.integers(k))
        t0 = int(rng.integers(n))
        length = int(rng.integers(1, 5) * steps_per_hour)
        factor = rng.uniform(BURST_LOW, BURST_HIGH)
        # An event covers a neighbourhood: the cell and its neighbours fully, the next ring half.
        ring1 = set(nb[j])
        ring2 = {q for m in ring1 for q in nb[m]} - ring1 - {j}
        for m in {j} | ring1:
            load[t0 : t0 + length, m] *= factor
        for m in ring2:
            load[t0 : t0 + length, m] *= 1.0 + 0.5 * (factor - 1.0)

    # Zeros at low load (no activity in a slot).
    threshold = spec.zero_level * scale[None, :]
    p_zero = np.clip(1.0 - load / np.maximum(threshold, 1e-12), 0.0, 1.0)
    load = np.where(rng.random(load.shape) < p_zero, 0.0, load)

    # PRB utilisation saturates at capacity; capacity sits near each cell's busy-hour load.
    capacity = scale * rng.uniform(0.7, 1.3, k)
    prb = 100.0 * (1.0 - np.exp(-1.2 * load / capacity[None, :]))
    prb = np.clip(prb + rng.normal(0.0, 0.8, prb.shape) * (load > 0), 0.0, 100.0)
    ues = rng.poisson(load / 1.5 + 0.2).astype(np.float64)

    values = {"traffic": load, "prb_util": prb, "active_ues": ues}
    pos = _positions(k)
    ids = np.array([str(square_id(r, c, GRID_SIDE)) for r, c in pos])
    frame = pd.DataFrame(
        {
            CELL: np.tile(ids, n),
            TIME: np.repeat(times.to_numpy(), k),
            **{kpi: values[kpi].reshape(-1) for kpi in spec.kpis},
        }
    )

    # Missing samples: isolated drops plus a few outages of 1–6 hours.
    keep = rng.random(n * k) >= spec.missing_rate
    keep2 = keep.reshape(n, k)
    for _ in range(rng.poisson(0.02 * k * spec.days / 7.0)):
        j, t0 = int(rng.integers(k)), int(rng.integers(n))
        keep2[t0 : t0 + int(rng.integers(1, 7) * steps_per_hour), j] = False
    frame = frame[keep2.reshape(-1)]
    return TelemetryTable.from_frame(frame, step, kpis=list(spec.kpis), source=f"synth(seed={spec.seed})")


def grid_cells(cells: Sequence[str]) -> int:
    """Side of the square block that ``cells`` generator cells occupy."""
    return _grid_side(len(cells))
