import numpy as np
import pandas as pd
import pytest

from ranml.benchmark.windows import SplitSpec, WindowSpec, make_grid_windows, make_windows
from ranml.errors import DataError
from ranml.telemetry import TelemetryTable, generate


def ramp_table(n=200, cells=("a", "b"), drop=()):
    t = pd.date_range("2026-01-05", periods=n, freq="1h")
    rows = [{"cell_id": c, "timestamp": ts, "v": float(i) * (k + 1), "w": 1.0}
            for k, c in enumerate(cells) for i, ts in enumerate(t) if not (c == "a" and i in drop)]
    return TelemetryTable.from_frame(pd.DataFrame(rows), "1h")


def test_shapes_features_and_calendar():
    w = make_windows(ramp_table(), WindowSpec(input_steps=24, horizon=3, target="v", features=["w"]))
    assert w.x["train"].shape[1:] == (24, 2 + 4)
    assert w.y["train"].shape[1] == 3
    assert w.feature_names == ["v", "w", "hour_sin", "hour_cos", "dow_sin", "dow_cos"]
    assert w.x["train"].dtype == np.float32


def test_inverse_recovers_original_units():
    table = ramp_table()
    w = make_windows(table, WindowSpec(input_steps=24, horizon=3, target="v", calendar=False))
    actual = w.actual("test")
    # Targets of cell b are 2 × step index: check one window exactly.
    cell_b = w.cells.index("b")
    i = int(np.flatnonzero(w.cell["test"] == cell_b)[0])
    start = int((pd.Timestamp(w.time["test"][i]) - pd.Timestamp("2026-01-05")) / pd.Timedelta("1h"))
    np.testing.assert_allclose(actual[i], [2.0 * (start + k) for k in range(3)], rtol=1e-5)


def test_scaler_inverse_recovers_raw_input_windows():
    w = make_windows(ramp_table(), WindowSpec(input_steps=24, horizon=3, target="v", features=["w"]))
    cells = w.cell["test"]
    raw = w.scaler.inverse(w.x["test"][..., :2], cells)
    cell_b = w.cells.index("b")
    i = int(np.flatnonzero(cells == cell_b)[0])
    start = int((pd.Timestamp(w.time["test"][i]) - pd.Timestamp("2026-01-05")) / pd.Timedelta("1h")) - 24
    np.testing.assert_allclose(raw[i, :, 0], [2.0 * (start + k) for k in range(24)], rtol=1e-4)
    np.testing.assert_allclose(raw[i, :, 1], 1.0, atol=1e-5)
    np.testing.assert_allclose(w.scaler.transform(raw, cells), w.x["test"][..., :2], atol=1e-4)


def test_scaler_fitted_on_training_split_only():
    a = ramp_table()
    frame = a.frame.copy()
    late = frame["timestamp"] >= pd.Timestamp("2026-01-05") + pd.Timedelta(hours=170)
    frame.loc[late, "v"] *= 1000.0  # change only the test period
    b = TelemetryTable.from_frame(frame, "1h")
    spec = WindowSpec(input_steps=24, horizon=3, target="v", calendar=False)
    wa, wb = make_windows(a, spec), make_windows(b, spec)
    np.testing.assert_array_equal(wa.scaler.shift, wb.scaler.shift)
    np.testing.assert_array_equal(wa.scaler.scale, wb.scaler.scale)


def test_splits_are_chronological_and_disjoint():
    w = make_windows(ramp_table(), WindowSpec(input_steps=12, horizon=2, target="v"))
    step = np.timedelta64(1, "h")
    train_last_target = (w.time["train"] + step).max()
    assert train_last_target < w.time["val"].min()
    assert (w.time["val"] + step).max() < w.time["test"].min()


def test_split_by_dates():
    spec = WindowSpec(input_steps=12, horizon=2, target="v",
                      split=SplitSpec(train_end="2026-01-10", val_end="2026-01-11"))
    w = make_windows(ramp_table(), spec)
    assert w.time["test"].min() >= np.datetime64("2026-01-11")
    assert w.time["val"].min() >= np.datetime64("2026-01-10")
    with pytest.raises(DataError, match="both train_end and val_end"):
        make_windows(ramp_table(), WindowSpec(input_steps=12, horizon=2, target="v",
                                              split=SplitSpec(train_end="2026-01-10")))


def test_short_gaps_interpolated_long_gaps_dropped():
    spec = WindowSpec(input_steps=12, horizon=2, target="v", calendar=False, max_gap_steps=2)
    full = make_windows(ramp_table(), spec)
    short = make_windows(ramp_table(drop=(50,)), spec)
    long = make_windows(ramp_table(drop=range(50, 56)), spec)
    total = lambda w: sum(len(w.x[s]) for s in ("train", "val", "test"))  # noqa: E731
    assert total(short) == total(full) and short.dropped_windows == 0
    assert total(long) < total(full) and long.dropped_windows > 0
    for s in ("train", "val", "test"):
        assert np.isfinite(long.x[s]).all()


def test_series_shorter_than_one_window_names_the_fix():
    with pytest.raises(DataError, match="shorter than one window.*use a shorter input_steps"):
        make_windows(ramp_table(n=20), WindowSpec(input_steps=24, horizon=3, target="v"))


def test_unknown_target():
    with pytest.raises(DataError, match="KPI 'traffic' is not in the data"):
        make_windows(ramp_table(), WindowSpec(target="traffic"))


def test_max_windows_subsamples_deterministically():
    spec = WindowSpec(input_steps=12, horizon=2, target="v", max_train_windows=50, max_test_windows=20)
    w1, w2 = make_windows(ramp_table(), spec), make_windows(ramp_table(), spec)
    assert len(w1.x["train"]) == 50 and len(w1.x["test"]) == 20
    np.testing.assert_array_equal(w1.x["train"], w2.x["train"])


def test_grid_windows_shape_and_inverse():
    t = generate(cells=9, days=4, step="1h", seed=2)
    w = make_grid_windows(t, WindowSpec(input_steps=24, horizon=2, target="traffic"))
    assert w.kind == "grid" and w.x["train"].shape[1:] == (24, 3, 3) and w.y["test"].shape[1:] == (2, 3, 3)
    _, _cells, m = t.to_matrix("traffic")
    actual = w.actual("test")
    assert actual.shape == w.y["test"].shape
    assert np.nanmax(actual) <= np.nanmax(m) + 1e-3
