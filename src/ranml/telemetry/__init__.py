"""Cell telemetry, shared by the offline and the online side: the tidy table and where it comes from.

The bottom layer next to :mod:`ranml.protocols`: the :class:`TelemetryTable` (one row per cell and
timestamp, a declared step), CSV/Parquet loading with a column mapping, the Telecom Italia Milan
reader, the square grid of spatio-temporal models, and the synthetic generator. It imports only
numpy and pandas (never torch, never the benchmark harness), so the xApp, rApp, dApp and e2sim
processes can use it.
"""

from ranml.telemetry.gaps import CellGaps, cell_gaps, fill_short_gaps, nan_runs
from ranml.telemetry.grid import (
    Grid,
    GridLayout,
    build_grid,
    grid_from_coordinates,
    grid_layout,
    square_id,
    square_pos,
)
from ranml.telemetry.importers import FORMATS, ImportOptions, apply_gap_policy, import_table
from ranml.telemetry.loaders import load_table
from ranml.telemetry.milan import load_milan
from ranml.telemetry.synth import SynthSpec, generate, neighbours
from ranml.telemetry.table import CELL, TIME, TelemetryTable

__all__ = [
    "CELL",
    "FORMATS",
    "TIME",
    "CellGaps",
    "Grid",
    "GridLayout",
    "ImportOptions",
    "SynthSpec",
    "TelemetryTable",
    "apply_gap_policy",
    "build_grid",
    "cell_gaps",
    "fill_short_gaps",
    "generate",
    "grid_from_coordinates",
    "grid_layout",
    "import_table",
    "load_milan",
    "load_table",
    "nan_runs",
    "neighbours",
    "square_id",
    "square_pos",
]
