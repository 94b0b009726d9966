"""``ranml eval``: closed-loop evaluation of an xApp policy against e2sim."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from ranml.cli._common import console, handle_errors, setup_logging

app = typer.Typer(help="Evaluate apps against the simulated RAN.", no_args_is_help=True)


@app.command("closed-loop")
@handle_errors
def closed_loop(scenario: Annotated[Path, typer.Argument(help="e2sim scenario YAML.")],
                xapp: Annotated[str, typer.Option("--app", help="traffic-steering, energy-saving or module:app.")],
                policy: Annotated[str, typer.Option(
                    help="none, reactive, forecast, oracle (e2sim's true future), a comma list, or all.")] = "all",
                model: Annotated[str | None, typer.Option(help="Registry model NAME@VERSION for 'forecast'.")]
                = None,
                registry: Annotated[str | None, typer.Option(help="Registry (folder or redis:// URL).")] = None,
                speed: Annotated[float | None, typer.Option(help="Override the scenario's speed.")] = None,
                duration: Annotated[str | None, typer.Option(help="Override the simulated duration.")] = None,
                json_out: Annotated[Path | None, typer.Option("--json", help="Write the rows here.")] = None,
                set_: Annotated[list[str] | None, typer.Option("--set", help="App setting KEY=VALUE (repeatable).")]
                = None,
                verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False) -> None:
    """Run e2sim and the xApp as processes for each policy; print the comparison table."""
    from rich.table import Table

    from ranml.evaluation import POLICIES, run_closed_loop

    setup_logging(verbose)
    settings: dict[str, object] = {}
    for item in set_ or []:
        key, sep, value = item.partition("=")
        if not sep:
            raise typer.BadParameter(f"--set {item!r}: write KEY=VALUE")
        try:
            settings[key] = json.loads(value)
        except json.JSONDecodeError:
            settings[key] = value
    policies = POLICIES if policy == "all" else tuple(p.strip() for p in policy.split(","))
    rows = run_closed_loop(scenario, xapp, policies, speed=speed, duration=duration, model=model,
                           registry=registry, settings=settings)
    table = Table(title=f"{xapp} on {scenario.name}")
    cols = ("policy", "energy_kwh", "energy_saving_pct", "unserved", "overload_minutes", "handovers_ok",
            "handovers_failed", "controls_ok", "controls_failed", "deadline_misses", "dropped_indications")
    for c in cols:
        table.add_column(c)
    for r in rows:
        table.add_row(*(str(r[c]) for c in cols))
    console.print(table)
    if json_out is not None:
        json_out.write_text(json.dumps(rows if len(rows) > 1 else rows[0], indent=2), encoding="utf-8")
