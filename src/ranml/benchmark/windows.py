"""Windowing: past/future windows, calendar features, train-only scalers, chronological splits.

The harness turns a :class:`TelemetryTable` into arrays; models only ever see arrays.

* Series view: ``x[n, input_steps, features]`` → ``y[n, horizon]`` (one target KPI), one window
  per cell and start position; features are the target first, then extra KPIs, then calendar.
* Grid view: ``x[n, input_steps, rows, cols]`` → ``y[n, horizon, rows, cols]`` (target only).

Scalers are fitted on the training split only (per cell and feature), splits are chronological
(by ratio or by dates) and gaps are handled explicitly: gaps up to ``max_gap_steps`` are linearly
interpolated, windows touching a longer gap are dropped (and counted).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd
from numpy.lib.stride_tricks import sliding_window_view

from ranml.config import RanmlModel
from ranml.errors import DataError
from ranml.telemetry import TelemetryTable

__all__ = [
    "Scaler",
    "SplitSpec",
    "WindowSpec",
    "WindowedData",
    "make_grid_windows",
    "make_windows",
]

log = logging.getLogger("ranml.telemetry")

CALENDAR_FEATURES = ("hour_sin", "hour_cos", "dow_sin", "dow_cos")


class SplitSpec(RanmlModel):
    """Chronological split: by ratios, or by dates (``train_end`` / ``val_end``, exclusive)."""

    train: float = 0.7
    val: float = 0.1
    train_end: str | None = None
    val_end: str | None = None


class WindowSpec(RanmlModel):
    """How windows are cut from the table."""

    input_steps: int = 96
    horizon: int = 4
    stride: int = 1
    target: str = "traffic"
    features: list[str] = []
    calendar: bool = True
    scaler: Literal["standard", "minmax", "none"] = "standard"
    max_gap_steps: int = 4
    split: SplitSpec = SplitSpec()
    max_train_windows: int | None = None
    max_eval_windows: int | None = None


@dataclass(frozen=True)
class Scaler:
    """Per-cell, per-feature affine scaler: ``z = (x - shift) / scale``."""

    shift: np.ndarray
    scale: np.ndarray
    kind: str

    def transform(self, x: np.ndarray, cells: np.ndarray) -> np.ndarray:
        """Scale ``x[n, ..., f]`` whose rows belong to ``cells[n]``."""
        shape = (len(cells),) + (1,) * (x.ndim - 2) + (x.shape[-1],)
        return (x - self.shift[cells].reshape(shape)) / self.scale[cells].reshape(shape)

    def inverse(self, z: np.ndarray, cells: np.ndarray) -> np.ndarray:
        """Undo :meth:`transform`: ``z[n, ..., f]`` scaled values of ``cells[n]`` back to original units."""
        shape = (len(cells),) + (1,) * (z.ndim - 2) + (z.shape[-1],)
        return z * self.scale[cells].reshape(shape) + self.shift[cells].reshape(shape)

    def inverse_target(self, y: np.ndarray, cells: np.ndarray, index: int = 0) -> np.ndarray:
        """Undo the scaling of target values ``y[n, ...]`` (feature ``index``)."""
        shape = (len(cells),) + (1,) * (y.ndim - 1)
        return y * self.scale[cells, index].reshape(shape) + self.shift[cells, index].reshape(shape)

    def to_dict(self) -> dict[str, object]:
        """JSON-friendly form (for artefact metadata)."""
        return {"kind": self.kind, "shift": self.shift.tolist(), "scale": self.scale.tolist()}


@dataclass
class WindowedData:
    """Arrays for one (dataset, window spec): scaled inputs/targets per split plus bookkeeping."""

    x: dict[str, np.ndarray]
    y: dict[str, np.ndarray]
    cell: dict[str, np.ndarray]
    time: dict[str, np.ndarray]
    scaler: Scaler
    cells: list[str]
    feature_names: list[str]
    target_index: int
    step: pd.Timedelta
    season_steps: int
    mase_scale: np.ndarray
    """Seasonal-naive in-sample MAE: per cell (series) or per square ``[rows, cols]`` (grid)."""
    dropped_windows: int = 0
    kind: str = "series"
    grid_origin: tuple[int, int] | None = None
    extra: dict[str, object] = field(default_factory=dict)

    @property
    def input_steps(self) -> int:
        """Length of the input window."""
        return int(self.x["train"].shape[1])

    @property
    def horizon(self) -> int:
        """Number of forecast steps."""
        return int(self.y["train"].shape[1])

    def actual(self, split: str) -> np.ndarray:
        """Targets of ``split`` in original units."""
        return self.inverse(self.y[split], split)

    def model_shape(self) -> Any:
        """The :class:`~ranml.benchmark.models.ModelShape` of models trained on these windows."""
        from ranml.benchmark.models.base import ModelShape

        spatial = self.kind == "grid"
        features = 1 if spatial else int(self.x["train"].shape[-1])
        return ModelShape(
            input_steps=self.input_steps, horizon=self.horizon, n_features=features,
            target_index=self.target_index, season_steps=self.season_steps,
            grid=(int(self.x["train"].shape[2]), int(self.x["train"].shape[3])) if spatial else None,
        )

    def mase_scale_for(self, split: str) -> np.ndarray:
        """MASE denominators broadcastable to the targets of ``split``."""
        if self.kind == "grid":
            return self.mase_scale[None, None]
        return self.mase_scale[self.cell[split]][:, None]

    def inverse(self, y_scaled: np.ndarray, split: str) -> np.ndarray:
        """Turn scaled forecasts of ``split`` (all its rows, or its first rows) back into original units."""
        if self.kind == "grid":
            grid = y_scaled.shape[-2:]
            return y_scaled * self.scaler.scale[:, 0].reshape(grid) + self.scaler.shift[:, 0].reshape(grid)
        # ``y_scaled`` may cover only the first rows of the split (e.g. a parity sample).
        return self.scaler.inverse_target(y_scaled, self.cell[split][: len(y_scaled)], self.target_index)


def _calendar(times: pd.DatetimeIndex) -> np.ndarray:
    hour = (times.hour + times.minute / 60.0).to_numpy(dtype=np.float64)
    dow = times.day_of_week.to_numpy(dtype=np.float64) + hour / 24.0
    return np.stack(
        [np.sin(2 * np.pi * hour / 24), np.cos(2 * np.pi * hour / 24),
         np.sin(2 * np.pi * dow / 7), np.cos(2 * np.pi * dow / 7)],
        axis=1,
    )


def _fill_short_gaps(values: np.ndarray, max_gap: int) -> np.ndarray:
    """Linearly interpolate interior NaN runs of at most ``max_gap`` steps along axis 0 (per column).

    Longer runs, and runs at either end, stay NaN: windows touching them are dropped.
    """
    out = np.array(values, dtype=np.float64, copy=True)
    if max_gap <= 0:
        return out
    steps = np.arange(out.shape[0])
    for c in range(out.shape[1]):
        col = out[:, c]
        na = np.isnan(col)
        if not na.any() or na.all():
            continue
        # Run lengths of NaN stretches, broadcast back to every position of the run.
        edges = np.diff(np.concatenate(([0], na.view(np.int8), [0])))
        run_start, run_end = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
        fill = np.zeros_like(na)
        for a, b in zip(run_start, run_end, strict=True):
            if b - a <= max_gap and a > 0 and b < len(col):
                fill[a:b] = True
        if fill.any():
            ok = ~na
            col[fill] = np.interp(steps[fill], steps[ok], col[ok])
    return out


def _split_bounds(times: pd.DatetimeIndex, split: SplitSpec) -> tuple[pd.Timestamp, pd.Timestamp]:
    if split.train_end or split.val_end:
        if not (split.train_end and split.val_end):
            raise DataError("split: give both train_end and val_end, or neither (use ratios)")
        a, b = pd.Timestamp(split.train_end), pd.Timestamp(split.val_end)
        if not times[0] < a < b <= times[-1]:
            raise DataError(
                f"split: need {times[0]} < train_end < val_end <= {times[-1]}, got {a} / {b}"
            )
        return a, b
    if not (0 < split.train < 1 and 0 <= split.val < 1 and split.train + split.val < 1):
        raise DataError(f"split: ratios train={split.train} val={split.val} must be in (0,1) and sum < 1")
    n = len(times)
    return times[int(n * split.train)], times[int(n * (split.train + split.val))]


def _assign(target_start: np.ndarray, target_end: np.ndarray, a: np.datetime64,
            b: np.datetime64) -> dict[str, np.ndarray]:
    """Split membership by target times: train ends before ``a``, val lies in ``[a, b)``, test after."""
    return {
        "train": target_end < a,
        "val": (target_start >= a) & (target_end < b),
        "test": target_start >= b,
    }


def _subsample(mask: np.ndarray, limit: int | None) -> np.ndarray:
    idx = np.flatnonzero(mask)
    if limit is not None and len(idx) > limit:
        idx = idx[np.linspace(0, len(idx) - 1, limit).round().astype(int)]
    return idx


def make_windows(table: TelemetryTable, spec: WindowSpec) -> WindowedData:
    """Cut series windows from every cell of ``table``.

    Raises
    ------
    DataError
        Unknown target/feature, or a cell/split without a single complete window (names the cell
        and the fix).
    """
    for name in [spec.target, *spec.features]:
        if name not in table.kpis:
            raise DataError(f"windows: KPI {name!r} is not in the data (have {table.kpis})")
    if spec.input_steps < 1 or spec.horizon < 1 or spec.stride < 1:
        raise DataError("windows: input_steps, horizon and stride must be >= 1")
    kpis = [spec.target, *[f for f in spec.features if f != spec.target]]
    mats = []
    times = None
    for kpi in kpis:
        times, cell_order, m = table.to_matrix(kpi)
        mats.append(m)
    assert times is not None
    values = np.stack(mats, axis=2)  # [T, C, K]
    T, C, K = values.shape
    L, H = spec.input_steps, spec.horizon
    if T < L + H:
        raise DataError(
            f"windows: the series has {T} steps, shorter than one window ({L} input + {H} horizon); "
            "use a shorter input_steps/horizon or more data"
        )
    a, b = _split_bounds(times, spec.split)
    cal = _calendar(times) if spec.calendar else np.zeros((T, 0))
    filled = _fill_short_gaps(values.reshape(T, C * K), spec.max_gap_steps).reshape(T, C, K)
    train_rows = times < a
    # Per-cell scalers from the training period only.
    if spec.scaler == "standard":
        shift = np.nanmean(filled[train_rows], axis=0)
        scale = np.nanstd(filled[train_rows], axis=0)
    elif spec.scaler == "minmax":
        shift = np.nanmin(filled[train_rows], axis=0)
        scale = np.nanmax(filled[train_rows], axis=0) - shift
    else:
        shift = np.zeros((C, K))
        scale = np.ones((C, K))
    bad = ~np.isfinite(shift[:, 0])
    if bad.any():
        raise DataError(
            f"windows: cell {cell_order[int(np.flatnonzero(bad)[0])]!r} has no {spec.target!r} values "
            "in the training split; drop the cell or move the split"
        )
    shift = np.nan_to_num(shift)
    scale = np.where(np.isfinite(scale) & (scale > 1e-9), scale, 1.0)
    season = int(pd.Timedelta("1D") / table.step)
    seasonal = filled[train_rows][:, :, 0]
    lag = season if len(seasonal) > season else 1  # seasonal naive, or naive on short training data
    mase = np.nanmean(np.abs(seasonal[lag:] - seasonal[:-lag]), axis=0)
    mase = np.where(np.isfinite(mase) & (mase > 1e-9), mase, 1.0)

    scaled = (filled - shift[None]) / scale[None]
    n_starts = T - L - H + 1
    starts = np.arange(0, n_starts, spec.stride)
    time_ns = times.to_numpy()
    xs: dict[str, list[np.ndarray]] = {"train": [], "val": [], "test": []}
    ys: dict[str, list[np.ndarray]] = {"train": [], "val": [], "test": []}
    cs: dict[str, list[np.ndarray]] = {"train": [], "val": [], "test": []}
    ts: dict[str, list[np.ndarray]] = {"train": [], "val": [], "test": []}
    dropped = 0
    cal_win = sliding_window_view(cal, L, axis=0)[starts] if cal.shape[1] else None
    for c in range(C):
        series = scaled[:, c, :]
        xw = sliding_window_view(series, L, axis=0)[starts]  # [n, K, L]
        yw = sliding_window_view(series[:, 0], H)[starts + L]  # [n, H]
        ok = np.isfinite(xw).all(axis=(1, 2)) & np.isfinite(yw).all(axis=1)
        dropped += int((~ok).sum())
        target_start = time_ns[starts + L]
        target_end = time_ns[starts + L + H - 1]
        masks = _assign(target_start, target_end, a.to_datetime64(), b.to_datetime64())
        x_full = np.transpose(xw, (0, 2, 1))
        if cal_win is not None:
            x_full = np.concatenate([x_full, np.transpose(cal_win, (0, 2, 1))], axis=2)
        for split, mask in masks.items():
            sel = mask & ok
            xs[split].append(x_full[sel].astype(np.float32))
            ys[split].append(yw[sel].astype(np.float32))
            cs[split].append(np.full(int(sel.sum()), c, dtype=np.int64))
            ts[split].append(target_start[sel])
    out_x, out_y, out_c, out_t = {}, {}, {}, {}
    for split in ("train", "val", "test"):
        x = np.concatenate(xs[split]) if xs[split] else np.zeros((0, L, K + cal.shape[1]), np.float32)
        if len(x) == 0:
            raise DataError(
                f"windows: the {split} split has no complete window (series of {T} steps, window "
                f"{L}+{H}, split at {a} / {b}); use more data, a shorter window or other split ratios"
            )
        limit = spec.max_train_windows if split == "train" else spec.max_eval_windows
        idx = _subsample(np.ones(len(x), bool), limit)
        out_x[split] = np.ascontiguousarray(x[idx])
        out_y[split] = np.ascontiguousarray(np.concatenate(ys[split])[idx])
        out_c[split] = np.concatenate(cs[split])[idx]
        out_t[split] = np.concatenate(ts[split])[idx]
    if dropped:
        log.info("dropped %d windows touching gaps longer than %d steps", dropped, spec.max_gap_steps)
    names = kpis + (list(CALENDAR_FEATURES) if spec.calendar else [])
    return WindowedData(
        x=out_x, y=out_y, cell=out_c, time=out_t,
        scaler=Scaler(shift=shift, scale=scale, kind=spec.scaler),
        cells=list(cell_order), feature_names=names, target_index=0, step=table.step,
        season_steps=season, mase_scale=mase, dropped_windows=dropped,
    )


def make_grid_windows(table: TelemetryTable, spec: WindowSpec) -> WindowedData:
    """Cut grid windows ``x[n, L, rows, cols]`` → ``y[n, H, rows, cols]`` (cells = square ids).

    Positions without data are filled with the training mean (after scaling: 0); a global scaler
    fitted on the training period keeps the spatial structure intact.
    """
    from ranml.telemetry import build_grid

    if spec.target not in table.kpis:
        raise DataError(f"windows: KPI {spec.target!r} is not in the data (have {table.kpis})")
    grid = build_grid(table, spec.target)
    v = grid.values  # [T, R, C]
    T, R, Cc = v.shape
    L, H = spec.input_steps, spec.horizon
    if T < L + H:
        raise DataError(f"windows: the series has {T} steps, shorter than one window ({L}+{H})")
    a, b = _split_bounds(grid.times, spec.split)
    filled = _fill_short_gaps(v.reshape(T, R * Cc), spec.max_gap_steps).reshape(T, R, Cc)
    train_rows = grid.times < a
    # Per-square scaling: cell scales are heavy-tailed, a global scaler would let a few squares
    # dominate the loss. Squares without training data get the grid-wide statistics.
    mu = np.nanmean(filled[train_rows], axis=0)
    sd = np.nanstd(filled[train_rows], axis=0)
    mu = np.where(np.isfinite(mu), mu, np.nanmean(filled[train_rows]))
    sd = np.where(np.isfinite(sd) & (sd > 1e-9), sd, float(np.nanstd(filled[train_rows])) or 1.0)
    z = (filled - mu[None]) / sd[None]
    z = np.where(np.isfinite(z), z, 0.0)
    starts = np.arange(0, T - L - H + 1, spec.stride)
    xw = np.stack([z[s : s + L] for s in starts]).astype(np.float32)
    yw = np.stack([z[s + L : s + L + H] for s in starts]).astype(np.float32)
    tns = grid.times.to_numpy()
    masks = _assign(tns[starts + L], tns[starts + L + H - 1], a.to_datetime64(), b.to_datetime64())
    season = int(pd.Timedelta("1D") / table.step)
    tr = filled[train_rows]
    mase = np.nanmean(np.abs(tr[season:] - tr[:-season]), axis=0) if len(tr) > season else np.ones((R, Cc))
    mase = np.where(np.isfinite(mase) & (mase > 1e-9), mase, 1.0)
    out_x, out_y, out_c, out_t = {}, {}, {}, {}
    for split, mask in masks.items():
        limit = spec.max_train_windows if split == "train" else spec.max_eval_windows
        idx = _subsample(mask, limit)
        if len(idx) == 0:
            raise DataError(f"windows: the {split} split has no complete grid window; use more data")
        out_x[split], out_y[split] = xw[idx], yw[idx]
        out_c[split] = np.zeros(len(idx), dtype=np.int64)
        out_t[split] = tns[starts + L][idx]
    cells = [str(100 * (grid.origin[0] + r) + grid.origin[1] + c + 1) for r in range(R) for c in range(Cc)]
    return WindowedData(
        x=out_x, y=out_y, cell=out_c, time=out_t,
        scaler=Scaler(shift=mu.reshape(-1, 1), scale=sd.reshape(-1, 1), kind="standard"),
        cells=cells, feature_names=[spec.target], target_index=0, step=table.step,
        season_steps=season, mase_scale=mase,
        kind="grid", grid_origin=grid.origin,
    )
