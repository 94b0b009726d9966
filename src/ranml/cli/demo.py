"""``ranml demo``: benchmark -> selection -> registry -> xApps against e2sim -> canary -> report."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ranml.cli._common import handle_errors, setup_logging


@handle_errors
def demo(out: Annotated[Path, typer.Option(help="Report folder (index.html, summary.json).")] = Path("demo-report"),
         quick: Annotated[bool, typer.Option("--quick", help="Smaller zoo and a shorter day (about 3 minutes).")]
         = False,
         data: Annotated[Path | None, typer.Option(help="Your telemetry (CSV/Parquet, 1-minute reports) instead "
                                                         "of the synthetic city.")] = None,
         registry: Annotated[str | None, typer.Option(help="A redis:// registry (default: a folder).")] = None,
         seed: Annotated[int, typer.Option(help="Seed of the synthetic city and the training.")] = 7,
         verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False) -> None:
    """Run the whole chain on embedded defaults and write demo-report/index.html."""
    from rich.console import Console
    from rich.progress import BarColumn, TextColumn, TimeElapsedColumn

    from ranml.cli.progress import make_progress
    from ranml.demo import DemoSettings, run_demo

    setup_logging(verbose)
    console = Console()
    settings = DemoSettings(out=out, quick=quick, data=data, seed=seed, registry=registry)
    with make_progress(console, TextColumn("{task.description}"), BarColumn(),
                       TextColumn("{task.completed}/{task.total}"), TimeElapsedColumn()) as progress:
        summary = run_demo(settings, progress)
    rows = summary["closed_loop"]
    console.print(f"[bold]deployed[/]: {summary['deployed_model']['model']}   promotions: "
                  f"{len(summary['promotions'])}   rollbacks: {len(summary['rollbacks'])}   dropped indications: "
                  f"{summary['dropped_indications']}")
    for r in rows:
        console.print(f"  {r['policy']:9s} saving {r['energy_saving_pct']:6.2f} %   overload "
                      f"{r['overload_minutes']:7.1f} cell-min   unserved {r['unserved_mbit']:12,.0f} Mbit")
    console.print(f"report: {out / 'index.html'}")
