"""Statistics that characterise cellular traffic, used to check the synthetic generator.

All functions take a :class:`TelemetryTable` and a KPI; gaps are handled explicitly (NaN-aware).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from ranml.telemetry.grid import GRID_SIDE, square_pos
from ranml.telemetry.table import TelemetryTable

__all__ = ["TrafficStats", "grid_neighbour_pairs", "traffic_stats"]


def grid_neighbour_pairs(cells: list[str]) -> list[tuple[int, int]]:
    """Index pairs of cells that are 4-neighbours on the square grid (ids = square ids).

    Cells whose ids are not square ids have no neighbours.
    """
    where: dict[tuple[int, int], int] = {}
    for i, cell in enumerate(cells):
        if cell.isdigit() and 1 <= int(cell) <= GRID_SIDE * GRID_SIDE:
            where[square_pos(int(cell))] = i
    pairs = []
    for (row, col), i in where.items():
        for q in ((row + 1, col), (row, col + 1)):
            if q in where:
                pairs.append((i, where[q]))
    return pairs


@dataclass(frozen=True)
class TrafficStats:
    """Measured statistics (medians over cells unless stated)."""

    trough_hour: float
    peak_hour: float
    cell_trough_hours_ok: float
    cell_peak_hours_ok: float
    peak_trough_cell_p10: float
    peak_trough_cell_p90: float
    peak_trough_aggregate: float
    weekly_min: float
    weekly_max: float
    holiday_vs_sunday: float | None
    skewness: float
    p99_over_mean: float
    zero_fraction: float
    top10_share: float
    neighbour_corr_raw: float
    neighbour_corr_diff: float
    acf_1h: float
    acf_24h: float
    acf_168h: float
    missing_fraction: float

    def as_dict(self) -> dict[str, float | None]:
        """Plain dictionary (for JSON)."""
        return asdict(self)


def _acf(x: np.ndarray, lag: int) -> float:
    a, b = x[:-lag], x[lag:]
    ok = np.isfinite(a) & np.isfinite(b)
    if ok.sum() < 10:
        return float("nan")
    return float(np.corrcoef(a[ok], b[ok])[0, 1])


def _corr(a: np.ndarray, b: np.ndarray) -> float:
    ok = np.isfinite(a) & np.isfinite(b)
    return float(np.corrcoef(a[ok], b[ok])[0, 1])


def traffic_stats(
    table: TelemetryTable,
    kpi: str = "traffic",
    holidays: tuple[str, ...] = (),
) -> TrafficStats:
    """Measure the statistics listed in :mod:`ranml.telemetry.synth` on one KPI.

    Parameters
    ----------
    table
        Telemetry.
    kpi
        The load KPI.
    holidays
        Dates to compare with Sundays.
    """
    times, cells, m = table.to_matrix(kpi)
    neighbour_pairs = grid_neighbour_pairs(cells)
    hours = times.hour.to_numpy()
    steps_per_hour = int(pd.Timedelta("1h") / table.step)
    missing = float(np.isnan(m).mean())

    # Diurnal profile per cell: mean by hour of day.
    frame = pd.DataFrame(m, index=times)
    by_hour = frame.groupby(hours).mean()
    cell_trough = by_hour.idxmin().to_numpy()
    cell_peak = by_hour.idxmax().to_numpy()
    ratio = (by_hour.max() / by_hour.min().clip(lower=1e-9)).to_numpy()
    agg = frame.sum(axis=1, min_count=1)
    agg_hour = agg.groupby(hours).mean()

    # Weekly factors on cell-normalised traffic, so a few large cells do not dominate.
    norm = (frame / frame.mean()).mean(axis=1)
    daily = norm.resample("1D").mean()
    weekly = daily / daily.mean()
    dow = weekly.groupby(pd.DatetimeIndex(weekly.index).day_of_week).mean()
    hol_ratio: float | None = None
    if holidays:
        found = [weekly.get(pd.Timestamp(d)) for d in holidays]
        hol = [float(h) for h in found if h is not None and np.isfinite(h)]
        if hol:
            hol_ratio = float(np.mean(hol) / dow.loc[6])

    skews, p99s, zeros = [], [], []
    for j in range(m.shape[1]):
        x = m[:, j][np.isfinite(m[:, j])]
        mu, sd = x.mean(), x.std()
        skews.append(float(((x - mu) ** 3).mean() / sd**3))
        p99s.append(float(np.percentile(x, 99) / mu))
        zeros.append(float((x == 0).mean()))

    totals = np.nansum(m, axis=0)
    top = np.sort(totals)[::-1]
    top10 = float(top[: max(1, round(0.1 * len(top)))].sum() / top.sum())

    raw_c, diff_c = [], []
    for i, j in neighbour_pairs:
        raw_c.append(_corr(m[:, i], m[:, j]))
        diff_c.append(_corr(np.diff(m[:, i]), np.diff(m[:, j])))

    acfs = {lag: np.nanmedian([_acf(m[:, j], lag * steps_per_hour) for j in range(m.shape[1])])
            for lag in (1, 24, 168)}
    return TrafficStats(
        trough_hour=float(agg_hour.to_numpy().argmin()),
        peak_hour=float(agg_hour.to_numpy().argmax()),
        cell_trough_hours_ok=float(np.mean((cell_trough >= 2) & (cell_trough <= 6))),
        cell_peak_hours_ok=float(np.mean((cell_peak >= 11) & (cell_peak <= 22))),
        peak_trough_cell_p10=float(np.percentile(ratio, 10)),
        peak_trough_cell_p90=float(np.percentile(ratio, 90)),
        peak_trough_aggregate=float(agg_hour.max() / agg_hour.min()),
        weekly_min=float(dow.min()),
        weekly_max=float(dow.max()),
        holiday_vs_sunday=hol_ratio,
        skewness=float(np.median(skews)),
        p99_over_mean=float(np.median(p99s)),
        zero_fraction=float(np.median(zeros)),
        top10_share=top10,
        neighbour_corr_raw=float(np.mean(raw_c)) if raw_c else float("nan"),
        neighbour_corr_diff=float(np.mean(diff_c)) if diff_c else float("nan"),
        acf_1h=float(acfs[1]),
        acf_24h=float(acfs[24]),
        acf_168h=float(acfs[168]),
        missing_fraction=missing,
    )
