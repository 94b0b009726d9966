"""The simulated network: saturation, sleep/wake, load moving to neighbours, handover, energy."""

import math

import numpy as np
import pytest

from ranml.e2sim.network import Network
from ranml.e2sim.scenario import CellSpec, Scenario
from ranml.e2sim.traffic import TrafficTrace

pytest.importorskip("pandas", reason="e2sim needs pandas: pip install 'ranml[benchmark]'")


def make(load, capacity=(100.0, 100.0, 100.0), neighbours=None, **scenario):
    cells = [CellSpec(name=f"c{i}", capacity_mbps=c) for i, c in enumerate(capacity)]
    trace = TrafficTrace(60.0, np.array([load, load], dtype=float))
    sc = Scenario(**{"traffic": {"noise_sigma": 0.0}, **scenario})
    return Network(sc, cells, [0] * len(cells), neighbours or [[1, 2], [0, 2], [0, 1]], trace)


def test_trace_interpolates_and_wraps():
    trace = TrafficTrace(10.0, np.array([[0.0], [10.0], [20.0]]))
    assert trace.at(5.0)[0] == pytest.approx(5.0)
    assert trace.at(25.0)[0] == pytest.approx(10.0)  # between the last sample and the first (wrap)
    assert trace.at(35.0)[0] == pytest.approx(5.0)


def test_prb_usage_saturates_and_excess_is_unserved():
    net = make([50.0, 150.0, 0.0])
    net.step(1.0)
    assert net.values[0, 0] == pytest.approx(0.5 * 273) and net.values[0, 1] == pytest.approx(273)
    assert net.unserved[1] == pytest.approx(50.0) and net.overload_s[1] == 1.0 and net.overload_s[0] == 0
    assert net.ues[0] == math.ceil(50 / 4.0) and net.ues[2] == 0
    assert net.power[0] == pytest.approx(260 + 440 * 0.5)


def test_sleeping_cell_load_goes_to_neighbours_by_headroom_then_unserved():
    net = make([60.0, 80.0, 40.0])
    net.switch(0, sleep=True)
    net.step(1.0)
    assert net.served[0] == 0 and net.power[0] == 35.0
    # headroom 20 and 60: the 60 Mbps of cell 0 split 1:3
    assert net.offered[1] == pytest.approx(95.0) and net.offered[2] == pytest.approx(85.0)
    assert net.unserved.sum() == pytest.approx(0.0)
    full = make([60.0, 95.0, 90.0])
    full.switch(0, sleep=True)
    full.step(1.0)
    assert full.unserved[0] == pytest.approx(45.0)  # only 15 Mbps of headroom left among neighbours


def test_wake_up_takes_the_delay_and_draws_base_power():
    net = make([30.0, 30.0, 30.0], energy={"wake_delay": "5s"})
    net.switch(2, sleep=True)
    net.step(1.0)
    net.switch(2, sleep=False)
    for _ in range(4):
        net.step(1.0)
        assert net.waking[2] and net.served[2] == 0 and net.power[2] == 260.0
    net.step(1.0)
    net.step(1.0)
    assert not net.waking[2] and not net.sleeping[2] and net.served[2] == pytest.approx(30.0)


def test_handover_moves_one_ue_share_and_respects_admission_and_topology():
    net = make([40.0, 20.0, 94.0], neighbours=[[1, 2], [0], [0]])
    net.step(1.0)
    share = 40.0 / net.ues[0]
    assert net.handover(0, 1) is None
    assert net.steered[0] == pytest.approx(-share) and net.steered[1] == pytest.approx(share)
    assert "not a neighbour" in net.handover(1, 2)
    assert "no headroom" in net.handover(0, 2)  # 94 + share > 0.95 × 100
    net.switch(1, sleep=True)
    assert "switched off" in net.handover(0, 1)
    assert (net.handovers_ok, net.handovers_failed) == (1, 3)
    net.step(1.0)
    assert net.own[1] == pytest.approx(0.0, abs=1e-9) or net.sleeping[1]


def test_energy_and_integrals_accumulate():
    net = make([50.0, 50.0, 50.0])
    for _ in range(10):
        net.step(1.0)
    assert net.energy_j[0] == pytest.approx(10 * (260 + 440 * 0.5))
    assert net.integral[8, 0] == pytest.approx(net.energy_j[0])
    assert net.totals()["energy_kwh"] == pytest.approx(3 * 10 * 480 / 3.6e6, abs=1e-4)


def test_earth_macro_preset_gives_the_published_power_model():
    # Auer et al. 2011, Table 2, macro: 6 chains, P_max 20 W, P0 130 W, Δp 4.7, P_sleep 75 W.
    net = make([50.0, 50.0, 50.0], energy={"preset": "earth-macro"})
    net.step(1.0)
    assert net.power[0] == pytest.approx(6 * (130 + 4.7 * 0.5 * 20))  # 1,062 W at half load
    spec = Scenario(**{"energy": {"preset": "earth-micro"}}).energy
    assert (spec.base_w, spec.load_w, spec.sleep_w) == pytest.approx((112.0, 2 * 2.6 * 6.3, 78.0))
    with pytest.raises(ValueError, match=r"preset earth-macro sets the watts; drop \['sleep_w'\]"):
        Scenario(**{"energy": {"preset": "earth-macro", "sleep_w": 10}})


def test_short_term_fluctuation_has_the_configured_spread_and_keeps_the_mean():
    net = make([50.0, 50.0, 50.0], traffic={"noise_sigma": 0.2, "noise_tau": "60s"})
    own = []
    for _ in range(20_000):
        net.step(1.0)
        own.append(net.own.copy())
    series = np.array(own)
    assert series.mean() == pytest.approx(50.0, rel=0.05)
    assert np.std(np.log(series)) == pytest.approx(0.2, rel=0.15)
    lag = np.corrcoef(np.log(series[:-60, 0]), np.log(series[60:, 0]))[0, 1]
    assert lag == pytest.approx(np.exp(-1), abs=0.12)  # correlation after one noise_tau


def test_co_sited_offload_with_an_efficiency_penalty():
    cells = [CellSpec(name=f"c{i}", capacity_mbps=100.0) for i in range(3)]
    trace = TrafficTrace(60.0, np.array([[40.0, 50.0, 10.0], [40.0, 50.0, 10.0]]))
    sc = Scenario(**{"traffic": {"noise_sigma": 0.0}, "energy": {"offload": "co-sited", "offload_efficiency": 0.5}})
    net = Network(sc, cells, [0, 0, 1], [[1, 2], [0, 2], [0, 1]], trace)  # c2 is on another gNB
    net.switch(0, sleep=True)
    net.step(1.0)
    # only the co-sited c1 takes c0's 40 Mbit, spending 80 of its capacity: 50 of room -> 25 Mbit served
    assert net.offered[2] == pytest.approx(10.0)
    assert net.offered[1] == pytest.approx(100.0)
    assert net.unserved[0] == pytest.approx(40.0 - 25.0)
    with pytest.raises(Exception, match="offload"):
        Scenario(**{"energy": {"offload": "everywhere"}})


def test_demand_ahead_is_what_then_happens_with_noise_and_controls():
    cells = [CellSpec(name=f"c{i}", capacity_mbps=100.0) for i in range(3)]
    t = np.linspace(0, 1, 50)[:, None]
    trace = TrafficTrace(60.0, 40.0 + 30.0 * np.sin(6 * t + np.arange(3)))
    sc = Scenario(traffic={"noise_sigma": 0.2, "noise_tau": "2min"})
    net = Network(sc, cells, [0, 0, 0], [[1, 2], [0, 2], [0, 1]], trace)
    for _ in range(600):
        net.step(1.0)
    ahead = net.demand(net.time_s - 120.0, 60.0, 6)  # two periods past, four ahead
    assert ahead.shape == (6, 3)
    net.switch(2, sleep=True)  # controls change where demand is served, not the demand
    for _ in range(240):
        net.step(1.0)
    after = net.demand(net.time_s - 360.0, 60.0, 6)  # the same six periods, now all in the past
    np.testing.assert_allclose(ahead, after, rtol=1e-12)
    assert ahead.std() > 0.01  # the fluctuation is in it, not only the trace
    with pytest.raises(ValueError, match="before now"):
        net.demand(net.time_s - 3700.0, 60.0, 2)  # older than the one-hour record
