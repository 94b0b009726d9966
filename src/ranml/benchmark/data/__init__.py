"""Telemetry data: the tidy table, loaders, the synthetic generator, windowing."""

from ranml.benchmark.data.grid import Grid, build_grid, square_id, square_pos
from ranml.benchmark.data.loaders import load_table
from ranml.benchmark.data.milan import load_milan
from ranml.benchmark.data.synth import SynthSpec, generate, neighbours
from ranml.benchmark.data.table import CELL, TIME, TelemetryTable

__all__ = [
    "CELL",
    "TIME",
    "Grid",
    "SynthSpec",
    "TelemetryTable",
    "build_grid",
    "generate",
    "load_milan",
    "load_table",
    "neighbours",
    "square_id",
    "square_pos",
]
