"""Model selection per control-loop class, and the error/latency Pareto front.

For each (dataset, horizon) and each loop class with budget ``B`` ms: among the models whose ONNX
p99 latency fits ``budget_fraction × B``, pick the most accurate by the configured metric; models
within ``tie_tolerance`` (relative) of the best are near-ties, broken by inference energy, then by
peak memory.

Only models scored on the same test targets (the record's ``scored_on`` fingerprint) are ranked
together: the harness scores the series and grid views of a dataset on the same targets, so this
splits a group only when something (an older record, a custom harness) scored differently.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from typing import Any

from ranml.benchmark.config import SelectionConfig

__all__ = ["pareto_front", "select"]

log = logging.getLogger("ranml.benchmark.selection")


def _ok(records: Iterable[dict[str, Any]], metric: str) -> list[dict[str, Any]]:
    return [r for r in records if r.get("status") == "ok" and r.get(metric) is not None
            and r.get("latency_p99_us") is not None]


def pareto_front(records: Sequence[dict[str, Any]], metric: str = "mase") -> list[dict[str, Any]]:
    """Records not dominated in (error ``metric``, ``latency_p99_us``), sorted by latency."""
    pts = _ok(records, metric)
    front = []
    for r in pts:
        dominated = any(
            o is not r and o[metric] <= r[metric] and o["latency_p99_us"] <= r["latency_p99_us"]
            and (o[metric] < r[metric] or o["latency_p99_us"] < r["latency_p99_us"])
            for o in pts
        )
        if not dominated:
            front.append(r)
    return sorted(front, key=lambda r: r["latency_p99_us"])


def select(records: Sequence[dict[str, Any]], cfg: SelectionConfig) -> list[dict[str, Any]]:
    """Chosen model per (loop class, dataset, horizon), each with the reason in words and numbers."""
    metric = cfg.metric
    groups: dict[tuple[str, int, str], list[dict[str, Any]]] = {}
    for r in _ok(records, metric):
        groups.setdefault((r["dataset"], r["horizon"], str(r.get("scored_on") or "")), []).append(r)
    target_sets: dict[tuple[str, int], int] = {}
    for dataset, horizon, _ in groups:
        target_sets[(dataset, horizon)] = target_sets.get((dataset, horizon), 0) + 1
    for (dataset, horizon), n in target_sets.items():
        if n > 1:
            log.warning("%s/h%d: models were scored on %d different target sets; each set is ranked on its own",
                        dataset, horizon, n)
    out = []
    for loop, budget_ms in cfg.loop_classes.items():
        limit_us = budget_ms * 1000.0 * cfg.budget_fraction
        for (dataset, horizon, scored_on), group in sorted(groups.items()):
            fits = [r for r in group if r["latency_p99_us"] <= limit_us]
            entry: dict[str, Any] = {
                "loop_class": loop, "budget_ms": budget_ms, "latency_limit_us": limit_us,
                "dataset": dataset, "horizon": horizon, "metric": metric, "scored_on": scored_on or None,
                "candidates": len(group), "fitting": len(fits),
            }
            if not fits:
                fastest = min(group, key=lambda r: r["latency_p99_us"])
                entry.update(model=None, reason=(
                    f"no model's ONNX p99 fits {limit_us:.0f} us "
                    f"({cfg.budget_fraction:.0%} of {budget_ms:g} ms); fastest is "
                    f"{fastest['model']} at {fastest['latency_p99_us']:.0f} us"))
                out.append(entry)
                continue
            best_err = min(r[metric] for r in fits)
            ties = [r for r in fits if r[metric] <= best_err * (1.0 + cfg.tie_tolerance)]
            ties.sort(key=lambda r: (r.get("inference_energy_uj") or 0.0, r.get("peak_memory_mb") or 0.0,
                                     r[metric]))
            chosen = ties[0]
            if len(ties) > 1:
                others = ", ".join(f"{r['model']} ({metric} {r[metric]:.4f})" for r in ties[1:])
                why = (f"near-tie within {cfg.tie_tolerance:.0%} with {others}; chosen for lower "
                       f"inference energy ({chosen['inference_energy_uj']:.1f} uJ) then memory")
            else:
                runner_up = sorted(fits, key=lambda r: r[metric])[1:2]
                why = "most accurate within budget" + (
                    f"; next is {runner_up[0]['model']} ({metric} {runner_up[0][metric]:.4f})" if runner_up else "")
            entry.update(
                model=chosen["model"], job_id=chosen["job_id"], error=chosen[metric],
                latency_p99_us=chosen["latency_p99_us"],
                reason=(f"{chosen['model']}: {metric} {chosen[metric]:.4f}, ONNX p99 "
                        f"{chosen['latency_p99_us']:.0f} us <= {limit_us:.0f} us; {why}"),
            )
            out.append(entry)
    return out
