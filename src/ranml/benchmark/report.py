"""The HTML report of a benchmark run: tables and plots in one self-contained file.

Plots (matplotlib, inline SVG): error vs ONNX p99 latency with the Pareto front and the loop-class
budgets, error per horizon step, and forecast vs actual on a test cell. Tables: the selection, what
windowing did with each dataset's gaps, and per (dataset, horizon) the leaderboard with each
model's stop reason; a model the time budget stopped while it was still improving is flagged.
"""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

from ranml.benchmark.config import BenchmarkConfig
from ranml.benchmark.selection import pareto_front
from ranml.plots import svg

__all__ = ["budget_cut", "render_report"]

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem;color:#1d2733;max-width:1200px}
h1{font-size:1.6rem}h2{font-size:1.25rem;margin-top:2rem;border-bottom:1px solid #dde3ea;padding-bottom:.3rem}
table{border-collapse:collapse;font-size:.85rem;margin:.5rem 0}
th,td{padding:.25rem .6rem;border-bottom:1px solid #e8edf2;text-align:right}
th{background:#f3f6f9;position:sticky;top:0}td.l,th.l{text-align:left}
tr.failed td{color:#a33}.chosen{font-weight:600}.note{color:#5a6b7d;font-size:.85rem}
.scroll{overflow-x:auto}.grid{display:flex;flex-wrap:wrap;gap:1rem}.grid>div{flex:1 1 520px}
"""


def _svg(fig: Any) -> str:
    return svg(fig)


def _fmt(v: Any, digits: int = 3) -> str:
    if v is None:
        return "–"
    if isinstance(v, float):
        if abs(v) >= 1000:
            return f"{v:,.0f}"
        return f"{v:.{digits}g}" if abs(v) < 1 else f"{v:.{digits}f}".rstrip("0").rstrip(".")
    if isinstance(v, int):
        return f"{v:,}"
    return html.escape(str(v))


def budget_cut(record: dict[str, Any]) -> bool:
    """Whether the time budget stopped a model while its validation loss was still improving."""
    return (record.get("stopped_by") == "time_budget" and record.get("epochs") is not None
            and record.get("best_epoch") == record.get("epochs"))


def _stop_text(record: dict[str, Any]) -> str:
    stopped = record.get("stopped_by")
    if stopped in (None, "not_trainable"):
        return "–"
    text = f"{stopped.replace('_', ' ')} after {record.get('epochs')} (best {record.get('best_epoch')})"
    return text + " ⚠" if budget_cut(record) else text


def _data_table(data_reports: list[dict[str, Any]]) -> str:
    head = ("<h2>Data: gaps and scored targets</h2><p class='note'>Gaps of up to <code>max_gap_steps</code> "
            "are interpolated for the inputs; windows touching a longer gap are dropped; interpolated "
            "targets are never scored. Every model of a dataset and horizon is scored on the same "
            "targets (<code>scored_on</code>).</p><table><tr><th class='l'>dataset</th><th>h</th>"
            "<th>cells</th><th>with gaps</th><th>missing</th><th>longest gap</th><th class='l'>where</th>"
            "<th>interpolated</th><th>windows dropped</th><th>test targets</th><th>not scored</th>"
            "<th class='l'>scored_on</th></tr>")
    rows = []
    for d in data_reports:
        where = f"{d.get('longest_gap_cell')} at {d.get('longest_gap_start')}" if d.get("longest_gap_cell") else "–"
        rows.append(f"<tr><td class='l'>{html.escape(str(d['dataset']))}</td><td>{d['horizon']}</td>"
                    f"<td>{_fmt(d['cells'])}</td><td>{_fmt(d['cells_with_gaps'])}</td>"
                    f"<td>{_fmt(d['missing_points'])}</td><td>{_fmt(d['longest_gap_steps'])}</td>"
                    f"<td class='l'>{html.escape(where)}</td><td>{_fmt(d['points_interpolated'])}</td>"
                    f"<td>{_fmt(d['windows_dropped'])}</td><td>{_fmt(d['test_targets'])}</td>"
                    f"<td>{_fmt(d['test_targets_masked'])}</td><td class='l'><code>{d['scored_on']}</code></td></tr>")
    return head + "".join(rows) + "</table>"


def _pareto_plot(group: list[dict[str, Any]], metric: str, cfg: BenchmarkConfig, title: str) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ok = [r for r in group if r["status"] == "ok"]
    fig, ax = plt.subplots(figsize=(7, 4.2))
    if ok:
        ax.scatter([r["latency_p99_us"] for r in ok], [r[metric] for r in ok], color="#2b6cb0", zorder=3)
        for r in ok:
            ax.annotate(r["model"], (r["latency_p99_us"], r[metric]), textcoords="offset points",
                        xytext=(4, 4), fontsize=8)
        front = pareto_front(ok, metric)
        ax.step([r["latency_p99_us"] for r in front], [r[metric] for r in front], where="post",
                color="#dd6b20", label="Pareto front", zorder=2)
        xmax = max(r["latency_p99_us"] for r in ok)
        for loop, budget in cfg.selection.loop_classes.items():
            limit = budget * 1000 * cfg.selection.budget_fraction
            if limit <= xmax * 10:
                ax.axvline(limit, color="#718096", ls="--", lw=0.8)
                ax.text(limit, ax.get_ylim()[1], f" {loop} budget", fontsize=7, va="top", color="#4a5568")
        ax.set_xscale("log")
        ax.legend(fontsize=8)
    ax.set_xlabel("ONNX Runtime p99 latency, batch 1, 1 thread (µs)")
    ax.set_ylabel(metric.upper())
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3)
    return _svg(fig)


def _horizon_plot(group: list[dict[str, Any]], title: str) -> str:
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.2))
    for r in group:
        if r["status"] == "ok" and r.get("per_step_mae"):
            steps = range(1, len(r["per_step_mae"]) + 1)
            ax.plot(list(steps), r["per_step_mae"], marker="o", ms=3, label=r["model"])
    ax.set_xlabel("horizon step")
    ax.set_ylabel("MAE")
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, ncol=2)
    return _svg(fig)


def _forecast_plot(group: list[dict[str, Any]], out_dir: Path, metric: str, title: str, top: int = 4) -> str:
    import matplotlib.pyplot as plt

    ok = sorted([r for r in group if r["status"] == "ok"], key=lambda r: r[metric])[:top]
    samples = []
    for r in ok:
        path = out_dir / "jobs" / r["job_id"] / "forecast_sample.json"
        if path.exists():
            samples.append((r["model"], json.loads(path.read_text())))
    if not samples:
        return ""
    fig, ax = plt.subplots(figsize=(11, 3.8))
    first = samples[0][1]
    ax.plot(range(len(first["actual"])), first["actual"], color="black", lw=1.5, label="actual")
    for model, s in samples:
        ax.plot(range(len(s["forecast"])), s["forecast"], lw=1, label=model)
    ticks = list(range(0, len(first["time"]), max(1, len(first["time"]) // 8)))
    labels = [t if t.startswith("step") else t[5:16] for t in first["time"]]
    ax.set_xticks(ticks, [labels[i] for i in ticks], fontsize=7)
    ax.set_title(f"{title} — cell {first['cell']} (best {len(samples)} models)", fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, ncol=3)
    return _svg(fig)


def render_report(cfg: BenchmarkConfig, records: list[dict[str, Any]], selection: list[dict[str, Any]],
                  out_dir: Path, data_reports: list[dict[str, Any]] | None = None) -> str:
    """Return the report page as HTML text (``data_reports``: the ``data`` entries of ``run.json``)."""
    import matplotlib

    matplotlib.use("Agg")
    metric = cfg.selection.metric
    sources = ", ".join(sorted({str(r["energy_source"]) for r in records if r.get("energy_source")})) or "–"
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>ranml benchmark: "
             f"{html.escape(cfg.name)}</title><style>{_CSS}</style></head><body>",
             f"<h1>Benchmark <code>{html.escape(cfg.name)}</code></h1>",
             f"<p class='note'>{len(records)} jobs, {sum(r['status'] == 'ok' for r in records)} ok. "
             f"Latency: ONNX Runtime, batch 1, single thread, after warm-up. Energy source: "
             f"{html.escape(sources)}"
             " (an <em>estimate</em> is CPU time × per-core power).</p>"]
    parts.append("<h2>Selection per control loop</h2><table><tr><th class='l'>loop</th><th>budget ms</th>"
                 "<th class='l'>dataset</th><th>h</th><th class='l'>model</th><th class='l'>reason</th></tr>")
    for s in selection:
        parts.append(f"<tr><td class='l'>{s['loop_class']}</td><td>{_fmt(s['budget_ms'])}</td>"
                     f"<td class='l'>{html.escape(s['dataset'])}</td><td>{s['horizon']}</td>"
                     f"<td class='l chosen'>{_fmt(s.get('model'))}</td>"
                     f"<td class='l'>{html.escape(s['reason'])}</td></tr>")
    parts.append("</table>")
    if data_reports:
        parts.append(_data_table(data_reports))
    cols = {"mae": "MAE", "rmse": "RMSE", "smape": "sMAPE %", "mase": "MASE", "r2": "R²",
            "latency_p50_us": "p50 µs", "latency_p99_us": "p99 µs", "throughput_per_s": "batch-64 /s",
            "peak_memory_mb": "mem MB", "params": "params", "flops": "FLOPs", "model_bytes": "bytes",
            "serving": "serving",
            "train_seconds": "train s", "energy_j": "energy J", "stopped_by": "stopped by"}
    groups: dict[tuple[str, int], list[dict[str, Any]]] = {}
    for r in records:
        groups.setdefault((r["dataset"], r["horizon"]), []).append(r)
    for (dataset, horizon), group in groups.items():
        title = f"{dataset}, horizon {horizon}"
        parts.append(f"<h2>{html.escape(title)}</h2><div class='scroll'><table><tr><th class='l'>model</th>"
                     "<th>status</th>" + "".join(f"<th>{label}</th>" for label in cols.values()) + "</tr>")
        for r in sorted(group, key=lambda r: (r["status"] != "ok", r.get(metric) or 0.0)):
            cls = " class='failed'" if r["status"] != "ok" else ""
            status = r["status"] if r["status"] == "ok" else f"failed: {html.escape(str(r.get('error')))[:120]}"
            cells = "".join(f"<td class='l'>{html.escape(_stop_text(r))}</td>" if c == "stopped_by"
                            else f"<td>{_fmt(r.get(c))}</td>" for c in cols)
            parts.append(f"<tr{cls}><td class='l'>{html.escape(r['model'])}</td><td class='l'>{status}</td>"
                         + cells + "</tr>")
        parts.append("</table></div>")
        for r in group:
            if budget_cut(r):
                parts.append(f"<p class='note budget'>⚠ {html.escape(r['model'])} stopped on the time budget "
                             f"(<code>train.max_seconds</code>) after {r['epochs']} epoch(s), still improving: its "
                             "rank is a budget artefact, not a model result. Raise max_seconds or lower the "
                             "data size.</p>")
        parts.append("<div class='grid'>")
        parts.append(f"<div>{_pareto_plot(group, metric, cfg, 'Error vs latency')}</div>")
        parts.append(f"<div>{_horizon_plot(group, 'Error per horizon step')}</div></div>")
        parts.append(_forecast_plot(group, out_dir, metric, "Forecast vs actual"))
    parts.append("</body></html>")
    return "\n".join(parts)
