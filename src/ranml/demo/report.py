"""The demo's ``summary.json`` and ``index.html`` (tables and inline SVG plots)."""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["build_summary", "write_report"]

_CSS = """body{font-family:system-ui,-apple-system,sans-serif;margin:0;color:#1d2733;background:#f7f9fb}
header{background:#12324d;color:#fff;padding:1.2rem 2rem}header h1{margin:0 0 .3rem}header p{margin:0;opacity:.85}
main{padding:1rem 2rem;max-width:1200px}section{background:#fff;border:1px solid #dde3ea;border-radius:8px;
padding:1rem 1.4rem;margin:1rem 0}h2{margin-top:0;font-size:1.2rem}table{border-collapse:collapse;font-size:.9rem}
td,th{padding:.3rem .7rem;border-bottom:1px solid #e6ebf0;text-align:right}td.l,th.l{text-align:left}
th{background:#f3f6f9}.grid{display:flex;flex-wrap:wrap;gap:1rem}.grid>div{flex:1 1 480px}
.kpis{display:flex;gap:1rem;flex-wrap:wrap}.kpi{background:#eef4fa;border-radius:6px;padding:.6rem 1rem}
.kpi b{display:block;font-size:1.4rem}.ok{color:#17803d}.bad{color:#b3261e}.note{color:#5a6b7d;font-size:.85rem}
"""


def _dropped(run: dict[str, Any]) -> int:
    sent = int(run["e2"]["indications_sent"])
    received = sum(int(r["xapp"].get("indications", 0)) for r in run["rows"].values())
    queue = sum(int(r["xapp"].get("dropped", 0)) for r in run["rows"].values())
    return max(0, sent - received) + queue


def build_summary(settings: Any, state: Any) -> dict[str, Any]:
    """The numbers of the demo (``summary.json``)."""
    base = state.runs["none"]["truth_totals"]["energy_j"]
    closed = []
    for policy, run in state.runs.items():
        t = run["truth_totals"]
        closed.append({"policy": policy, "energy_kwh": t["energy_kwh"],
                       "energy_saving_pct": round(100.0 * (base - t["energy_j"]) / base, 3) if base else None,
                       "overload_minutes": t["overload_minutes"], "unserved_mbit": t["unserved_mbit"],
                       "sleep_minutes": t["sleep_minutes"], "handovers_ok": t["handovers_ok"],
                       "controls_ok": run["e2"]["controls_ok"], "controls_failed": run["e2"]["controls_failed"],
                       "dropped_indications": _dropped(run),
                       "deadline_misses": sum(int(r["deadline_misses"]) for r in run["rows"].values())})
    by_xapp = [h for h in state.alias_history if h.get("by") == "xapp"]
    promotions = [{"to": h["to"], "from": h.get("from"), "reason": h.get("reason", "")} for h in by_xapp
                  if h["alias"] == "champion"]
    rollbacks = [{"to": h["to"], "from": h.get("from"), "reason": h.get("reason", "")} for h in by_xapp
                 if h["alias"] == "challenger"]
    return {
        "quick": settings.quick,
        "leaderboard_models": [r["model"] for r in sorted((r for r in state.board if r["status"] == "ok"),
                                                          key=lambda r: r["mase"])],
        "selection": [{"loop": e.get("loop_class"), "budget_ms": e.get("budget_ms"), "model": e.get("model"),
                       "reason": e.get("reason")} for e in state.selection],
        "deployed_model": state.chosen,
        "versions": state.versions,
        "promotions": promotions,
        "rollbacks": rollbacks,
        "timeline": state.timeline,
        "dropped_indications": sum(c["dropped_indications"] for c in closed),
        "closed_loop": closed,
        "timings_s": {k: round(v, 1) for k, v in state.timings.items()},
    }


def _svg(fig: Any) -> str:
    from ranml.plots import svg

    return svg(fig)


def _pareto(board: list[dict[str, Any]], chosen: str) -> str:
    import matplotlib.pyplot as plt

    ok = [r for r in board if r["status"] == "ok"]
    fig, ax = plt.subplots(figsize=(6, 3.6))
    for r in ok:
        color = "#d9480f" if r["model"] == chosen else "#1c7ed6"
        ax.scatter(r["latency_p99_us"], r["mase"], color=color, s=50)
        ax.annotate(r["model"], (r["latency_p99_us"], r["mase"]), fontsize=8, xytext=(4, 3), textcoords="offset points")
    ax.set_xscale("log")
    from matplotlib.ticker import NullFormatter

    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_xlabel("ONNX Runtime p99 latency, batch 1 (µs)")
    ax.set_ylabel("MASE (lower is better)")
    ax.set_title("Accuracy vs latency (orange: deployed)")
    return _svg(fig)


def _closed_loop_plot(closed: list[dict[str, Any]]) -> str:
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(7.5, 3))
    names = [c["policy"] for c in closed]
    colors = ["#868e96", "#f08c00", "#2f9e44"][: len(names)]
    axes[0].bar(names, [c["energy_saving_pct"] or 0 for c in closed], color=colors)
    axes[0].set_title("Energy saving vs none (%)")
    axes[1].bar(names, [c["overload_minutes"] for c in closed], color=colors)
    axes[1].set_title("Overload (cell-minutes)")
    fig.tight_layout()
    return _svg(fig)


def _power_plot(runs: dict[str, dict[str, Any]]) -> str:
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 3.4), gridspec_kw={"width_ratios": [1.2, 1]})
    for policy, run in runs.items():
        samples = [x for x in run["samples"] if x["t"] > 0]  # the first sample precedes the first tick
        if samples:
            t = np.array([x["t"] for x in samples]) / 3600.0
            p = np.array([sum(x["power_w"]) for x in samples]) / 1000.0
            axes[0].plot(t, p, label=policy)
    axes[0].set_xlabel("simulated hour")
    axes[0].set_ylabel("network power (kW)")
    axes[0].legend(fontsize=8)
    axes[0].set_title("Power over the day")
    forecast = runs.get("forecast")
    shown = [x for x in forecast["samples"] if x["t"] > 0] if forecast else []
    if forecast and shown:
        grid = np.array([x["power_w"] for x in shown]).T
        t_end = shown[-1]["t"] / 3600.0
        im = axes[1].imshow(grid, aspect="auto", cmap="viridis", extent=(0, t_end, len(grid) - 0.5, -0.5))
        axes[1].set_yticks(range(len(forecast["cells"])), forecast["cells"], fontsize=7)
        axes[1].set_xlabel("simulated hour")
        axes[1].set_title("Power per cell, forecast policy (W)")
        fig.colorbar(im, ax=axes[1])
    fig.tight_layout()
    return _svg(fig)


def _latency_plot(runs: dict[str, dict[str, Any]]) -> str:
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.5, 3.2))
    forecast = runs.get("forecast") or next(iter(runs.values()))
    for label, buckets in forecast["histograms"].items():
        finite = [(le, c) for le, c in buckets if np.isfinite(le)]
        if not finite:
            continue
        edges = [le * 1e6 for le, _ in finite]
        counts = np.diff([0.0] + [c for _, c in finite])
        ax.step(edges, counts, where="post", label=label)
    ax.set_xscale("log")
    ax.set_xlabel("indication in -> decision out (µs, bucket upper edge)")
    ax.set_ylabel("messages")
    ax.set_title("xApp handler latency, forecast run")
    ax.legend(fontsize=8)
    return _svg(fig)


def _timeline_plot(timeline: list[dict[str, Any]], hours: float) -> str:
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(9, 1.9))
    ax.set_xlim(0, hours)
    ax.set_ylim(0, 1)
    ax.set_yticks([])
    for i, ev in enumerate(timeline):
        x = ev["t"] / 3600.0
        color = "#2f9e44" if "champion" in ev["event"] else "#b3261e" if ev["by"] == "xapp" else "#1c7ed6"
        ax.axvline(x, color=color, lw=2)
        ax.text(x, 0.85 - 0.22 * (i % 4), f" {ev['event']}", fontsize=8, color=color)
    ax.set_xlabel("simulated hour (forecast run)")
    ax.set_title("Canary timeline: blue = alias moved by the demo, green = promoted, red = rolled back")
    return _svg(fig)


def _table(rows: list[list[Any]], head: list[str]) -> str:
    def cell(v: Any, i: int) -> str:
        text = f"{v:,.3f}" if isinstance(v, float) else html.escape(str(v if v is not None else "–"))
        return f'<td class="{"l" if i == 0 else ""}">{text}</td>'

    head_html = "".join(f'<th class="{"l" if i == 0 else ""}">{html.escape(h)}</th>' for i, h in enumerate(head))
    body = "".join("<tr>" + "".join(cell(v, i) for i, v in enumerate(r)) + "</tr>" for r in rows)
    return f"<table><tr>{head_html}</tr>{body}</table>"


def write_report(settings: Any, state: Any, summary: dict[str, Any], path: Path) -> Path:
    """Render ``index.html``."""
    import matplotlib

    matplotlib.use("Agg")
    ok = sorted((r for r in state.board if r["status"] == "ok"), key=lambda r: r["mase"])
    board = _table([[r["model"], r["mase"], r["mae"], r["latency_p50_us"], r["latency_p99_us"], r.get("params"),
                     r.get("train_seconds")] for r in ok],
                   ["model", "MASE", "MAE", "ONNX p50 µs", "ONNX p99 µs", "parameters", "training s"])
    selection = _table([[e.get("loop"), e.get("budget_ms"), e.get("model"), e.get("reason")]
                        for e in summary["selection"]], ["loop", "budget ms", "model", "why"])
    closed = _table([[c["policy"], c["energy_kwh"], c["energy_saving_pct"], c["unserved_mbit"], c["overload_minutes"],
                      c["handovers_ok"], c["controls_ok"], c["dropped_indications"]] for c in summary["closed_loop"]],
                    ["policy", "energy kWh", "saving %", "unserved Mbit", "overload cell-min", "handovers",
                     "controls ok", "dropped indications"])
    timeline = _table([[f"{ev['t'] / 3600:.2f} h", ev["event"], ev["by"], ev.get("reason", "")]
                       for ev in summary["timeline"]], ["when", "alias move", "by", "evidence"])
    forecast = next((c for c in summary["closed_loop"] if c["policy"] == "forecast"), None)
    kpis = "".join(f'<div class="kpi">{label}<b class="{cls}">{value}</b></div>' for label, value, cls in (
        ("models benchmarked", len(summary["leaderboard_models"]), ""),
        ("deployed", html.escape(state.chosen["model"]), ""),
        ("promotions", len(summary["promotions"]), "ok" if summary["promotions"] else "bad"),
        ("rollbacks", len(summary["rollbacks"]), "ok" if summary["rollbacks"] else "bad"),
        ("dropped indications", summary["dropped_indications"], "ok" if summary["dropped_indications"] == 0 else "bad"),
        ("energy saving (forecast)", f"{forecast['energy_saving_pct']:.1f} %" if forecast else "–", "")))
    versions = "".join(f"<li><b>{html.escape(v)}</b>: {html.escape(d)}</li>" for v, d in state.versions.items())
    page = f"""<!doctype html><html lang="en"><head><meta charset="utf-8"><title>ranml demo</title>
<style>{_CSS}</style></head><body>
<header><h1>ranml demo: from telemetry to a running O-RAN app</h1>
<p>Synthetic small city, {'quick' if settings.quick else 'full'} run in {summary['timings_s'].get('total_s', 0):.0f} s:
benchmark → per-loop selection → export and registry → xApps against e2sim → canary promote / rollback.</p></header>
<main>
<section><div class="kpis">{kpis}</div></section>
<section><h2>1. Leaderboard and Pareto front</h2><div class="grid"><div>{board}
<p class="note">Full benchmark report: <a href="benchmark-report.html">benchmark-report.html</a>.</p></div>
<div>{_pareto(state.board, state.chosen["model"])}</div></div></section>
<section><h2>2. Model per control loop</h2>{selection}
<p>Deployed in the xApps: <b>{html.escape(state.chosen["model"])}</b> — {html.escape(state.chosen["why"])}</p>
<ul>{versions}</ul></section>
<section><h2>3. Closed loop: none / reactive / forecast / oracle</h2>
<p class="note">e2sim (3 gNBs × 3 cells) with the traffic-steering and energy-saving xApps as processes over RMR,
{settings.sim_hours:g} simulated hours per policy; KPIs from e2sim's ground truth.</p>
<div class="grid"><div>{closed}</div><div>{_closed_loop_plot(summary["closed_loop"])}</div></div></section>
<section><h2>4. Canary timeline (forecast run)</h2>{_timeline_plot(summary["timeline"], settings.sim_hours)}
{timeline}</section>
<section><h2>5. Latency</h2>{_latency_plot(state.runs)}</section>
<section><h2>6. Energy per cell over time</h2>{_power_plot(state.runs)}</section>
</main></body></html>"""
    path.write_text(page, encoding="utf-8")
    return path
