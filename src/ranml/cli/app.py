"""The root ``ranml`` command: composes the command groups, holds no logic of its own."""

from __future__ import annotations

import typer

from ranml.cli import (
    agent,
    benchmark,
    dapp,
    data,
    demo,
    e2sim,
    evaluate,
    export,
    helm,
    rapp,
    registry,
    rmr,
    serve,
    xapp,
)

app = typer.Typer(name="ranml", help="ranml: forecasting models from benchmark to O-RAN apps.",
                  no_args_is_help=True, pretty_exceptions_enable=False, add_completion=False)
app.add_typer(agent.app, name="agent")
app.add_typer(benchmark.app, name="benchmark")
app.add_typer(dapp.app, name="dapp")
app.add_typer(data.app, name="data")
app.add_typer(e2sim.app, name="e2sim")
app.add_typer(helm.app, name="helm")
app.add_typer(rapp.app, name="rapp")
app.add_typer(evaluate.app, name="eval")
app.add_typer(registry.app, name="registry")
app.add_typer(rmr.app, name="rmr")
app.add_typer(xapp.app, name="xapp")
app.command("demo")(demo.demo)
app.command("export")(export.export)
app.command("serve")(serve.serve)


@app.command("version")
def version() -> None:
    """Print the ranml version."""
    from ranml import __version__

    typer.echo(__version__)


def main() -> None:
    """Console-script entry point."""
    app()


if __name__ == "__main__":
    main()
