"""``ranml data``: make and convert telemetry tables."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ranml.cli._common import console, handle_errors

app = typer.Typer(help="Make and convert telemetry tables (tidy Parquet with a declared step).",
                  no_args_is_help=True)


@app.command("synth")
@handle_errors
def synth(
    out: Annotated[Path, typer.Option("--out", help="Parquet file to write.")],
    cells: Annotated[int, typer.Option(help="Number of cells.")] = 16,
    days: Annotated[int, typer.Option(help="Days of data.")] = 28,
    step: Annotated[str, typer.Option(help="Reporting period, e.g. 15min.")] = "15min",
    seed: Annotated[int, typer.Option(help="Random seed (same seed, same data).")] = 0,
    holiday: Annotated[
        list[str] | None, typer.Option("--holiday", help="A date that behaves like a Sunday (repeatable).")
    ] = None,
) -> None:
    """Generate synthetic cell telemetry with realistic statistics."""
    from ranml.telemetry import SynthSpec, generate

    table = generate(SynthSpec(cells=cells, days=days, step=step, seed=seed, holidays=tuple(holiday or ())))
    out.parent.mkdir(parents=True, exist_ok=True)
    table.write_parquet(out)
    console.print(f"wrote {len(table.frame):,} rows, {len(table.cells)} cells, step {table.step} → {out}")


@app.command("load-milan")
@handle_errors
def load_milan(
    raw_files: Annotated[list[Path], typer.Argument(help="Raw sms-call-internet-mi files (tab-separated).")],
    out: Annotated[Path, typer.Option("--out", help="Parquet file to write.")],
) -> None:
    """Convert raw Telecom Italia Milan files into a tidy table (summed over country codes)."""
    from ranml.telemetry import load_milan as _load

    table = _load(raw_files)
    out.parent.mkdir(parents=True, exist_ok=True)
    table.write_parquet(out)
    console.print(f"wrote {len(table.frame):,} rows, {len(table.cells)} squares, step {table.step} → {out}")
