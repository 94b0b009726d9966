"""The energy-saving planner: feasibility on the awake cells' pooled capacity, wake ahead, hysteresis."""

import numpy as np
import pytest

from ranml.errors import ConfigError
from ranml.xapp.sleep_planner import NodeCell, PlannerSettings, plan_node

S = PlannerSettings(absorb_below=0.85, hysteresis=0.05, efficiency=0.8, wake_steps=3, min_sleep_steps=2)


def node(coverage, a, b, asleep=(False, False), may_sleep=(True, True)):
    return [NodeCell("cov", 100.0, np.asarray(coverage, float), sleepable=False),
            NodeCell("a", 100.0, np.asarray(a, float), asleep=asleep[0], may_sleep=may_sleep[0]),
            NodeCell("b", 100.0, np.asarray(b, float), asleep=asleep[1], may_sleep=may_sleep[1])]


def test_both_capacity_cells_sleep_when_the_coverage_cell_carries_them_over_the_whole_hold():
    # 0.3 + (0.2 + 0.2) / 0.8 = 0.8 <= 0.85 - 0.05: both fit on the coverage cell
    plan = plan_node(node([0.3] * 5, [0.2] * 5, [0.2] * 5), S)
    assert set(plan.sleep) == {"a", "b"} and plan.wake == ()
    # 0.35 + 0.5 = 0.85 > 0.8: only one may go (the one with less demand), the other pooled with cov
    plan = plan_node(node([0.35] * 5, [0.2] * 5, [0.25] * 5), S)
    assert plan.sleep == ("a",)


def test_a_rise_inside_the_hold_keeps_a_cell_awake():
    rising = [0.2, 0.2, 0.2, 0.2, 0.6]  # needed at step 4 < wake_steps + min_sleep_steps = 5
    plan = plan_node(node([0.3] * 5, rising, rising), S)
    assert plan.sleep == ()


def test_sleeping_cell_wakes_when_needed_within_the_wake_delay_not_before():
    later = [0.1] * 4 + [0.7] * 4  # needed at step 4: wake_steps is 3, so not yet
    plan = plan_node(node([0.3] * 8, later, [0.1] * 8, asleep=(True, True)), S)
    assert plan.wake == ()
    soon = [0.1] * 3 + [0.7] * 5  # needed at step 3: start waking now, it serves again at step 3
    plan = plan_node(node([0.3] * 8, soon, [0.1] * 8, asleep=(True, True)), S)
    assert plan.wake == ("a",) and plan.asleep_per_step[0] == 2 and plan.asleep_per_step[3] == 1


def test_hysteresis_keeps_an_asleep_cell_asleep_where_a_new_one_would_not_go():
    # 0.33 + (0.2 + 0.2) / 0.8 = 0.83: over 0.80 (switch-off limit), under 0.85 (stay-asleep limit)
    demand = ([0.33] * 6, [0.2] * 6, [0.2] * 6)
    assert set(plan_node(node(*demand), S).sleep) == {"a"}
    plan = plan_node(node(*demand, asleep=(True, True)), S)
    assert plan.wake == () and plan.asleep_per_step.tolist() == [2] * 6


def test_a_cell_that_may_not_sleep_is_planned_awake_and_unknown_demand_never_sleeps():
    plan = plan_node(node([0.3] * 5, [0.2] * 5, [0.2] * 5, may_sleep=(False, True)), S)
    assert plan.sleep == ("b",)
    plan = plan_node(node([0.3] * 5, [np.nan] * 5, [0.2] * 5), S)
    assert plan.sleep == ("b",)


def test_short_horizon_repeats_its_last_value_and_bad_settings_are_refused():
    plan = plan_node(node([0.3], [0.2], [0.2]), S)  # one step given, five needed: held flat
    assert set(plan.sleep) == {"a", "b"} and plan.asleep_per_step.size == 5
    with pytest.raises(ConfigError, match="efficiency"):
        PlannerSettings(efficiency=0.0)
    with pytest.raises(ConfigError, match="hysteresis"):
        PlannerSettings(absorb_below=0.5, hysteresis=0.6)


def test_each_policy_margin_is_its_own_predictors_error_per_lead():
    from ranml.xapp.cell_load import LoadModel, LoadSettings

    model = LoadModel(LoadSettings(policy="reactive", horizon=4, min_margin=0.0))
    for i in range(40):  # a steady rise of 0.01 per period: the latest value is short by 0.01 per lead
        view = model.track("c", "n", 60.0 * (i + 1), 0.2 + 0.01 * i, 3, False, 60.0)
    np.testing.assert_allclose(view.forecast, [0.59] * 4)
    np.testing.assert_allclose(model.bound(view), 0.59 + 0.01 * np.arange(1, 5), atol=1e-9)
    np.testing.assert_allclose(model.bound(view, 6)[4:], 0.59 + 0.04)  # past the horizon: its end held


def test_the_oracle_policy_plans_on_the_truth_without_a_margin():
    from ranml.xapp.cell_load import LoadModel, LoadSettings

    class Truth:
        def get(self, key, start):
            return np.array([0.5, 0.6, 0.7, 0.8]) if key == "c" else None

    settings = LoadSettings(policy="oracle", horizon=4, oracle_url="http://127.0.0.1:1")
    model = LoadModel(settings, oracle=Truth())
    view = model.track("c", "n", 60.0, 0.4, 3, False, 60.0)
    np.testing.assert_allclose(model.bound(view), [0.5, 0.6, 0.7, 0.8])
    other = model.track("d", "n", 60.0, 0.4, 3, False, 60.0)  # a series e2sim does not know: held flat
    np.testing.assert_allclose(other.forecast, [0.4] * 4)
    with pytest.raises(ValueError, match="oracle_url"):
        LoadSettings(policy="oracle")
