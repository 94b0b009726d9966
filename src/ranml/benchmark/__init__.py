"""Benchmark forecasting models on cell telemetry: accuracy and deployability KPIs.

Entry points: :func:`run_benchmark` (with a :class:`BenchmarkConfig` loaded by
:func:`load_benchmark_config`) and the data tools in :mod:`ranml.telemetry`.
Importing this package does not import torch.
"""

from __future__ import annotations

from pathlib import Path

from ranml.benchmark.config import BenchmarkConfig, DatasetConfig, FileSource, SynthSource
from ranml.benchmark.energy import EnergyMeter
from ranml.benchmark.job import windows_for
from ranml.benchmark.metrics import mae
from ranml.benchmark.models import ForecastModel, ModelShape, TrainSettings, build_model, resolve_model
from ranml.benchmark.onnx_export import export_onnx
from ranml.benchmark.report import budget_cut
from ranml.benchmark.runner import RunResult, plan_jobs, run_benchmark
from ranml.benchmark.train import predict_module, seed_everything, train_module
from ranml.benchmark.windows import WindowedData, WindowSpec, make_windows
from ranml.config import load_yaml

__all__ = [
    "BenchmarkConfig",
    "DatasetConfig",
    "EnergyMeter",
    "FileSource",
    "ForecastModel",
    "ModelShape",
    "RunResult",
    "SynthSource",
    "TrainSettings",
    "WindowSpec",
    "WindowedData",
    "budget_cut",
    "build_model",
    "export_onnx",
    "load_benchmark_config",
    "mae",
    "make_windows",
    "plan_jobs",
    "predict_module",
    "resolve_model",
    "run_benchmark",
    "seed_everything",
    "train_module",
    "windows_for",
]


def load_benchmark_config(path: str | Path) -> BenchmarkConfig:
    """Load and validate a benchmark YAML file (errors name the field path, file and line)."""
    return load_yaml(path, BenchmarkConfig)
