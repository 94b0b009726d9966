"""``ranml benchmark``: run model benchmarks from a YAML config."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from ranml.cli._common import console, handle_errors, setup_logging
from ranml.cli.progress import make_progress

app = typer.Typer(help="Benchmark forecasting models: accuracy and deployability KPIs.", no_args_is_help=True)


@app.command("run")
@handle_errors
def run(
    config: Annotated[Path, typer.Argument(help="Benchmark YAML config.")],
    out: Annotated[Path, typer.Option("--out", help="Results folder.")],
    backend: Annotated[str, typer.Option(help="local | joblib | dask")] = "local",
    workers: Annotated[int, typer.Option(help="Worker processes (joblib, dask).")] = 1,
    scheduler: Annotated[str | None, typer.Option(help="Existing Dask scheduler, tcp://host:port.")] = None,
    resume: Annotated[bool, typer.Option("--resume", help="Skip jobs already finished with the same config.")] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log progress details.")] = False,
) -> None:
    """Run every (dataset, horizon, model) job and write leaderboard, selection and report."""
    from ranml.benchmark import load_benchmark_config, run_benchmark

    setup_logging(verbose)
    cfg = load_benchmark_config(config)
    with make_progress(console, TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                       TimeElapsedColumn(), TextColumn("{task.fields[last]}")) as progress:
        task = progress.add_task("benchmark", total=None, last="planning…")

        def planned(todo: int, reused: int) -> None:
            progress.update(task, total=todo, last=f"{reused} reused" if reused else "")

        def done(rec: dict[str, Any]) -> None:
            mark = "ok" if rec["status"] == "ok" else "[red]failed[/]"
            progress.update(task, advance=1, last=f"{rec['model']} on {rec['dataset']}/h{rec['horizon']}: {mark}")

        result = run_benchmark(cfg, out, backend=backend, workers=workers, scheduler=scheduler,
                               resume=resume, on_planned=planned, on_done=done, config_path=str(config))
    _print_leaderboard(result.records, cfg.selection.metric)
    table = Table(title="Selection per control loop")
    for col in ("loop", "dataset", "h", "model", "reason"):
        table.add_column(col)
    for s in result.selection:
        table.add_row(s["loop_class"], s["dataset"], str(s["horizon"]), str(s.get("model")), s["reason"])
    console.print(table)
    console.print(f"results in {out} ({result.wall_seconds:.1f}s, {result.reused} reused): "
                  + ", ".join(result.files))


def _print_leaderboard(records: list[dict[str, Any]], metric: str) -> None:
    table = Table(title="Leaderboard")
    from ranml.benchmark import budget_cut

    cols = ["model", "dataset", "h", "status", metric, "mae", "p50 µs", "p99 µs", "params", "MFLOPs",
            "train s", "stop", "energy J"]
    for c in cols:
        table.add_column(c, justify="left" if c in ("model", "dataset", "status") else "right")
    for r in sorted(records, key=lambda r: (r["dataset"], r["horizon"], r["status"] != "ok", r.get(metric) or 0)):
        if r["status"] != "ok":
            table.add_row(r["model"], r["dataset"], str(r["horizon"]), f"[red]{r['error']}"[:80],
                          *[""] * (len(cols) - 4))
            continue
        table.add_row(r["model"], r["dataset"], str(r["horizon"]), "ok", f"{r[metric]:.4f}", f"{r['mae']:.3f}",
                      f"{r['latency_p50_us']:.0f}", f"{r['latency_p99_us']:.0f}", f"{r['params']:,}",
                      f"{r['flops'] / 1e6:.2f}", f"{r['train_seconds']:.1f}", _stop(r, budget_cut(r)),
                      f"{r['energy_j']:.0f} ({r['energy_source']})")
    console.print(table)


def _stop(record: dict[str, Any], cut: bool) -> str:
    stopped = record.get("stopped_by")
    if stopped in (None, "not_trainable"):
        return "–"
    return f"{stopped}@{record.get('epochs')}" + (" [yellow]budget cut, still improving[/]" if cut else "")


@app.command("show")
@handle_errors
def show(out: Annotated[Path, typer.Argument(help="Results folder of a run.")],
         as_json: Annotated[bool, typer.Option("--json", help="Print the selection as JSON.")] = False) -> None:
    """Print the leaderboard and selection of a finished run."""
    from ranml.errors import BenchmarkError

    try:
        records = json.loads((out / "leaderboard.json").read_text())
        selection = json.loads((out / "selection.json").read_text())
    except (OSError, ValueError) as exc:
        raise BenchmarkError(f"{out}: not a finished benchmark folder ({exc})") from None
    if as_json:
        console.print_json(json.dumps({"leaderboard": records, "selection": selection}))
        return
    metric = selection[0]["metric"] if selection else "mase"
    _print_leaderboard(records, metric)
