import numpy as np
import pandas as pd
import pytest

from ranml.errors import DataError
from ranml.telemetry import TelemetryTable, build_grid, square_id, square_pos


def test_square_ids_follow_milan_convention():
    assert square_id(0, 0) == 1
    assert square_id(0, 99) == 100
    assert square_id(1, 0) == 101
    assert square_id(99, 99) == 10000
    for sid in (1, 57, 101, 5050, 10000):
        assert square_id(*square_pos(sid)) == sid
    with pytest.raises(DataError, match="outside a 100x100 grid"):
        square_pos(10001)


def test_build_grid_places_squares():
    t = pd.date_range("2026-01-01", periods=3, freq="10min")
    rows = []
    for sid, val in ((1, 1.0), (2, 2.0), (102, 3.0)):
        rows += [{"cell_id": str(sid), "timestamp": ts, "v": val} for ts in t]
    g = build_grid(TelemetryTable.from_frame(pd.DataFrame(rows), "10min"), "v")
    assert g.values.shape == (3, 2, 2) and g.origin == (0, 0)
    assert g.values[0, 0, 0] == 1.0 and g.values[0, 0, 1] == 2.0 and g.values[0, 1, 1] == 3.0
    assert np.isnan(g.values[0, 1, 0])
