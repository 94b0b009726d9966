"""``ranml sl``: split learning of a forecaster between a site and a server (FL environment)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from ranml.cli._common import console, handle_errors, setup_logging
from ranml.cli.progress import make_progress

app = typer.Typer(help="Split learning: the site runs the first layers, the server the rest (gRPC).",
                  no_args_is_help=True)


@app.command("cuts")
@handle_errors
def cuts(config: Annotated[Path, typer.Argument(help="Split learning YAML (examples/sl.yaml).")]) -> None:
    """List the model's valid cut points for the site's windows."""
    from ranml.federated import list_cuts, load_split_config

    table = Table(title="cut points")
    for col in ("cut after", "module", "site weights", "server weights", "floats crossing per window"):
        table.add_column(col, justify="left" if col == "cut after" else "right")
    for c in list_cuts(load_split_config(config)):
        table.add_row(c["cut"], c["module"], f"{c['site_params']:,}", f"{c['server_params']:,}",
                      f"{c['floats_per_window']:,}")
    console.print(table)


@app.command("run")
@handle_errors
def run(
    config: Annotated[Path, typer.Argument(help="Split learning YAML (examples/sl.yaml).")],
    out: Annotated[Path, typer.Option("--out", help="Output folder.")],
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log progress details.")] = False,
) -> None:
    """Train at every configured cut point; print and write the trade-off table and plot."""
    from ranml.federated import load_split_config, run_split

    setup_logging(verbose)
    cfg = load_split_config(config)
    with make_progress(console, TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                       TimeElapsedColumn(), TextColumn("{task.fields[last]}")) as progress:
        tasks: dict[str, Any] = {}

        def step(cut: str, rec: dict[str, Any]) -> None:
            if cut not in tasks:
                tasks[cut] = progress.add_task(f"cut after {cut}", total=rec["total"], last="")
            progress.update(tasks[cut], completed=rec["step"], last=f"loss {rec['loss']:.4f}")

        result = run_split(cfg, out, on_progress=step)
    table = Table(title=f"{cfg.model} split between site {cfg.site.name} and the server")
    for col in ("cut after", "site weights", "val MAE", "site ms/step", "step ms", "kB/step", "site J", "recoveries"):
        table.add_column(col, justify="left" if col == "cut after" else "right")
    for r in result.cuts:
        table.add_row(r["cut"], f"{r['site_params']:,}", f"{r['val_mae']:.3f}", f"{r['site_ms_per_step']:.2f}",
                      f"{r['step_ms']:.2f}", f"{r['bytes_per_step'] / 1e3:.1f}", f"{r['site_energy_j']:.1f}",
                      str(r["recoveries"]))
    console.print(table)
    console.print(f"wrote {result.out}/summary.json and report/index.html")
