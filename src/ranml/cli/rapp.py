"""``ranml rapp``: run an rApp (O1 telemetry in over HTTP, A1 policies out)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Annotated

import typer

from ranml.cli._common import handle_errors, setup_logging

app = typer.Typer(help="rApp runtime: VES/PM telemetry in, A1-P policies out.", no_args_is_help=True)


@app.command("run")
@handle_errors
def run(ref: Annotated[str, typer.Argument(help="module:app, or energy-saving-planner.")],
        config: Annotated[Path | None, typer.Option(help="App settings (YAML or JSON).")] = None,
        http_port: Annotated[int, typer.Option(help="VES/PM/health HTTP port (0: pick one).")] = 8080,
        host: Annotated[str, typer.Option(help="Bind address.")] = "127.0.0.1",
        a1_url: Annotated[str | None, typer.Option(help="A1-P base URL of the A1 mediator.")] = None,
        registry: Annotated[str | None, typer.Option(help="Registry of the model the app uses (ctx.model).")] = None,
        model: Annotated[str | None, typer.Option(help="NAME, NAME@ALIAS or NAME@VERSION; its alias is followed.")]
        = None,
        verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False) -> None:
    """Run an rApp until SIGTERM/SIGINT."""
    import yaml

    from ranml.errors import ConfigError
    from ranml.host import run_until_signalled
    from ranml.rapp import RAppRunner, load_rapp
    from ranml.serving import ModelRef, ServedModel, open_registry

    setup_logging(verbose)
    rapp = load_rapp(ref)
    values = None
    if config is not None:
        try:
            values = yaml.safe_load(config.read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError) as exc:
            raise ConfigError(f"{config}: cannot read the rApp config: {exc}") from None

    if bool(registry) != bool(model):
        raise ConfigError("--registry and --model go together (the model the rApp follows)")
    served = (ServedModel(open_registry(registry), ModelRef.parse(model), by=f"rapp:{rapp.name}")
              if registry and model else None)
    runner = RAppRunner(rapp, values, http_port=http_port, http_host=host, a1_url=a1_url, model=served)

    async def main() -> dict[str, object]:
        return await run_until_signalled(runner.start, runner.stop, lambda _: typer.echo(
            json.dumps({"rapp": rapp.name, "http_port": runner.http_port}), err=True))

    typer.echo(json.dumps(asyncio.run(main())))
