"""The HTML report of a federated run: per-round curves, per-site error, bytes and time per round."""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

from ranml.plots import svg

__all__ = ["PAGE_CSS", "write_report"]

PAGE_CSS = ("body{font-family:system-ui,sans-serif;margin:2em;max-width:70em}table{border-collapse:collapse;"
        "margin:1em 0}td,th{border:1px solid #ccc;padding:.3em .6em;text-align:right}th:first-child,"
        "td:first-child{text-align:left}h2{margin-top:2em}")


def _num(value: float | None, digits: int = 3) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def _curve(summary: dict[str, Any]) -> str:
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 3.2))
    for site, curve in summary["site_curves"].items():
        line = ax.plot([p[0] for p in curve], [p[1] for p in curve], marker="o", label=site)[0]
        central = summary["sites"][site].get("central_val_mae")
        if central is not None:
            ax.axhline(central, color=line.get_color(), linestyle="--", alpha=0.6)
    ax.set_title(f"global model ({summary['lineage']['strategy']['name']}) per site; dashed: centralised")
    ax.set_xlabel("round (0: the initial model)")
    ax.set_ylabel("validation MAE")
    ax.set_yscale("log")
    ax.grid(alpha=0.3)
    ax.legend()
    return svg(fig)


def _per_site(summary: dict[str, Any]) -> str:
    import matplotlib.pyplot as plt
    import numpy as np

    sites = list(summary["sites"])
    series = [("global", "val_mae"), ("personalised", "personal_val_mae"), ("centralised", "central_val_mae")]
    series = [(label, key) for label, key in series if all(summary["sites"][s].get(key) is not None for s in sites)]
    fig, ax = plt.subplots(figsize=(7, 3.2))
    width = 0.8 / max(len(series), 1)
    for i, (label, key) in enumerate(series):
        ax.bar(np.arange(len(sites)) + i * width, [summary["sites"][s][key] for s in sites], width, label=label)
    ax.set_xticks(np.arange(len(sites)) + width * (len(series) - 1) / 2, sites)
    ax.set_ylabel("validation MAE")
    ax.legend()
    return svg(fig)


def _costs(rounds: list[dict[str, Any]]) -> str:
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 3.2))
    numbers = [r["round"] for r in rounds]
    ax.bar(numbers, [r["wall_s"] for r in rounds], color="tab:blue", label="wall time (s)")
    ax.set_xlabel("round")
    ax.set_ylabel("wall time per round (s)")
    twin = ax.twinx()
    twin.plot(numbers, [(r["bytes_down"] + r["bytes_up"]) / 1e6 for r in rounds], color="tab:orange", marker="s",
              label="MB both ways")
    twin.set_ylabel("MB both ways")
    return svg(fig)


def write_report(folder: Path, summary: dict[str, Any], record: dict[str, Any]) -> Path:
    """Write ``index.html`` for one run into ``folder``; returns its path."""
    import matplotlib

    matplotlib.use("Agg")
    folder.mkdir(parents=True, exist_ok=True)
    lin = summary["lineage"]
    rows = "".join(
        f"<tr><td>{html.escape(site)}</td><td>{lin['sites'].get(site, '–')}</td><td>{_num(r['val_mae'])}</td>"
        f"<td>{_num(r['test_mae'])}</td><td>{_num(r['personal_val_mae'])}</td>"
        f"<td>{_num(r.get('central_val_mae'))}</td></tr>" for site, r in summary["sites"].items())
    rounds = "".join(
        f"<tr><td>{r['round']}</td><td>{len(r['sites'])}/{len(r['sampled'])}</td><td>{r['aggregated']}</td>"
        f"<td>{_num(r['global_val_mae_in'])}</td><td>{r['bytes_down']:,}</td><td>{r['bytes_up']:,}</td>"
        f"<td>{r['wall_s']:.1f}</td><td>{r['energy_j']:.1f}</td>"
        f"<td>{html.escape(', '.join(r['stragglers']) or '–')}</td>"
        f"<td>{html.escape('; '.join(f'{k}: {v}' for k, v in r['rejected'].items()) or '–')}</td></tr>"
        for r in record["rounds"])
    ratio = summary.get("val_mae_vs_central")
    page = f"""<!doctype html><html><head><meta charset="utf-8"><title>ranml federated: {html.escape(lin['model'])}
</title><style>{PAGE_CSS}</style></head><body>
<h1>Federated run: {html.escape(lin['model'])} with {html.escape(lin['strategy']['name'])}</h1>
<p>{len(lin['sites'])} sites, {summary['rounds']} rounds of {lin['local_epochs']} local epochs on Flower
({html.escape(lin['engine'])}). Validation MAE over all sites {_num(summary['val_mae'])},
test {_num(summary['test_mae'])}
{f"; {ratio:.3f}× the centralised model's" if ratio else ""}. Energy {summary['energy_j']:.0f} J
({html.escape(', '.join(summary['energy_sources']))}); refused updates {summary['rejected_updates']},
stragglers {summary['stragglers']}.</p>
<h2>Convergence</h2>{_curve(summary)}
<h2>Per site</h2>{_per_site(summary)}
<table><tr><th>site</th><th>training windows</th><th>val MAE</th><th>test MAE</th><th>personalised val</th>
<th>centralised val</th></tr>{rows}</table>
<h2>Per round</h2>{_costs(record['rounds'])}
<table><tr><th>round</th><th>answered</th><th>aggregated</th><th>val MAE of the model sent</th><th>bytes down</th>
<th>bytes up</th><th>wall s</th><th>energy J</th><th>stragglers</th><th>refused</th></tr>{rounds}</table>
</body></html>"""
    path = folder / "index.html"
    path.write_text(page, encoding="utf-8")
    return path
