"""The model contract shared by every zoo model (and by bring-your-own models).

Models see arrays only: ``x[n, input_steps, features]`` (or ``x[n, input_steps, rows, cols]`` for
spatial models) in, ``y[n, horizon]`` (or ``y[n, horizon, rows, cols]``) out, all in scaled units.
The harness alone knows DataFrames, scalers and splits.

Every model can hand out a ``torch.nn.Module`` with the same input/output contract; that module is
what the harness times, counts (parameters, FLOPs) and exports to ONNX.
"""

from __future__ import annotations

import abc
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from ranml.errors import ModelError

__all__ = [
    "Capabilities",
    "EpochCallback",
    "FitReport",
    "ForecastModel",
    "ModelShape",
    "TrainSettings",
]

EpochCallback = Callable[[int, float, float], None]
"""Called after every epoch with ``(epoch, train_loss, val_loss)``; may raise to stop training."""


@dataclass(frozen=True)
class Capabilities:
    """What a model can do; the harness uses it to decide what to run and measure.

    Attributes
    ----------
    spatial
        Grid in, grid out (``x[n, L, rows, cols]``); otherwise series windows.
    trainable
        Has parameters fitted on data; ``False`` for baselines.
    exportable
        Its module exports to ONNX.
    uses_features
        Uses the extra input features; otherwise only the target channel.
    needs_season
        Needs ``input_steps >= season_steps``.
    neighbourhood
        Patch in, cell out: ``x[n, L, K, K]`` (the target of the K×K squares around a cell) →
        ``y[n, H]`` of that cell; K is the model's ``neighbourhood`` parameter (odd, default 5).
    """

    spatial: bool = False
    trainable: bool = True
    exportable: bool = True
    uses_features: bool = True
    needs_season: bool = False
    neighbourhood: bool = False


@dataclass(frozen=True)
class ModelShape:
    """The array shapes a model is built for."""

    input_steps: int
    horizon: int
    n_features: int
    target_index: int = 0
    season_steps: int = 96
    grid: tuple[int, int] | None = None
    patch: int | None = None
    """Side K of the neighbourhood patch of a patch model (``x[n, L, K, K]``)."""

    def example_input(self, batch: int) -> tuple[int, ...]:
        """The input shape of a batch."""
        if self.grid:
            return (batch, self.input_steps, *self.grid)
        if self.patch:
            return (batch, self.input_steps, self.patch, self.patch)
        return (batch, self.input_steps, self.n_features)

    def example_output(self, batch: int) -> tuple[int, ...]:
        """The output shape of a batch."""
        return (batch, self.horizon, *self.grid) if self.grid else (batch, self.horizon)


@dataclass(frozen=True)
class TrainSettings:
    """Shared training settings (one place instead of keyword arguments on every model)."""

    epochs: int = 20
    batch_size: int = 128
    lr: float = 1e-3
    weight_decay: float = 0.0
    patience: int = 4
    min_delta: float = 1e-4
    max_seconds: float | None = None
    seed: int = 0
    threads: int = 1
    loss: str = "mse"
    restore_best: bool = True
    """Load the weights of the best validation epoch at the end; ``False`` keeps the last epoch's
    (local steps of federated learning, where the server decides what is kept)."""


@dataclass(frozen=True)
class FitReport:
    """What happened during :meth:`ForecastModel.fit`."""

    epochs: int
    best_epoch: int
    best_val_loss: float
    train_seconds: float
    stopped_by: str
    history: list[tuple[float, float]] = field(default_factory=list)


class ForecastModel(abc.ABC):
    """Base class of every model in the zoo.

    Subclasses set ``name`` and ``capabilities``, accept their hyper-parameters as keyword
    arguments in ``__init__`` (after ``shape``) and implement :meth:`fit`, :meth:`predict` and
    :meth:`torch_module`. Construction is cheap: no training, no data.
    """

    name: ClassVar[str] = ""
    capabilities: ClassVar[Capabilities] = Capabilities()
    default_search_space: ClassVar[dict[str, Any]] = {}

    def __init__(self, shape: ModelShape, **hparams: Any) -> None:
        self.shape = shape
        self.hparams = dict(hparams)
        self._fitted = not self.capabilities.trainable
        if self.capabilities.needs_season and shape.input_steps < shape.season_steps:
            raise ModelError(
                f"{self.name}: input_steps={shape.input_steps} is shorter than one season "
                f"({shape.season_steps} steps); raise windows.input_steps to at least {shape.season_steps}"
            )

    @classmethod
    def view(cls, params: dict[str, Any]) -> str:
        """Which windows the model trains on: ``series``, ``grid`` or ``patch<K>``.

        Raises
        ------
        ModelError
            A patch model's ``neighbourhood`` is not an odd integer of at least 3.
        """
        if cls.capabilities.spatial:
            return "grid"
        if cls.capabilities.neighbourhood:
            k = params.get("neighbourhood", 5)
            if not isinstance(k, int) or k < 3 or k % 2 == 0:
                raise ModelError(f"{cls.name}: params.neighbourhood={k!r} must be an odd integer >= 3 (e.g. 5)")
            return f"patch{k}"
        return "series"

    def check(self) -> None:
        """Fail now, before any training, if the model cannot run with its shape and parameters.

        The harness calls this when it plans a benchmark. The base class checks nothing beyond
        the constructor; :class:`~ranml.benchmark.models._torch.TorchForecaster` builds its module,
        refuses parameters the module never reads and runs one forward pass.

        Raises
        ------
        ModelError
            Names the parameter or the window field, and the fix.
        """
        return

    @property
    def fitted(self) -> bool:
        """Whether the model can predict."""
        return self._fitted

    @abc.abstractmethod
    def fit(
        self,
        x_train: np.ndarray,
        y_train: np.ndarray,
        x_val: np.ndarray,
        y_val: np.ndarray,
        settings: TrainSettings,
        on_epoch: EpochCallback | None = None,
    ) -> FitReport:
        """Train on scaled windows; return what happened."""

    @abc.abstractmethod
    def predict(self, x: np.ndarray) -> np.ndarray:
        """Forecast scaled targets for scaled windows ``x``."""

    @abc.abstractmethod
    def torch_module(self) -> Any:
        """A ``torch.nn.Module`` in eval mode with the same contract as :meth:`predict`."""

    def require_fitted(self) -> None:
        """Raise :class:`ModelError` if the model has not been trained."""
        if not self._fitted:
            raise ModelError(f"{self.name}: the model is not trained; call fit() first")

    def state(self) -> dict[str, Any]:
        """Weights and hyper-parameters for a checkpoint (``torch.save``-able)."""
        module = self.torch_module()
        return {"name": self.name, "hparams": self.hparams, "state_dict": module.state_dict()}

    def load_state(self, state: dict[str, Any]) -> None:
        """Restore weights saved by :meth:`state`."""
        self.torch_module().load_state_dict(state["state_dict"])
        self._fitted = True
