"""``ranml export``: export a benchmarked model with parity gates and register it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from ranml.cli._common import handle_errors, setup_logging


@handle_errors
def export(
    run: Annotated[Path, typer.Option("--run", help="Results folder of `ranml benchmark run`.")],
    model: Annotated[str, typer.Option("--model", help="Model name in the leaderboard.")],
    registry: Annotated[str, typer.Option("--registry", help="Registry folder, or redis://host:port/db.")],
    fmt: Annotated[str, typer.Option("--format", help="onnx | onnx-int8 | onnx-auto | torchscript | torchscript-int8")]
    = "onnx",
    version: Annotated[str | None, typer.Option("--version", help="X.Y.Z (default: next minor).")] = None,
    name: Annotated[str | None, typer.Option("--name", help="Registry name (default: the model name).")] = None,
    dataset: Annotated[str | None, typer.Option(help="Dataset, when the model ran on several.")] = None,
    horizon: Annotated[int | None, typer.Option(help="Horizon, when the model ran with several.")] = None,
    tolerance: Annotated[float, typer.Option(help="fp32 parity: max abs error (scaled units).")] = 1e-4,
    int8_bound: Annotated[float, typer.Option(help="int8 parity: max MAE increase over fp32, %.")] = 2.0,
    note: Annotated[str, typer.Option(help="Free text stored with the version.")] = "",
) -> None:
    """Export a model from a benchmark run, check parity, register it; print the version as JSON."""
    from ranml.export import ExportGates, export_from_run
    from ranml.serving import open_registry

    setup_logging(False)
    result = export_from_run(run, model, fmt, dataset, horizon,
                             ExportGates(fp32_tolerance=tolerance, int8_bound_pct=int8_bound), name)
    record = open_registry(registry).register(result.manifest.name, result.files,
                                              result.manifest.model_dump(mode="json"), version=version, note=note)
    m = result.manifest
    typer.echo(json.dumps({
        "name": record.name, "version": record.version, "format": m.format, "blobs": record.blobs,
        "parity": m.parity.model_dump(), "runtime": m.runtime.model_dump() if m.runtime else None,
        "lineage": m.lineage.model_dump(), "loop_class": m.loop_class,
    }, indent=2))
