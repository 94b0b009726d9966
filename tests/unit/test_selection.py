from ranml.benchmark.config import SelectionConfig
from ranml.benchmark.selection import pareto_front, select


def rec(model, mase, p99, energy=1.0, mem=1.0, status="ok"):
    return {"model": model, "dataset": "d", "horizon": 4, "status": status, "mase": mase,
            "latency_p99_us": p99, "inference_energy_uj": energy, "peak_memory_mb": mem, "job_id": model}


def test_budget_filters_then_most_accurate():
    recs = [rec("fast", 0.9, 50), rec("mid", 0.7, 2_000), rec("slow", 0.5, 800_000)]
    cfg = SelectionConfig(loop_classes={"dapp": 10, "xapp": 1000, "rapp": 60000}, budget_fraction=0.5)
    chosen = {s["loop_class"]: s["model"] for s in select(recs, cfg)}
    assert chosen == {"dapp": "mid", "xapp": "mid", "rapp": "slow"}


def test_near_tie_broken_by_energy_then_memory():
    recs = [rec("a", 0.700, 100, energy=5.0), rec("b", 0.705, 100, energy=2.0, mem=9),
            rec("c", 0.705, 100, energy=2.0, mem=3), rec("d", 0.80, 10, energy=0.1)]
    s = select(recs, SelectionConfig(loop_classes={"xapp": 1000}))[0]
    assert s["model"] == "c"
    assert "near-tie" in s["reason"] and "energy" in s["reason"]


def test_nothing_fits_says_why():
    s = select([rec("slow", 0.5, 50_000)], SelectionConfig(loop_classes={"dapp": 10}))[0]
    assert s["model"] is None and "fastest is slow" in s["reason"]


def test_failed_records_ignored_and_front():
    recs = [rec("a", 0.5, 100), rec("b", 0.6, 50), rec("c", 0.7, 200), rec("x", None, None, status="failed")]
    assert [r["model"] for r in pareto_front(recs)] == ["b", "a"]
