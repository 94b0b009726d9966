"""Benchmark forecasting models on cell telemetry: accuracy and deployability KPIs.

Entry points: :func:`run_benchmark` (with a :class:`BenchmarkConfig` loaded by
:func:`load_benchmark_config`) and the data tools in :mod:`ranml.telemetry`.
Importing this package does not import torch.
"""

from __future__ import annotations

from pathlib import Path

from ranml.benchmark.config import BenchmarkConfig
from ranml.benchmark.runner import RunResult, plan_jobs, run_benchmark
from ranml.config import load_yaml

__all__ = ["BenchmarkConfig", "RunResult", "load_benchmark_config", "plan_jobs", "run_benchmark"]


def load_benchmark_config(path: str | Path) -> BenchmarkConfig:
    """Load and validate a benchmark YAML file (errors name the field path, file and line)."""
    return load_yaml(path, BenchmarkConfig)
