"""Traffic traces: synthetic generator and CSV replay, scaled to capacity."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ranml.e2sim.scenario import CellSpec, Scenario
from ranml.e2sim.traffic import build_trace
from ranml.errors import ConfigError


def test_synthetic_trace_is_scaled_per_cell_into_the_peak_band():
    cells = [CellSpec(name=f"c{i}", capacity_mbps=200.0) for i in range(4)]
    sc = Scenario(traffic={"days": 2, "seed": 4, "peak_low": 0.5, "peak_high": 1.0})
    trace = build_trace(sc, cells)
    p99 = np.percentile(trace.mbps, 99, axis=0)
    assert trace.step_s == 900 and trace.mbps.shape == (2 * 96, 4)
    assert np.all(p99 >= 0.5 * 200 - 1e-6) and np.all(p99 <= 1.0 * 200 + 1e-6)
    assert np.array_equal(trace.mbps, build_trace(sc, cells).mbps)  # deterministic by seed


def test_csv_replay_maps_named_series_and_fills_gaps(tmp_path):
    times = pd.date_range("2026-03-02", periods=6, freq="1h")
    rows = [{"cell_id": cid, "timestamp": t, "traffic": v}
            for cid, values in (("A", [1, 2, 3, 4, 5, 6]), ("B", [10, 20, np.nan, 40, 50, 60]))
            for t, v in zip(times, values, strict=True) if not np.isnan(v)]
    path = tmp_path / "load.csv"
    pd.DataFrame(rows).to_csv(path, index=False)
    sc = Scenario(traffic={"source": "file", "path": str(path), "step": "1h", "peak_low": 1.0, "peak_high": 1.0})
    trace = build_trace(sc, [CellSpec(name="x", trace="B", capacity_mbps=100.0), CellSpec(name="y", trace="A")])
    assert trace.mbps.shape == (6, 2)
    assert trace.mbps[2, 0] == pytest.approx((20 + 40) / 2 / np.percentile([10, 20, 30, 40, 50, 60], 99) * 100)
    with pytest.raises(ConfigError, match="trace 'C' is not a cell"):
        build_trace(sc, [CellSpec(name="z", trace="C")])


def test_the_shipped_replay_scenario_replays_its_hourly_table(tmp_path, monkeypatch):
    """examples/scenarios/replay-hourly.yaml: hourly per-cell volumes with gaps, found relative to the YAML."""
    from ranml.e2sim.layout import build_layout
    from ranml.e2sim.scenario import load_scenario

    monkeypatch.chdir(tmp_path)  # the data path is resolved against the scenario's folder, not the cwd
    here = Path(__file__).resolve().parents[3] / "examples" / "scenarios"
    sc = load_scenario(here / "replay-hourly.yaml")
    assert sc.energy.base_w == 780.0 and sc.energy.sleep_w == 450.0  # the EARTH macro preset
    layout = build_layout(sc)
    trace = build_trace(sc, layout.cells)
    raw = pd.read_csv(here / "data" / "hourly-cells.csv.gz", parse_dates=["timestamp"])
    assert trace.step_s == 3600 and trace.mbps.shape == (14 * 24, 9) and np.isfinite(trace.mbps).all()
    # Cells take the table's cells in order (sorted ids): the first simulated cell replays square "1".
    first = raw[raw["cell_id"] == 1].set_index("timestamp")["traffic"]
    hours = ((first.index - pd.Timestamp("2026-03-02")) // pd.Timedelta("1h")).to_numpy()
    np.testing.assert_allclose(trace.mbps[hours, 0] / trace.mbps[hours[0], 0], first.to_numpy() / first.iloc[0],
                               rtol=1e-9)
    # Cell "2" had a 7-hour outage (hours 100..106): interpolated between the hours around it.
    two = sorted(raw["cell_id"].astype(str).unique()).index("2")
    gap = trace.mbps[99:108, two]
    np.testing.assert_allclose(gap, np.linspace(gap[0], gap[-1], 9), rtol=1e-9)
