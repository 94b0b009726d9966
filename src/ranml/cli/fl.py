"""``ranml fl``: federated training of a forecaster across sites on Flower (FL environment)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from ranml.cli._common import console, handle_errors, setup_logging
from ranml.cli.progress import make_progress

app = typer.Typer(help="Federated learning across sites (Flower SuperLink + one SuperNode per site).",
                  no_args_is_help=True)


def _fmt(value: float | None) -> str:
    return "–" if value is None else f"{value:.3f}"


@app.command("run")
@handle_errors
def run(
    config: Annotated[Path, typer.Argument(help="Federated run YAML (examples/fl.yaml).")],
    out: Annotated[Path, typer.Option("--out", help="Output folder.")],
    no_baseline: Annotated[bool, typer.Option("--no-baseline", help="Skip the centralised reference.")] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log progress details.")] = False,
) -> None:
    """Start a local Flower federation for CONFIG's sites, run every round, write model and summary."""
    from ranml.federated import load_federation_config, run_federation

    setup_logging(verbose)
    cfg = load_federation_config(config)
    with make_progress(console, TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                       TimeElapsedColumn(), TextColumn("{task.fields[last]}")) as progress:
        task = progress.add_task(f"{cfg.strategy.name} rounds", total=cfg.rounds, last="starting Flower…")

        def done(rec: dict[str, Any]) -> None:
            notes = [f"{len(rec['sites'])}/{len(rec['sampled'])} sites"]
            if rec["rejected"]:
                notes.append(f"[red]{len(rec['rejected'])} refused[/]")
            if rec["stragglers"]:
                notes.append(f"{len(rec['stragglers'])} late")
            progress.update(task, completed=rec["round"],
                            last=f"val MAE in {_fmt(rec['global_val_mae_in'])}, " + ", ".join(notes))

        result = run_federation(cfg, out, centralised=False if no_baseline else None, on_round=done)
    s = result.summary
    table = Table(title=f"{cfg.name}: {cfg.model} with {cfg.strategy.name}, {s['rounds']} rounds")
    for col in ("site", "val MAE", "test MAE", "personalised val", "centralised val"):
        table.add_column(col, justify="right" if col != "site" else "left")
    for site, row in s["sites"].items():
        table.add_row(site, _fmt(row["val_mae"]), _fmt(row["test_mae"]), _fmt(row["personal_val_mae"]),
                      _fmt(row.get("central_val_mae")))
    table.add_row("[bold]all", _fmt(s["val_mae"]), _fmt(s["test_mae"]), _fmt(s["personal_val_mae"]),
                  _fmt(s.get("central", {}).get("val_mae")))
    console.print(table)
    ratio = s.get("val_mae_vs_central")
    console.print(f"bytes down {s['bytes_down']:,}, up {s['bytes_up']:,}; energy {s['energy_j']:.1f} J "
                  f"({', '.join(s['energy_sources'])}); refused updates {s['rejected_updates']}, stragglers "
                  f"{s['stragglers']}" + (f"; federated/centralised val MAE {ratio:.3f}" if ratio else ""))
    console.print(f"wrote {result.files.root}/summary.json, result.json, model.pt, report/index.html")


@app.command("export")
@handle_errors
def export(
    run_dir: Annotated[Path, typer.Argument(help="Output folder of `ranml fl run` or `ranml sl run`.")],
    registry: Annotated[str, typer.Option("--registry", help="Registry folder, or redis://host:port/db.")],
    site: Annotated[str | None, typer.Option("--site", help="Site whose scaler and windows go with it.")] = None,
    fmt: Annotated[str, typer.Option("--format", help="onnx | onnx-int8 | onnx-auto | torchscript")] = "onnx",
    name: Annotated[str | None, typer.Option("--name", help="Registry name (default: the model name).")] = None,
    version: Annotated[str | None, typer.Option("--version", help="X.Y.Z (default: next minor).")] = None,
    cut: Annotated[str | None, typer.Option("--cut", help="Split learning run: the cut point's model.")] = None,
) -> None:
    """Export a federated or split model for one site with the parity gate; register it with its lineage."""
    import json

    from ranml.federated import export_site_model
    from ranml.serving import open_registry

    setup_logging(False)
    result = export_site_model(run_dir, site, fmt, name=name, cut=cut)
    m = result.manifest
    kind = (m.lineage.training or {}).get("kind", "federated")
    record = open_registry(registry).register(m.name, result.files, m.model_dump(mode="json"), version=version,
                                              note=f"{kind}: {run_dir} for site {m.lineage.dataset}")
    typer.echo(json.dumps({"name": record.name, "version": record.version, "format": m.format,
                           "parity": m.parity.model_dump(), "lineage": m.lineage.model_dump()}, indent=2))


def _exec(program: str, args: list[str]) -> None:
    """Replace this process with Flower's ``program`` from this environment (pods run it as PID 1)."""
    import os
    import shutil
    import sys

    from ranml.errors import DependencyError

    path = Path(sys.executable).parent / program
    exe = str(path) if path.exists() else shutil.which(program)
    if exe is None:
        raise DependencyError(f"{program} is not installed: pip install -c constraints-fl.txt -e '.[benchmark,fl]'")
    os.environ.setdefault("FLWR_HOME", "/tmp/flwr")  # the root file system of a ranml pod is read-only
    # Flower starts its helpers (flower-superexec, flwr-serverapp, flwr-clientapp) by name
    os.environ["PATH"] = f"{Path(exe).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    os.execv(exe, [program, *args])


@app.command("superlink")
@handle_errors
def superlink(
    port: Annotated[int, typer.Option(help="Fleet, Control and Runtime HTTP API port.")] = 9092,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "0.0.0.0",
    database: Annotated[str, typer.Option(help="SQLite file (state survives a restart); ':memory:' keeps none.")]
    = "/tmp/flwr/state.db",
) -> None:
    """Run Flower's SuperLink as a pod does (the federation's server side; `GET /health` for probes)."""
    _exec("flower-superlink", ["--insecure", "--disable-runtime-dependency-installation", "--host", host,
                               "--port", str(port), "--database", database])


@app.command("supernode")
@handle_errors
def supernode(
    superlink_address: Annotated[str, typer.Option("--superlink", help="host:port of the SuperLink.")],
    site: Annotated[str, typer.Option(help="This site's name (one of the run's sites).")],
    port: Annotated[int, typer.Option(help="Runtime HTTP API port (`GET /health` for probes).")] = 9094,
    host: Annotated[str, typer.Option(help="Address the Runtime API listens on.")] = "0.0.0.0",
) -> None:
    """Run Flower's SuperNode for one site as a pod does (the site's ClientApp runs on its own data)."""
    _exec("flower-supernode", ["--insecure", "--superlink", superlink_address, "--node-config", f'site="{site}"',
                               "--host", host, "--port", str(port)])
