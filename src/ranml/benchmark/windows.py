"""Windowing: past/future windows, calendar features, train-only scalers, chronological splits.

The harness turns a :class:`TelemetryTable` into arrays; models only ever see arrays.

* Series view: ``x[n, input_steps, features]`` → ``y[n, horizon]`` (one target KPI), one window
  per cell and start position; features are the target first, then extra KPIs, then calendar.
* Grid view: ``x[n, input_steps, rows, cols]`` → ``y[n, horizon, rows, cols]`` (target only).
* Patch view: ``x[n, input_steps, K, K]`` (the K×K squares around a cell) → ``y[n, horizon]`` of
  that cell: the series view's windows with a neighbourhood as input.

Scalers are fitted on the training split only (per cell and feature). Splits are chronological:
by ratios, by dates (or step numbers on an integer clock), or the last ``test_steps`` /
``val_steps`` steps. Gaps are handled explicitly and accounted for (:class:`GapReport`): gaps of
up to ``max_gap_steps`` are linearly interpolated for the inputs, windows touching a longer gap
are dropped, and interpolated points are never scored.

Both views of one dataset are scored on the same targets (:class:`ScoreSet`): the test windows of
the series view, in original units, with the same MASE scale per cell; a grid forecast is read at
each cell's square. So a grid model and a series model on one dataset compare.
"""

from __future__ import annotations

import datetime
import hashlib
import logging
import warnings
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

import numpy as np
import pandas as pd
from numpy.lib.stride_tricks import sliding_window_view
from pydantic import Field, field_validator

from ranml.benchmark.gaps import GapReport, gap_counts
from ranml.config import RanmlModel
from ranml.errors import DataError
from ranml.telemetry import TelemetryTable, fill_short_gaps

__all__ = [
    "Scaler",
    "ScoreSet",
    "SplitSpec",
    "WindowSpec",
    "WindowedData",
    "make_grid_windows",
    "make_patch_windows",
    "make_windows",
]

log = logging.getLogger("ranml.telemetry")

CALENDAR_FEATURES = ("hour_sin", "hour_cos", "dow_sin", "dow_cos")
SPLITS = ("train", "val", "test")


class SplitSpec(RanmlModel):
    """Chronological split, one of three ways.

    * ratios ``train`` / ``val`` of the time axis (the rest is test);
    * ``train_end`` / ``val_end`` (exclusive): dates, or step numbers on an integer clock;
    * ``test_steps`` (and ``val_steps``, default the same): the last steps of the time axis are
      the test period, the steps before it the validation period. A window belongs to the period
      that holds all of its targets.
    """

    train: float = 0.7
    val: float = 0.1
    train_end: str | int | None = None
    val_end: str | int | None = None
    test_steps: Annotated[int, Field(gt=0)] | None = None
    val_steps: Annotated[int, Field(gt=0)] | None = None

    @field_validator("train_end", "val_end", mode="before")
    @classmethod
    def _date_text(cls, value: object) -> object:
        """YAML reads an unquoted ``2026-03-20`` as a date: keep it as ISO text."""
        return value.isoformat() if isinstance(value, datetime.date) else value


class WindowSpec(RanmlModel):
    """How windows are cut from the table.

    ``max_train_windows`` thins the training windows; ``max_val_windows`` and ``max_test_windows``
    keep evenly spaced forecast origins (all cells at each) so that at most that many windows
    remain. The test set is complete unless ``max_test_windows`` is set.
    """

    input_steps: int = 96
    horizon: int = 4
    stride: int = 1
    target: str = "traffic"
    features: list[str] = []
    calendar: bool = True
    scaler: Literal["standard", "minmax", "none"] = "standard"
    max_gap_steps: int = 4
    train_on_interpolated: bool = True
    """``false``: training and validation windows whose targets include an interpolated value are left
    out (interpolated values are then in no loss and no metric); inputs are still interpolated.
    Series and neighbourhood views; a grid window spans every square, so the grid view keeps them."""
    split: SplitSpec = SplitSpec()
    max_train_windows: int | None = None
    max_val_windows: int | None = None
    max_test_windows: int | None = None
    max_eval_windows: int | None = Field(default=None, exclude=True)
    """Removed: it capped validation and test together. Refused with the replacement named."""

    @field_validator("max_eval_windows")
    @classmethod
    def _removed(cls, value: int | None) -> None:
        if value is not None:
            raise ValueError(
                "max_eval_windows was split in two: use max_val_windows to thin validation and "
                "max_test_windows only if the test set must be subsampled (it is complete by default)"
            )


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


@dataclass(frozen=True)
class ScoreSet:
    """The test targets every model of a dataset is scored on, in original units.

    One row per (cell, forecast origin) of the series view's test windows, in that order.
    ``observed`` is ``False`` where the target was interpolated (never scored). For the grid view
    ``window``, ``row`` and ``col`` say where each row's forecast is read.
    """

    actual: np.ndarray
    observed: np.ndarray
    scale: np.ndarray
    cell: np.ndarray
    time: np.ndarray
    window: np.ndarray
    row: np.ndarray | None = None
    col: np.ndarray | None = None
    fingerprint: str = ""

    @property
    def scored(self) -> int:
        """Number of target values that count."""
        return int(self.observed.sum())

    @property
    def masked(self) -> int:
        """Number of target values left out (interpolated)."""
        return int(self.observed.size - self.observed.sum())


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
    observed: dict[str, np.ndarray] = field(default_factory=dict)
    """Per split, ``True`` where a target value was observed (same shape as ``y``)."""
    score: ScoreSet | None = None
    gaps: GapReport | None = None
    clock: str = "datetime"
    origin: pd.Timestamp | None = None

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
        features = 1 if self.kind != "series" else int(self.x["train"].shape[-1])
        return ModelShape(
            input_steps=self.input_steps, horizon=self.horizon, n_features=features,
            target_index=self.target_index, season_steps=self.season_steps,
            grid=(int(self.x["train"].shape[2]), int(self.x["train"].shape[3])) if spatial else None,
            patch=int(self.x["train"].shape[2]) if self.kind == "patch" else None,
        )

    def inverse(self, y_scaled: np.ndarray, split: str) -> np.ndarray:
        """Turn scaled forecasts of ``split`` (all its rows, or its first rows) back into original units."""
        if self.kind == "grid":
            grid = y_scaled.shape[-2:]
            return y_scaled * self.scaler.scale[:, 0].reshape(grid) + self.scaler.shift[:, 0].reshape(grid)
        # ``y_scaled`` may cover only the first rows of the split (e.g. a parity sample).
        return self.scaler.inverse_target(y_scaled, self.cell[split][: len(y_scaled)], self.target_index)

    def scored_forecast(self, test_forecast: np.ndarray) -> np.ndarray:
        """A model's scaled forecast of every test window, as the rows of :attr:`score` in original units."""
        if self.score is None:
            raise DataError("these windows carry no score set; build them with make_windows/make_grid_windows")
        original = self.inverse(test_forecast, "test")
        if self.kind == "grid":
            assert self.score.row is not None and self.score.col is not None
            return original[self.score.window, :, self.score.row, self.score.col]
        return original[self.score.window]

    def score_grids(self, scored: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Score rows (actual, and ``scored`` forecasts) reassembled into grids ``[origins, H, rows, cols]``.

        Cell ids must be square ids. Returns actual grids, forecast grids and the mask of observed
        values (``False`` where a square has no cell, no complete window, or an interpolated target).
        """
        from ranml.telemetry import grid_layout

        if self.score is None:
            raise DataError("these windows carry no score set")
        sc = self.score
        if self.kind == "grid":
            assert sc.row is not None and sc.col is not None
            rows_of, cols_of = sc.row, sc.col
            shape = (int(self.x["test"].shape[2]), int(self.x["test"].shape[3]))
        else:
            layout = grid_layout(self.cells)
            rows_of, cols_of, shape = layout.rows[sc.cell], layout.cols[sc.cell], layout.shape
        origins, at = np.unique(sc.time, return_inverse=True)
        full = (len(origins), self.horizon, *shape)
        actual, forecast, seen = np.zeros(full), np.zeros(full), np.zeros(full, dtype=bool)
        actual[at, :, rows_of, cols_of] = sc.actual
        forecast[at, :, rows_of, cols_of] = scored
        seen[at, :, rows_of, cols_of] = sc.observed
        return actual, forecast, seen

    def time_label(self, t: np.datetime64) -> str:
        """A timestamp as people read it: a date and time, or ``step N`` on an integer clock."""
        if self.clock == "index" and self.origin is not None:
            return f"step {int((pd.Timestamp(t) - self.origin) // self.step)}"
        return str(np.datetime_as_string(t, unit="m"))


SplitBounds = tuple[pd.Timestamp, pd.Timestamp]


def _calendar(times: pd.DatetimeIndex) -> np.ndarray:
    hour = (times.hour + times.minute / 60.0).to_numpy(dtype=np.float64)
    dow = times.day_of_week.to_numpy(dtype=np.float64) + hour / 24.0
    return np.stack(
        [np.sin(2 * np.pi * hour / 24), np.cos(2 * np.pi * hour / 24),
         np.sin(2 * np.pi * dow / 7), np.cos(2 * np.pi * dow / 7)],
        axis=1,
    )


def _bound(value: str | int, table: TelemetryTable, name: str) -> pd.Timestamp:
    if isinstance(value, int):
        if not table.index_clock:
            raise DataError(f"split.{name}: {value} is a step number, but the data has a real clock; give a date")
        return table.origin + value * table.step
    try:
        return pd.Timestamp(value)
    except (ValueError, TypeError):
        raise DataError(f"split.{name}: {value!r} is not a date (e.g. '2026-03-20')") from None


def _split_bounds(times: pd.DatetimeIndex, split: SplitSpec, table: TelemetryTable,
                  min_train: int) -> SplitBounds:
    """``(a, b)``: training targets end before ``a``, validation targets lie in ``[a, b)``, test after."""
    dates = split.train_end is not None or split.val_end is not None
    steps = split.test_steps is not None or split.val_steps is not None
    if dates and steps:
        raise DataError("split: give dates (train_end/val_end) or steps (test_steps/val_steps), not both")
    if dates:
        if split.train_end is None or split.val_end is None:
            raise DataError("split: give both train_end and val_end, or neither (use ratios)")
        a, b = _bound(split.train_end, table, "train_end"), _bound(split.val_end, table, "val_end")
        if not times[0] < a < b <= times[-1]:
            raise DataError(
                f"split: need {times[0]} < train_end < val_end <= {times[-1]}, got {a} / {b}"
            )
        return a, b
    n = len(times)
    if steps:
        if split.test_steps is None:
            raise DataError("split: val_steps needs test_steps (the test period comes last)")
        test = split.test_steps
        val = split.val_steps if split.val_steps is not None else test
        if n - test - val < min_train:
            raise DataError(
                f"split: test_steps={test} and val_steps={val} leave {n - test - val} of {n} steps for "
                f"training, fewer than one window ({min_train}); lower them or use more data"
            )
        return times[n - test - val], times[n - test]
    if not (0 < split.train < 1 and 0 <= split.val < 1 and split.train + split.val < 1):
        raise DataError(f"split: ratios train={split.train} val={split.val} must be in (0,1) and sum < 1")
    return times[int(n * split.train)], times[int(n * (split.train + split.val))]


def _subsample(idx: np.ndarray, limit: int | None) -> np.ndarray:
    """At most ``limit`` evenly spaced entries of ``idx`` (deterministic)."""
    if limit is not None and len(idx) > limit:
        idx = idx[np.linspace(0, len(idx) - 1, limit).round().astype(int)]
    return idx


def _mase_scale(train_target: np.ndarray, season: int) -> np.ndarray:
    """In-sample seasonal-naive MAE per column (naive with lag 1 on less than two seasons)."""
    lag = season if len(train_target) > season else 1
    scale = np.nanmean(np.abs(train_target[lag:] - train_target[:-lag]), axis=0)
    return np.where(np.isfinite(scale) & (scale > 1e-9), scale, 1.0)


@dataclass(frozen=True)
class _Prepared:
    """What both views of a dataset share: the time axis, filled values, splits, origins and targets."""

    times: pd.DatetimeIndex
    cells: list[str]
    kpis: list[str]
    filled: np.ndarray  # [T, C, K]
    observed: np.ndarray  # [T, C] target value present in the data
    train_rows: np.ndarray  # [T] bool
    starts: np.ndarray  # forecast origins: index of the first input step
    origins: dict[str, np.ndarray]  # per split: positions into ``starts`` (val/test thinned)
    complete: np.ndarray  # [len(starts), C] series window without NaN (inputs and targets)
    mase: np.ndarray  # [C]
    season: int
    gap_counts: dict[str, Any]


def _prepare(table: TelemetryTable, spec: WindowSpec, kpis: list[str]) -> _Prepared:
    for name in kpis:
        if name not in table.kpis:
            raise DataError(f"windows: KPI {name!r} is not in the data (have {table.kpis})")
    if spec.input_steps < 1 or spec.horizon < 1 or spec.stride < 1:
        raise DataError("windows: input_steps, horizon and stride must be >= 1")
    mats = []
    times: pd.DatetimeIndex | None = None
    cells: list[str] = []
    for kpi in kpis:
        times, cells, m = table.to_matrix(kpi)
        mats.append(m)
    assert times is not None
    raw = np.stack(mats, axis=2)  # [T, C, K]
    T, C, K = raw.shape
    L, H = spec.input_steps, spec.horizon
    if T < L + H:
        raise DataError(
            f"windows: the series has {T} steps, shorter than one window ({L} input + {H} horizon); "
            "use a shorter input_steps/horizon or more data"
        )
    a, b = _split_bounds(times, spec.split, table, L + H)
    filled = fill_short_gaps(raw.reshape(T, C * K), spec.max_gap_steps).reshape(T, C, K)
    observed = np.isfinite(raw[:, :, 0])
    train_rows = np.asarray(times < a)
    season = int(pd.Timedelta("1D") / table.step)
    starts = np.arange(0, T - L - H + 1, spec.stride)
    tns = times.to_numpy()
    first, last = tns[starts + L], tns[starts + L + H - 1]
    member = {"train": last < a.to_datetime64(),
              "val": (first >= a.to_datetime64()) & (last < b.to_datetime64()),
              "test": first >= b.to_datetime64()}
    finite = np.isfinite(filled).all(axis=2)  # [T, C]
    # A window is complete when its L inputs and H targets are finite: windowed sums of NaN flags.
    bad = np.concatenate([np.zeros((1, C)), np.cumsum(~finite, axis=0)])
    complete = (bad[starts + L + H] - bad[starts]) == 0  # [n_starts, C]
    origins = {
        "train": np.flatnonzero(member["train"]),
        "val": _subsample(np.flatnonzero(member["val"]), _origin_limit(spec.max_val_windows, C)),
        "test": _subsample(np.flatnonzero(member["test"]), _origin_limit(spec.max_test_windows, C)),
    }
    return _Prepared(
        times=times, cells=list(cells), kpis=kpis, filled=filled, observed=observed,
        train_rows=train_rows, starts=starts, origins=origins, complete=complete,
        mase=_mase_scale(filled[train_rows][:, :, 0], season), season=season,
        gap_counts=gap_counts(raw[:, :, 0], filled[:, :, 0], list(cells), times, table),
    )


def _origin_limit(max_windows: int | None, cells: int) -> int | None:
    return None if max_windows is None else max(1, max_windows // max(1, cells))


def _score_set(prep: _Prepared, spec: WindowSpec) -> tuple[ScoreSet, np.ndarray]:
    """The test targets (series view order: cell-major, then origin) and each row's test-window position.

    The second value maps each score row to its window index in the series view's test split.
    """
    L, H = spec.input_steps, spec.horizon
    test = prep.origins["test"]
    ok = prep.complete[test]  # [n_test_origins, C]
    cell_idx, origin_pos = np.nonzero(ok.T)  # cell-major
    origin = prep.starts[test][origin_pos]
    target_rows = origin[:, None] + L + np.arange(H)[None, :]
    actual = prep.filled[target_rows, cell_idx[:, None], 0]
    observed = prep.observed[target_rows, cell_idx[:, None]]
    tns = prep.times.to_numpy()[origin + L]
    digest = hashlib.sha256()
    for part in (np.asarray(prep.cells, dtype=str)[cell_idx], tns.astype("int64"), observed):
        digest.update(np.ascontiguousarray(part).tobytes())
    score = ScoreSet(actual=actual, observed=observed, scale=prep.mase[cell_idx][:, None], cell=cell_idx,
                     time=tns, window=np.arange(len(cell_idx)), fingerprint=digest.hexdigest()[:12])
    return score, origin_pos


def _gap_report(prep: _Prepared, score: ScoreSet) -> GapReport:
    dropped = int((~prep.complete).sum())
    return GapReport(**prep.gap_counts, windows_dropped=dropped, test_targets=score.scored,
                     test_targets_masked=score.masked)


def make_windows(table: TelemetryTable, spec: WindowSpec) -> WindowedData:
    """Cut series windows from every cell of ``table``.

    Raises
    ------
    DataError
        Unknown target/feature, or a cell/split without a single complete window (names the cell
        and the fix).
    """
    return _series_windows(table, spec)[0]


def _series_windows(table: TelemetryTable, spec: WindowSpec) -> tuple[WindowedData, np.ndarray, np.ndarray]:
    """The series windows, the scaled values they were cut from (``[T, C, K]``, float32) and their times."""
    kpis = [spec.target, *[f for f in spec.features if f != spec.target]]
    prep = _prepare(table, spec, kpis)
    filled, train_rows = prep.filled, prep.train_rows
    T, C, K = filled.shape
    L, H = spec.input_steps, spec.horizon
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
            f"windows: cell {prep.cells[int(np.flatnonzero(bad)[0])]!r} has no {spec.target!r} values "
            "in the training split; drop the cell or move the split"
        )
    shift = np.nan_to_num(shift)
    scale = np.where(np.isfinite(scale) & (scale > 1e-9), scale, 1.0)
    scaled = ((filled - shift[None]) / scale[None]).astype(np.float32)
    cal = _calendar(prep.times).astype(np.float32) if spec.calendar else None
    tns = prep.times.to_numpy()
    lags, ahead = np.arange(L), np.arange(H)
    out_x, out_y, out_c, out_t, out_o = {}, {}, {}, {}, {}
    for split in SPLITS:
        pos = prep.origins[split]
        # Complete (cell, origin) pairs, cell-major; only the kept windows are materialised.
        cell, at = np.nonzero(prep.complete[pos].T)
        if len(cell) == 0:
            a, b = _split_bounds(prep.times, spec.split, table, L + H)
            raise DataError(
                f"windows: the {split} split has no complete window (series of {T} steps, window "
                f"{L}+{H}, split at {a} / {b}); use more data, a shorter window or another split"
            )
        if split != "test" and not spec.train_on_interpolated:  # interpolated targets out of the loss
            first = prep.starts[pos][at] + L
            seen = prep.observed[first[:, None] + ahead, cell[:, None]].all(axis=1)
            cell, at = cell[seen], at[seen]
        if split == "train":
            keep = _subsample(np.arange(len(cell)), spec.max_train_windows)
            cell, at = cell[keep], at[keep]
        st = prep.starts[pos][at]
        inputs, targets = st[:, None] + lags, st[:, None] + L + ahead
        x = scaled[inputs, cell[:, None], :]  # [n, L, K]
        if cal is not None:
            x = np.concatenate([x, cal[inputs]], axis=2)
        out_x[split] = np.ascontiguousarray(x)
        out_y[split] = np.ascontiguousarray(scaled[targets, cell[:, None], 0])
        out_o[split] = prep.observed[targets, cell[:, None]]
        out_c[split] = cell.astype(np.int64)
        out_t[split] = tns[st + L]
    score, _ = _score_set(prep, spec)
    gaps = _gap_report(prep, score)
    if gaps.windows_dropped or gaps.points_interpolated:
        log.info("windows: %d dropped around gaps longer than %d steps, %d target points interpolated "
                 "(%d test targets not scored)", gaps.windows_dropped, spec.max_gap_steps,
                 gaps.points_interpolated, gaps.test_targets_masked)
    names = kpis + (list(CALENDAR_FEATURES) if spec.calendar else [])
    return WindowedData(
        x=out_x, y=out_y, cell=out_c, time=out_t,
        scaler=Scaler(shift=shift, scale=scale, kind=spec.scaler),
        cells=prep.cells, feature_names=names, target_index=0, step=table.step,
        season_steps=prep.season, mase_scale=prep.mase, dropped_windows=gaps.windows_dropped,
        observed=out_o, score=score, gaps=gaps, clock="index" if table.index_clock else "datetime",
        origin=table.origin,
    ), scaled, tns


def make_patch_windows(table: TelemetryTable, spec: WindowSpec, side: int) -> WindowedData:
    """Cut ``side × side`` neighbourhood patches around each cell: ``x[n, L, K, K]`` → ``y[n, H]``.

    The windows, targets, scalers and score set are the series view's (one window per cell and
    origin); the input is the per-cell scaled target of the squares around the cell, zero (the
    training mean) beyond the grid's edge, where no cell is and where data is missing, as STN and
    HiSTM pad their neighbourhoods. Cell ids must be square ids.
    """
    from ranml.telemetry import grid_layout

    if side < 3 or side % 2 == 0:
        raise DataError(f"windows: a neighbourhood of {side} squares; use an odd size >= 3")
    series, scaled, times = _series_windows(table, spec)
    layout = grid_layout(series.cells)
    pad = side // 2
    T = scaled.shape[0]
    rows, cols = layout.shape
    z = np.zeros((T, rows + 2 * pad, cols + 2 * pad), dtype=np.float32)
    z[:, layout.rows + pad, layout.cols + pad] = np.nan_to_num(scaled[:, :, 0])
    L, offsets = spec.input_steps, np.arange(side)
    x = {}
    for split in SPLITS:
        start, cell = np.searchsorted(times, series.time[split]) - L, series.cell[split]
        t_idx = (start[:, None] + np.arange(L))[:, :, None, None]
        r_idx = (layout.rows[cell][:, None] + offsets)[:, None, :, None]
        c_idx = (layout.cols[cell][:, None] + offsets)[:, None, None, :]
        x[split] = np.ascontiguousarray(z[t_idx, r_idx, c_idx])
    series.x = x
    series.kind = "patch"
    series.feature_names = [spec.target]
    series.extra["patch"] = side
    return series


def make_grid_windows(table: TelemetryTable, spec: WindowSpec) -> WindowedData:
    """Cut grid windows ``x[n, L, rows, cols]`` → ``y[n, H, rows, cols]`` (cells = square ids).

    Positions without data are filled with the training mean (after scaling: 0); per-square
    scalers fitted on the training period keep the spatial structure intact. The grid is scored on
    the series view's test targets (:class:`ScoreSet`), read at each cell's square.
    """
    from ranml.telemetry import grid_layout

    # The same KPIs as the series view, so that both views drop the same windows and score the same targets.
    prep = _prepare(table, spec, [spec.target, *[f for f in spec.features if f != spec.target]])
    layout = grid_layout(prep.cells)
    T = len(prep.times)
    R, Cc = layout.shape
    L, H = spec.input_steps, spec.horizon
    v = np.full((T, R, Cc), np.nan)
    v[:, layout.rows, layout.cols] = prep.filled[:, :, 0]
    seen = np.zeros((T, R, Cc), dtype=bool)
    seen[:, layout.rows, layout.cols] = prep.observed
    train = v[prep.train_rows]
    # Per-square scaling: cell scales are heavy-tailed, a global scaler would let a few squares
    # dominate the loss. Squares without training data get the grid-wide statistics.
    with warnings.catch_warnings():  # squares without any data: 'mean of empty slice'
        warnings.simplefilter("ignore", category=RuntimeWarning)
        mu = np.nanmean(train, axis=0)
        sd = np.nanstd(train, axis=0)
    mu = np.where(np.isfinite(mu), mu, np.nanmean(train))
    sd = np.where(np.isfinite(sd) & (sd > 1e-9), sd, float(np.nanstd(train)) or 1.0)
    z = (v - mu[None]) / sd[None]
    z = np.where(np.isfinite(z), z, 0.0).astype(np.float32)
    tns = prep.times.to_numpy()
    out_x, out_y, out_c, out_t, out_o = {}, {}, {}, {}, {}
    for split in SPLITS:
        pos = prep.origins[split]
        if split == "train":
            pos = _subsample(pos, spec.max_train_windows)
        if len(pos) == 0:
            raise DataError(f"windows: the {split} split has no grid window; use more data or another split")
        st = prep.starts[pos]
        out_x[split] = np.ascontiguousarray(np.transpose(sliding_window_view(z, L, axis=0)[st], (0, 3, 1, 2)))
        out_y[split] = np.ascontiguousarray(np.transpose(sliding_window_view(z, H, axis=0)[st + L], (0, 3, 1, 2)))
        out_o[split] = np.ascontiguousarray(np.transpose(sliding_window_view(seen, H, axis=0)[st + L], (0, 3, 1, 2)))
        out_c[split] = np.zeros(len(st), dtype=np.int64)
        out_t[split] = tns[st + L]
    # Score rows refer to test origins by position in ``prep.origins["test"]``: the grid's test windows.
    series_score, origin_pos = _score_set(prep, spec)
    score = ScoreSet(
        actual=series_score.actual, observed=series_score.observed, scale=series_score.scale,
        cell=series_score.cell, time=series_score.time, window=origin_pos,
        row=layout.rows[series_score.cell], col=layout.cols[series_score.cell],
        fingerprint=series_score.fingerprint,
    )
    mase = np.ones((R, Cc))
    mase[layout.rows, layout.cols] = prep.mase
    squares = [str(100 * (layout.origin[0] + r) + layout.origin[1] + c + 1) for r in range(R) for c in range(Cc)]
    return WindowedData(
        x=out_x, y=out_y, cell=out_c, time=out_t,
        scaler=Scaler(shift=mu.reshape(-1, 1), scale=sd.reshape(-1, 1), kind="standard"),
        cells=squares, feature_names=[spec.target], target_index=0, step=table.step,
        season_steps=prep.season, mase_scale=mase, kind="grid", grid_origin=layout.origin,
        observed=out_o, score=score, gaps=_gap_report(prep, score),
        clock="index" if table.index_clock else "datetime", origin=table.origin,
    )

