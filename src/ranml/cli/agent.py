"""``ranml agent``: the model update agent (simulation of its policies)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from ranml.cli._common import handle_errors, setup_logging

app = typer.Typer(help="Model update agent: when and where a new model version goes.", no_args_is_help=True)


@app.command("simulate")
@handle_errors
def simulate(config: Annotated[Path, typer.Argument(help="Simulation YAML (see examples/agent-sim.yaml).")],
             json_out: Annotated[Path | None, typer.Option("--json", help="Write the policy table here.")] = None,
             report: Annotated[Path | None, typer.Option(help="Folder for the HTML report with plots.")] = None,
             verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False) -> None:
    """Compare the update policies over N sites x D days; print the table."""
    from rich.console import Console
    from rich.table import Table

    from ranml.agent import load_sim_config, write_report
    from ranml.agent import simulate as run

    setup_logging(verbose)
    cfg = load_sim_config(config)
    result = run(cfg)
    table = Table(title=f"{cfg.name}: {cfg.sites} sites x {cfg.days:g} days, {len(result['versions'])} versions, "
                        f"{result['drift_events']} drift events")
    for col in ("policy", "mean error", "SLA violations", "updates", "downtime s"):
        table.add_column(col, justify="left" if col == "policy" else "right")
    for r in result["policies"]:
        table.add_row(r["policy"], f"{r['mean_error']:.4f}", str(r["sla_violations"]), str(r["updates"]),
                      f"{r['downtime_s']:.0f}")
    Console().print(table)
    if json_out is not None:
        json_out.write_text(json.dumps(result, indent=2), encoding="utf-8")
    if report is not None:
        typer.echo(f"report: {write_report(result, report)}")
