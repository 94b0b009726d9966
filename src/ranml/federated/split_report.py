"""The split learning trade-off: per cut point, accuracy against the site's cost and the link's load."""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

from ranml.federated.config import SplitConfig
from ranml.federated.report import PAGE_CSS
from ranml.plots import svg

__all__ = ["write_split_report"]

def _tradeoff(records: list[dict[str, Any]], title: str) -> str:
    import matplotlib.pyplot as plt

    cuts = [r["cut"] for r in records]
    fig, axes = plt.subplots(1, 3, figsize=(11, 3.2))
    axes[0].bar(cuts, [r["val_mae"] for r in records], color="tab:green")
    axes[0].set_title("validation MAE")
    axes[1].bar(cuts, [r["site_ms_per_step"] for r in records], color="tab:blue", label="site compute")
    axes[1].bar(cuts, [r["step_ms"] - r["site_ms_per_step"] for r in records],
                bottom=[r["site_ms_per_step"] for r in records], color="tab:grey", label="link + server")
    axes[1].set_title("ms per step")
    axes[1].legend(fontsize=7)
    axes[2].bar(cuts, [r["bytes_per_step"] / 1e3 for r in records], color="tab:orange")
    axes[2].set_title("kB per step (both ways)")
    for ax in axes:
        ax.set_xlabel("cut after")
        ax.tick_params(axis="x", labelrotation=30)
    fig.suptitle(title)
    fig.tight_layout()
    return svg(fig)


def write_split_report(folder: Path, cfg: SplitConfig, records: list[dict[str, Any]]) -> Path:
    """Write ``index.html`` with the trade-off plot and table; returns its path."""
    import matplotlib

    matplotlib.use("Agg")
    folder.mkdir(parents=True, exist_ok=True)
    rows = "".join(
        f"<tr><td>{html.escape(r['cut'])}</td><td>{r['site_params']:,}</td><td>{r['server_params']:,}</td>"
        f"<td>{r['floats_per_window']:,}</td><td>{r['val_mae']:.3f}</td><td>{r['test_mae']:.3f}</td>"
        f"<td>{r['site_ms_per_step']:.2f}</td><td>{r['step_ms']:.2f}</td><td>{r['bytes_per_step'] / 1e3:.1f}</td>"
        f"<td>{r['site_energy_j']:.1f} ({html.escape(r['energy_source'])})</td><td>{r['recoveries']}</td></tr>"
        for r in records)
    page = f"""<!doctype html><html><head><meta charset="utf-8"><title>ranml split learning: {html.escape(cfg.model)}
</title><style>{PAGE_CSS}</style></head><body><h1>Split learning: {html.escape(cfg.model)} on site
{html.escape(cfg.site.name)}</h1><p>{cfg.epochs} epochs, batch {cfg.batch_size}; the site runs the layers up to the
cut, the server the rest, over gRPC. Moving the cut later puts more weights and compute on the site; what crosses the
link per step is the activations at the cut (and their gradients back) plus the targets.</p>
{_tradeoff(records, f"{cfg.model}: partition trade-off")}
<table><tr><th>cut after</th><th>site weights</th><th>server weights</th><th>floats crossing per window</th>
<th>val MAE</th><th>test MAE</th><th>site ms/step</th><th>step ms (end to end)</th><th>kB/step</th>
<th>site energy J</th><th>recoveries</th></tr>{rows}</table></body></html>"""
    path = folder / "index.html"
    path.write_text(page, encoding="utf-8")
    return path
