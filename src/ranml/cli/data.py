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


@app.command("import")
@handle_errors
def import_(
    files: Annotated[list[Path], typer.Argument(help="Input file(s); per-cell takes one file per cell.")],
    fmt: Annotated[str, typer.Option("--format", help="tidy | wide-columns | wide-rows | per-cell | milan | "
                                                       "milan-grid | grid-array")],
    out: Annotated[Path, typer.Option("--out", help="Tidy Parquet table to write.")],
    step: Annotated[str | None, typer.Option(help="Reporting period, e.g. 1h or 10min (all but milan).")] = None,
    start: Annotated[str | None, typer.Option(help="Time of the first step, for files without a time column; "
                                                    "without it the time axis is a step index.")] = None,
    kpi: Annotated[str, typer.Option(help="KPI name of a one-KPI file (wide-*, grid-array).")] = "traffic",
    time_column: Annotated[str | None, typer.Option(help="The time column (wide-columns, per-cell).")] = None,
    cell_column: Annotated[list[str] | None, typer.Option(
        "--cell-column", help="tidy: a column of the cell id (repeat to join several, e.g. gnb and beam).")] = None,
    column: Annotated[list[str] | None, typer.Option(
        "--column", help="tidy: FILE_COLUMN=NAME, e.g. hour=timestamp (repeatable).")] = None,
    origin: Annotated[str | None, typer.Option(help="Time of step 0 for an integer time index.")] = None,
    gaps: Annotated[str, typer.Option(help="keep (absent rows) | reindex (NaN rows) | fill (interpolate short gaps)")]
    = "keep",
    max_fill: Annotated[int, typer.Option(help="fill: the longest gap, in steps, to interpolate.")] = 4,
    report: Annotated[Path | None, typer.Option(help="Per-cell gap report (JSON); default OUT.gaps.json.")] = None,
) -> None:
    """Import traffic data of a real-world shape into a tidy table, with a per-cell gap report."""
    import json

    from rich.table import Table

    from ranml.errors import DataError
    from ranml.telemetry import ImportOptions, apply_gap_policy, import_table

    mapping = []
    for item in column or []:
        key, sep, value = item.partition("=")
        if not sep or not key or not value:
            raise DataError(f"--column {item!r}: use FILE_COLUMN=NAME, e.g. hour=timestamp")
        mapping.append((key, value))
    opts = ImportOptions(step=step, start=start, kpi=kpi, time_column=time_column,
                         cell_columns=tuple(cell_column or ()), columns=tuple(mapping), origin=origin)
    table = import_table(files, fmt, opts)
    table, per_cell = apply_gap_policy(table, gaps, max_fill)  # type: ignore[arg-type]
    out.parent.mkdir(parents=True, exist_ok=True)
    table.write_parquet(out)
    report = report or out.with_name(out.name.removesuffix(".parquet") + ".gaps.json")
    with_gaps = [g for g in per_cell if g.gaps]
    summary = {"source": [str(f) for f in files], "format": fmt, "gap_policy": gaps, "step": str(table.step),
               "clock": "index" if table.index_clock else "datetime", "cells": len(per_cell),
               "cells_with_gaps": len(with_gaps), "missing_steps": sum(g.missing for g in per_cell),
               "longest_gap_steps": max((g.longest for g in per_cell), default=0),
               "per_cell": [g.to_dict() for g in per_cell]}
    report.write_text(json.dumps(summary, indent=2))
    console.print(f"wrote {len(table.frame):,} rows, {len(table.cells)} cells, step {table.step}"
                  f"{' (step index)' if table.index_clock else ''}, KPIs {table.kpis} → {out}")
    console.print(f"gaps ({gaps}): {summary['cells_with_gaps']} of {summary['cells']} cells, "
                  f"{summary['missing_steps']:,} missing steps, longest {summary['longest_gap_steps']} → {report}")
    if with_gaps:
        t = Table(title="Cells with the longest gaps")
        for col in ("cell", "missing", "gaps", "longest", "longest starts"):
            t.add_column(col)
        for g in sorted(with_gaps, key=lambda g: -g.longest)[:10]:
            t.add_row(g.cell, str(g.missing), str(g.gaps), str(g.longest), str(g.longest_start))
        console.print(t)


@app.command("grid")
@handle_errors
def grid(
    table_path: Annotated[Path, typer.Argument(help="A tidy table (CSV/Parquet) of cells with any ids.")],
    coords: Annotated[Path, typer.Option(help="CSV with cell_id and lat/lon (degrees) or x/y (metres).")],
    cell_size: Annotated[float, typer.Option(help="Side of a grid square in metres.")],
    out: Annotated[Path, typer.Option("--out", help="Gridded Parquet table (square-id cells) to write.")],
    step: Annotated[str | None, typer.Option(help="Step of a CSV table.")] = None,
    mean: Annotated[list[str] | None, typer.Option("--mean", help="A KPI averaged, not summed, per square "
                                                                   "(repeatable; e.g. prb_util).")] = None,
) -> None:
    """Rasterise cells onto square-id grid squares (for grid and neighbourhood models)."""
    import pandas as pd

    from ranml.telemetry import grid_from_coordinates, load_table

    table = load_table(table_path, step)
    try:
        coordinates = pd.read_csv(coords)
    except (OSError, ValueError) as exc:
        from ranml.errors import DataError

        raise DataError(f"{coords}: cannot read CSV: {exc}") from None
    gridded, mapping = grid_from_coordinates(table, coordinates, cell_size, {k: "mean" for k in mean or []})
    out.parent.mkdir(parents=True, exist_ok=True)
    gridded.write_parquet(out)
    mapping.to_csv(out.with_name(out.name.removesuffix(".parquet") + ".squares.csv"), index=False)
    rows, cols = int(mapping["row"].max()) + 1, int(mapping["col"].max()) + 1
    console.print(f"{len(table.cells)} cells → {len(gridded.cells)} squares on a {rows}x{cols} grid of "
                  f"{cell_size:g} m → {out} (cell → square in .squares.csv)")
