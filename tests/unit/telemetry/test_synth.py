"""The synthetic generator reproduces measured cellular-traffic statistics within stated tolerances.

Targets (from real operator data and the Milan set) and the tolerance each check allows:

| statistic                         | target               | tolerance checked here        |
|-----------------------------------|----------------------|-------------------------------|
| diurnal trough / peak hour        | 03–05 h / 12–21 h    | aggregate exactly in range; ≥90 % of cells within ±1 h |
| peak/trough, single cells         | ~2.5 … ~20           | p10 in [2, 6], p90 in [10, 35] |
| peak/trough, aggregated area      | low end (~2.5)       | in [2, 9], below the cells' p90 |
| weekly factor                     | 0.85–1.35            | min in [0.78, 0.95], max in [1.05, 1.4] |
| holiday vs Sunday                 | alike                | ratio in [0.7, 1.3]           |
| skewness of marginals             | ≈2                   | median in [1.5, 3.5]          |
| p99 / mean                        | 5–8                  | median in [3, 8]              |
| zeros at fine granularity         | a few %              | ≤ 8 %, and some cell has zeros |
| top 10 % of cells' traffic share  | ≈½                   | in [0.35, 0.8]                |
| neighbour correlation raw / diff  | ≈0.9 / ≈0.7          | ≥ 0.78 / ≥ 0.6                |
| ACF at 1 h / 24 h / 168 h         | ≈0.8 / 0.7 / 0.7     | [0.65, 0.92] / [0.5, 0.85] / [0.5, 0.85] |
| PRB utilisation                   | bounded, saturating  | within [0, 100], rises with load, flattens |
| missing samples                   | occasional           | > 0 and < 2 %                 |
"""

import numpy as np
import pandas as pd
import pytest

from ranml.errors import DataError
from ranml.telemetry import SynthSpec, generate
from ranml.telemetry.stats import traffic_stats

HOLIDAY = "2026-03-18"


@pytest.fixture(scope="module", params=[1, 3])
def table(request):
    return generate(SynthSpec(cells=36, days=28, seed=request.param, holidays=(HOLIDAY,)))


def test_same_seed_same_data_other_seed_other_data():
    a = generate(cells=4, days=2, seed=9).frame
    b = generate(cells=4, days=2, seed=9).frame
    c = generate(cells=4, days=2, seed=10).frame
    pd.testing.assert_frame_equal(a, b)
    assert not a["traffic"].equals(c["traffic"])


def test_statistics_match_real_traffic(table):
    s = traffic_stats(table, holidays=(HOLIDAY,))
    assert 3 <= s.trough_hour <= 5
    assert 12 <= s.peak_hour <= 21
    assert s.cell_trough_hours_ok >= 0.9 and s.cell_peak_hours_ok >= 0.9
    assert 2 <= s.peak_trough_cell_p10 <= 6 and 10 <= s.peak_trough_cell_p90 <= 35
    assert 2 <= s.peak_trough_aggregate <= 9 and s.peak_trough_aggregate < s.peak_trough_cell_p90
    assert 0.78 <= s.weekly_min <= 0.95 and 1.05 <= s.weekly_max <= 1.4
    assert s.holiday_vs_sunday is not None and 0.7 <= s.holiday_vs_sunday <= 1.3
    assert 1.5 <= s.skewness <= 3.5
    assert 3 <= s.p99_over_mean <= 8
    assert s.zero_fraction <= 0.08
    assert 0.35 <= s.top10_share <= 0.8
    assert s.neighbour_corr_raw >= 0.78 and s.neighbour_corr_diff >= 0.6
    assert 0.65 <= s.acf_1h <= 0.92
    assert 0.5 <= s.acf_24h <= 0.85 and 0.5 <= s.acf_168h <= 0.85
    assert 0 < s.missing_fraction < 0.02


def test_some_cells_report_zero_activity(table):
    assert (table.frame.groupby("cell_id")["traffic"].apply(lambda s: (s == 0).mean()) > 0).any()


def test_prb_is_bounded_and_saturates(table):
    f = table.frame
    assert f["prb_util"].between(0, 100).all()
    for _, g in list(f.groupby("cell_id"))[:5]:
        load = g["traffic"].to_numpy()
        prb = g["prb_util"].to_numpy()
        q = np.quantile(load, [0.1, 0.5, 0.9, 0.999])
        lo = prb[load <= q[0]].mean()
        mid = prb[(load > q[0]) & (load <= q[1])].mean()
        hi = prb[load >= q[2]].mean()
        assert lo < mid < hi  # rises with load
        assert hi <= 100 and prb.max() <= 100  # bounded
        # saturating: the top decile of load gains less PRB per unit load than the bottom half
        slope_low = (mid - lo) / max(q[1] - q[0], 1e-9)
        slope_high = (prb[load >= q[3]].mean() - hi) / max(load[load >= q[3]].mean() - load[load >= q[2]].mean(), 1e-9)
        assert slope_high < slope_low


def test_cells_use_square_ids_on_a_block():
    t = generate(cells=9, days=1, seed=0)
    assert t.cells == sorted(["1", "2", "3", "101", "102", "103", "201", "202", "203"])


def test_bad_parameters_are_named():
    with pytest.raises(DataError, match="cells must be >= 1"):
        generate(cells=0)
    with pytest.raises(DataError, match="step must divide one day"):
        generate(step="7min")
    with pytest.raises(DataError, match="unknown synthetic KPIs"):
        generate(kpis=("traffic", "rsrp"))
