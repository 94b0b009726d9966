"""The benchmark configuration (YAML), validated once at the edge."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AliasChoices, Field, field_validator, model_validator

from ranml.benchmark.windows import WindowSpec
from ranml.config import RanmlModel

__all__ = [
    "BenchmarkConfig",
    "DatasetConfig",
    "EnergyConfig",
    "FileSource",
    "KpiConfig",
    "MilanSource",
    "ModelConfig",
    "SearchConfig",
    "SelectionConfig",
    "SynthSource",
    "TrainConfig",
    "TuneConfig",
]

PositiveInt = Annotated[int, Field(gt=0)]


class SynthSource(RanmlModel):
    """Synthetic telemetry (:func:`ranml.telemetry.synth.generate`)."""

    kind: Literal["synth"]
    cells: PositiveInt = 16
    days: PositiveInt = 28
    step: str = "15min"
    seed: int = 0
    start: str = "2026-03-02"
    holidays: list[str] = []
    business_range: tuple[Annotated[float, Field(ge=0, le=1)], Annotated[float, Field(ge=0, le=1)]] = (0.0, 1.0)
    """Range of the cells' business share: a narrow range gives the data one traffic mix."""


class FileSource(RanmlModel):
    """A tidy CSV/Parquet file, with an optional column mapping (file column → ranml name).

    An integer time column is a step index with the declared ``step``; ``origin`` is the time of
    step 0 (default 1970-01-01 00:00, so calendar features take step 0 as midnight).
    """

    kind: Literal["file"]
    path: str
    step: str | None = None
    columns: dict[str, str] = {}
    kpis: list[str] | None = None
    sort: bool = False
    origin: str | None = None


class MilanSource(RanmlModel):
    """Raw Telecom Italia Milan files (summed over country codes, 10-minute step)."""

    kind: Literal["milan"]
    paths: list[str]
    squares: list[int] | None = None


class DatasetConfig(RanmlModel):
    """One dataset: where the data comes from and how it is windowed."""

    name: str
    source: Annotated[SynthSource | FileSource | MilanSource, Field(discriminator="kind")]
    windows: WindowSpec = WindowSpec()
    grid: bool = False


class TrainConfig(RanmlModel):
    """Training settings; a model's own ``train:`` overrides these field by field.

    ``reuse_freed_memory`` keeps freed memory in the job's process for reuse (glibc: no ``mmap``
    for large blocks while the job runs, see :mod:`ranml.benchmark.allocator`); ``false`` keeps the
    C library's defaults, which return memory at once but fault every page in again.
    """

    epochs: PositiveInt = 20
    batch_size: PositiveInt = 128
    lr: Annotated[float, Field(gt=0)] = 1e-3
    weight_decay: Annotated[float, Field(ge=0)] = 0.0
    patience: PositiveInt = 4
    min_delta: Annotated[float, Field(ge=0)] = 1e-4
    max_seconds: Annotated[float, Field(gt=0)] | None = None
    threads: PositiveInt = 1
    loss: Literal["mse", "mae", "huber"] = "mse"
    reuse_freed_memory: bool = True


class TuneConfig(RanmlModel):
    """Optuna hyper-parameter tuning for one model (the ``tune:`` block; ``search:`` is the old name).

    ``space`` maps a hyper-parameter to ``[low, high]`` (int or float range), ``{low, high, log}``
    or ``{choices: [...]}``; ``lr``, ``weight_decay`` and ``batch_size`` tune the training settings;
    empty: the model's default space. The budget is ``trials``, ``seconds`` (alias ``timeout_s``),
    or both (whichever ends first). ``pruner: median`` stops trials whose validation loss per epoch
    falls behind the median. Trials train ``trial_epochs`` epochs (default: the full training); with
    fewer, the best parameters are retrained with the full training settings.
    """

    trials: PositiveInt | None = 5
    seconds: Annotated[float, Field(gt=0)] | None = Field(default=None,
                                                          validation_alias=AliasChoices("seconds", "timeout_s"))
    space: dict[str, Any] = {}
    pruner: Literal["median", "none"] = "median"
    trial_epochs: PositiveInt | None = None

    @model_validator(mode="after")
    def _a_budget(self) -> TuneConfig:
        if self.trials is None and self.seconds is None:
            raise ValueError("give a budget: trials, seconds, or both")
        return self


SearchConfig = TuneConfig
"""The old name of :class:`TuneConfig`."""


class ModelConfig(RanmlModel):
    """One model to benchmark: a zoo name, or any name plus ``ref: module:Class``."""

    name: str
    ref: str | None = None
    params: dict[str, Any] = {}
    train: dict[str, Any] = {}
    tune: TuneConfig | None = Field(default=None, validation_alias=AliasChoices("tune", "search"))

    @property
    def search(self) -> TuneConfig | None:
        """The old name of :attr:`tune`."""
        return self.tune

    @property
    def target(self) -> str:
        """What to resolve: ``ref`` if given, else ``name``."""
        return self.ref or self.name


class KpiConfig(RanmlModel):
    """How deployability KPIs are measured."""

    latency_calls: Annotated[int, Field(ge=100)] = 1000
    warmup: Annotated[int, Field(ge=0)] = 50
    throughput_batch: PositiveInt = 64
    threads: PositiveInt = 1
    onnx: bool = True


class EnergyConfig(RanmlModel):
    """Energy measurement: RAPL/NVML when readable, else CPU time × ``watts_per_core``."""

    watts_per_core: Annotated[float, Field(gt=0)] = 12.0
    source: Literal["auto", "estimate"] = "auto"


class SelectionConfig(RanmlModel):
    """Per-loop-class model selection."""

    metric: Literal["mae", "rmse", "smape", "wape", "mase"] = "mase"
    budget_fraction: Annotated[float, Field(gt=0, le=1)] = 0.5
    tie_tolerance: Annotated[float, Field(ge=0)] = 0.01
    loop_classes: dict[str, Annotated[float, Field(gt=0)]] = {"dapp": 10.0, "xapp": 1000.0, "rapp": 60000.0}


class BenchmarkConfig(RanmlModel):
    """A whole benchmark: datasets × horizons × models, and how to measure and select."""

    name: str = "benchmark"
    seed: int = 0
    datasets: list[DatasetConfig]
    horizons: list[PositiveInt] | None = None
    models: list[ModelConfig]
    train: TrainConfig = TrainConfig()
    kpis: KpiConfig = KpiConfig()
    energy: EnergyConfig = EnergyConfig()
    selection: SelectionConfig = SelectionConfig()

    @field_validator("datasets", "models")
    @classmethod
    def _not_empty(cls, value: list[Any]) -> list[Any]:
        if not value:
            raise ValueError("list is empty; give at least one entry")
        return value

    @model_validator(mode="after")
    def _unique_names(self) -> BenchmarkConfig:
        for kind, names in (("dataset", [d.name for d in self.datasets]),
                            ("model", [m.name for m in self.models])):
            dup = sorted({n for n in names if names.count(n) > 1})
            if dup:
                raise ValueError(f"duplicate {kind} names {dup}; give each a unique name")
        return self
