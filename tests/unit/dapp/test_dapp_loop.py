"""dApp pieces in one process: the shared-memory ring, the linear-trend forecaster, the loop's
decisions, fallbacks, misses and hot swap."""

from __future__ import annotations

import threading
import time
import uuid

import numpy as np
import pytest

from ranml.dapp import DApp, DAppLoop, LinearTrendForecaster, ModelHolder, load_dapp
from ranml.dapp.e3 import FALLBACK, ShmLink, ShmRing, control_dtype, slot_dtype
from ranml.dapp.emulator import slot_load
from ranml.errors import ConfigError


def test_ring_publishes_in_order_and_reports_skips():
    name = f"t-{uuid.uuid4().hex[:8]}"
    dtype = slot_dtype(2)
    writer = ShmRing.create(name, dtype, capacity=4)
    reader = ShmRing.attach(name, dtype)
    try:
        rec, out = np.zeros((), dtype), np.zeros((), dtype)
        assert reader.latest(out) == -1
        for i in range(3):
            rec["seq"] = i
            writer.publish(rec)
        assert reader.latest(out) == 2 and int(out["seq"]) == 2  # two older records skipped
        assert reader.latest(out) == -1
        rec["seq"] = 3
        writer.publish(rec)
        assert reader.latest(out) == 0 and int(out["seq"]) == 3
        for i in range(4, 10):  # six records into a ring of four: two are lost to the in-order reader
            rec["seq"] = i
            writer.publish(rec)
        assert reader.next(out) == 2 and int(out["seq"]) == 6
        assert [reader.next(out) == 0 and int(out["seq"]) for _ in range(3)] == [7, 8, 9]
        assert reader.next(out) == -1
        assert not writer.attached
        reader.mark_attached()
        assert writer.attached
        with pytest.raises(ConfigError, match="not an E3 ring"):
            ShmRing.attach(name, slot_dtype(3))
    finally:
        reader.close()
        writer.close()
    with pytest.raises(ConfigError, match="start the RAN side"):
        ShmRing.attach(name, dtype, timeout_s=0.05)


def test_linear_trend_extrapolates_a_line_exactly():
    f = LinearTrendForecaster(n_cells=2, window=8, horizon=3)
    windows = np.stack([np.arange(8, dtype=np.float32) * 0.1, np.full(8, 0.5, dtype=np.float32)])
    values, fell_back = f.forecast(windows, 1.0)
    np.testing.assert_allclose(values, [[0.8, 0.9, 1.0], [0.5, 0.5, 0.5]], atol=1e-5)
    assert not fell_back


class FakeLink:
    def __init__(self, n):
        self.sent = []

    def send_control(self, rec):
        self.sent.append(rec.copy())


def _slot(loop, seq, value, age_ns=0):
    loop._slot["version"], loop._slot["n_cells"] = 1, loop.n
    loop._slot["seq"] = seq
    loop._slot["t_ns"] = time.perf_counter_ns() - age_ns
    loop._slot["cells"][:, 0] = value


def test_loop_decides_falls_back_counts_misses_and_swaps():
    app = load_dapp("prb-reservation")
    link = FakeLink(2)
    holder = ModelHolder(LinearTrendForecaster(2, app.window, app.horizon))
    loop = DAppLoop(app, link, 2, holder, budget_us=10_000)
    for i in range(app.window):
        _slot(loop, i, 0.01 * i)
        loop.step(0)
    last = link.sent[-1]
    assert int(last["flags"]) == 0 and int(last["seq"]) == app.window - 1
    # rising load: the reservation is the forecast peak + margin, above the latest value
    assert np.all(last["prb_reserve"] > 0.01 * (app.window - 1) + 0.05)
    _slot(loop, 100, 0.4, age_ns=20_000_000)  # published 20 ms ago: the budget is gone
    loop.step(skipped=3)
    late = link.sent[-1]
    assert int(late["flags"]) == FALLBACK
    np.testing.assert_allclose(late["prb_reserve"], 0.5, atol=1e-6)  # latest 0.4 + 2 x margin
    assert loop.stats.misses == 4 and loop.stats.skipped == 3 and loop.stats.fallbacks == 1

    class Constant:
        horizon = app.horizon

        def forecast(self, windows, deadline_s):
            return np.full((2, app.horizon), 0.7, dtype=np.float32), False

    _slot(loop, 102, 0.4)
    loop._slot["version"] = 9  # a record of another version: rejected, counted, no control
    sent = len(link.sent)
    loop.step(0)
    assert len(link.sent) == sent and loop.stats.rejected == 1
    _slot(loop, 103, 0.4)
    loop._slot["n_cells"] = 5  # wrong cell count
    loop.step(0)
    assert len(link.sent) == sent and loop.stats.rejected == 2

    holder.swap(Constant())
    _slot(loop, 101, 0.4)
    loop.step(0)
    np.testing.assert_allclose(link.sent[-1]["prb_reserve"], 0.75, atol=1e-6)
    assert holder.swaps == 1 and loop.stats.slots == app.window + 2


def run_against_a_ran(n_cells, forecaster, slots, spacing_ns, built=lambda loop: None):
    """Run a dApp loop over shared memory while a writer thread plays the RAN.

    The writer publishes ``slots`` slots ``spacing_ns`` apart, each stamped with the time it was due;
    ``built(loop)`` sees the loop before it runs.
    """
    name = f"t-{uuid.uuid4().hex[:8]}"
    up = ShmRing.create(f"{name}-up", slot_dtype(n_cells))
    down = ShmRing.create(f"{name}-down", control_dtype(n_cells))
    link = ShmLink(name, n_cells).open()
    app = load_dapp("prb-reservation")
    loop = DAppLoop(app, link, n_cells, ModelHolder(forecaster(n_cells, app.window, app.horizon)), 50_000)
    load = slot_load(n_cells, slots, seed=2)
    built(loop)
    loop.prepare()  # warm-up and heap freeze before the RAN starts, as a deployed dApp does

    def ran():
        rec = np.zeros((), slot_dtype(n_cells))
        rec["version"], rec["n_cells"] = 1, n_cells
        start = time.perf_counter_ns()
        for i in range(slots):
            due = start + i * spacing_ns
            while time.perf_counter_ns() < due:
                time.sleep(0.0002)
            rec["seq"], rec["t_ns"] = i, due
            rec["cells"][:, 0] = load[i]
            up.publish(rec)

    writer = threading.Thread(target=ran)
    writer.start()
    try:
        stats = loop.run(threading.Event(), max_slots=slots, idle_timeout_s=1.0)
    finally:
        writer.join()
        link.close()
        up.close()
        down.close()
    return loop, stats


def test_loop_runs_over_shared_memory_in_threads():
    """Writer thread plays the RAN; the loop runs with the collector disabled and re-enables it."""
    import gc

    _, stats = run_against_a_ran(4, LinearTrendForecaster, 200, 2_000_000)
    assert gc.isenabled()
    assert stats.slots + stats.skipped == 200 and stats.skipped == 0  # in order: every slot answered
    assert stats.summary()["p50_us"] is not None and len(stats.latencies_ns) == stats.slots


def test_bad_dapps_are_refused():
    with pytest.raises(ConfigError, match="no decision function"):
        DAppLoop(DApp("empty"), FakeLink(1), 1, ModelHolder(LinearTrendForecaster(1, 4, 1)), 1000)
    with pytest.raises(ConfigError, match="prb-reservation"):
        load_dapp("nope")
    assert slot_load(3, 50).shape == (50, 3)


def test_loop_hands_the_time_until_the_next_slot_to_the_forecaster():
    """Between slots the loop offers its slack (to a pending hot swap): up to the next slot, less a guard."""
    offered = []  # (publication of the slot just handled, until), perf_counter seconds
    seen = []

    class Idling(LinearTrendForecaster):
        def idle(self, until):
            offered.append((int(seen[0]._slot["t_ns"]) / 1e9, until))

    _, stats = run_against_a_ran(2, Idling, 60, 4_000_000, built=seen.append)
    assert stats.slots == 60 and len(offered) == 59  # after every slot but the first (no spacing known yet)
    for published, until in offered:
        # the offer ends a guard before the next slot is due: 4 ms after this one, less 0.1 ms
        assert until == pytest.approx(published + 0.0039, abs=1e-6)
