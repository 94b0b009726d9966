"""``ranml e2sim``: run a simulated RAN (E2 nodes whose cells react to controls) over RMR."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Annotated

import typer

from ranml.cli._common import handle_errors, setup_logging

app = typer.Typer(help="E2 node simulator: KPM reports, RC handover and CCC cell on/off over RMR.",
                  no_args_is_help=True)


@app.command("run")
@handle_errors
def run(scenario: Annotated[Path, typer.Argument(help="Scenario YAML (see examples/scenarios/).")],
        speed: Annotated[float | None, typer.Option(help="Simulated seconds per real second.")] = None,
        duration: Annotated[str | None, typer.Option(help="Simulated duration, e.g. '2h' or '1D'.")] = None,
        state_port: Annotated[int | None, typer.Option(help="Ground-truth HTTP port (0: pick one).")] = None,
        rmr_port: Annotated[int | None, typer.Option(help="RMR data port (default: the scenario's).")] = None,
        host: Annotated[str, typer.Option(help="Bind address of the HTTP ports (0.0.0.0 in a pod).")] = "127.0.0.1",
        a1_port: Annotated[int | None, typer.Option(help="Also play the A1 mediator: A1-P v2 REST on this port "
                                                         "(0: pick one), policies to the xApps over RMR.")] = None,
        json_summary: Annotated[Path | None, typer.Option(help="Write the final state and counters here.")] = None,
        hold: Annotated[float, typer.Option(help="Hold the clock until the first subscription (max seconds).")]
        = 0.0,
        verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log every E2 event.")] = False) -> None:
    """Run SCENARIO until its duration has been simulated or SIGTERM/SIGINT arrives."""
    from ranml.e2sim import Simulator, load_scenario, seconds

    setup_logging(verbose)
    spec = load_scenario(scenario)
    duration_s = None
    if duration is not None:
        try:
            duration_s = seconds(duration, "--duration")
        except ValueError as exc:
            raise typer.BadParameter(str(exc)) from None

    def started(sim: Simulator) -> None:
        assert sim.endpoint is not None
        typer.echo(json.dumps({"rmr": sim.endpoint.src, "state_port": sim.state_port, "a1_port": sim.a1_port,
                               "nodes": sorted(sim.nodes)}), err=True)

    sim = Simulator(spec, speed=speed, duration_s=duration_s, state_port=state_port, rmr_port=rmr_port,
                    hold_s=hold, a1_port=a1_port, http_host=host)
    summary = asyncio.run(sim.serve(json_summary, started))
    typer.echo(json.dumps({"totals": summary["totals"], "e2": summary["e2"], "wall_s": summary["wall_s"],
                           "speed_achieved": summary["speed_achieved"]}))
