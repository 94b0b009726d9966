"""The self-contained description of an exported model (stored next to its files in the registry).

A manifest tells a runtime everything it needs without the benchmark code: input/output names and
shapes, features, step and horizon, the scaler to apply per cell, the loop class, the benchmark KPIs,
the parity evidence from export and the lineage back to the benchmark run.
"""

from __future__ import annotations

from typing import Any, Literal

from ranml.config import RanmlModel

__all__ = ["FORMATS", "Lineage", "ModelManifest", "Parity", "RuntimeChoice", "ScalerSpec"]

FORMATS = ("onnx", "onnx-int8", "torchscript", "torchscript-int8")
Format = Literal["onnx", "onnx-int8", "torchscript", "torchscript-int8"]


class ScalerSpec(RanmlModel):
    """Per-cell affine scaling applied by the runtime: ``z = (x - shift) / scale``.

    ``shift``/``scale`` are ``[cell][feature]``; for grid models there is one row per square.
    """

    kind: str
    cells: list[str]
    shift: list[list[float]]
    scale: list[list[float]]
    target_index: int = 0


class Lineage(RanmlModel):
    """Where the model comes from."""

    run_dir: str | None = None
    run_name: str | None = None
    job_id: str | None = None
    dataset: str | None = None
    dataset_hash: str | None = None
    config_hash: str | None = None
    training: dict[str, Any] | None = None
    """How a model not trained in one place was trained: for federated learning ``kind: federated``,
    the engine, the strategy, rounds, local epochs and the sites with their training windows; for
    split learning the cut point. ``None``: centralised training (a benchmark job)."""


class Parity(RanmlModel):
    """Evidence from the export's parity gate."""

    windows: int
    max_abs_err: float
    tolerance: float
    checker: bool = True
    mae_reference: float | None = None
    mae_exported: float | None = None
    mae_change_pct: float | None = None
    mae_bound_pct: float | None = None


class RuntimeChoice(RanmlModel):
    """What the export measured and chose for ONNX Runtime, and why."""

    ort_version: str
    optimization_level: str
    optimized_file: bool
    reason: str
    measurements_us: dict[str, float] = {}


class ModelManifest(RanmlModel):
    """Everything a runtime needs to use an exported model."""

    schema_version: int = 1
    name: str
    format: Format
    kind: Literal["series", "grid", "patch"] = "series"
    model: str
    hparams: dict[str, Any] = {}
    input_name: str = "x"
    output_name: str = "y"
    input_shape: list[int]
    output_shape: list[int]
    feature_names: list[str]
    target: str
    step_seconds: int
    input_steps: int
    horizon: int
    scaler: ScalerSpec
    loop_class: str | None = None
    kpis: dict[str, Any] = {}
    lineage: Lineage = Lineage()
    parity: Parity
    runtime: RuntimeChoice | None = None
    files: dict[str, str] = {"model": "model.onnx"}
