"""One site's side of federated training: its windows, its copy of the model, local steps, errors.

The site loads its own telemetry (it never leaves the site), scales it per cell with statistics of
its own training period, and trains the zoo model from the global weights the server sends.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from ranml.benchmark import (
    DatasetConfig,
    EnergyMeter,
    ForecastModel,
    ModelShape,
    TrainSettings,
    WindowedData,
    WindowSpec,
    resolve_model,
    windows_for,
)
from ranml.errors import FederationError
from ranml.federated.config import FederationConfig, SiteConfig, SplitConfig

__all__ = ["LocalRound", "SiteError", "SiteLearner", "build_global_model", "shape_from_fields", "site_error",
           "site_windows"]

log = logging.getLogger("ranml.federated.site")


@dataclass(frozen=True)
class SiteError:
    """Absolute error of a model on one split of one site, in the target's units."""

    abs_sum: float
    count: int

    @property
    def mae(self) -> float:
        """Mean absolute error (NaN with no targets)."""
        return self.abs_sum / self.count if self.count else float("nan")


@dataclass(frozen=True)
class LocalRound:
    """What a site's local training did in one round."""

    epochs: int
    train_loss: float
    seconds: float
    energy_j: float
    energy_source: str


def build_global_model(cfg: FederationConfig | SplitConfig, shape: ModelShape) -> ForecastModel:
    """The zoo model of ``cfg`` for ``shape``, checked, with its module built from ``cfg.seed``.

    Raises
    ------
    FederationError
        The model has no trainable torch module, or needs a grid or patch view.
    """
    from ranml.benchmark import seed_everything

    cls = resolve_model(cfg.model)
    caps = cls.capabilities
    if not caps.trainable or caps.spatial or caps.neighbourhood or not caps.exportable:
        raise FederationError(f"model: {cfg.model!r} cannot be trained federated (it needs a trainable torch "
                              "module on per-cell series); use e.g. mlp, dlinear, lstm, gru, tcn or patchtst")
    model = cls(shape, **cfg.params)
    if not hasattr(model, "net"):
        raise FederationError(f"model: {cfg.model!r} cannot be trained federated (it has no torch module whose "
                              "weights can be averaged); use e.g. mlp, dlinear, lstm, gru, tcn or patchtst")
    model.check()
    seed_everything(cfg.seed, 1)
    _ = model.net
    return model


def shape_from_fields(fields: dict[str, Any]) -> ModelShape:
    """A :class:`ModelShape` from its fields as JSON gives them back (lists for tuples)."""
    grid = fields.get("grid")
    patch = fields.get("patch")
    return ModelShape(input_steps=int(fields["input_steps"]), horizon=int(fields["horizon"]),
                      n_features=int(fields["n_features"]), target_index=int(fields["target_index"]),
                      season_steps=int(fields["season_steps"]), grid=(int(grid[0]), int(grid[1])) if grid else None,
                      patch=int(patch) if patch is not None else None)


def site_windows(site: SiteConfig, windows: WindowSpec) -> WindowedData:
    """A site's windows: its own telemetry, scaled per cell with its own training statistics."""
    dataset = DatasetConfig(name=site.name, source=site.source, windows=windows)
    return windows_for(dataset, windows.horizon, "series")


def site_error(data: WindowedData, split: str, forecast_scaled: np.ndarray) -> SiteError:
    """Absolute error of a scaled forecast of ``split``'s windows, in the target's units (observed targets)."""
    if len(forecast_scaled) == 0:
        return SiteError(0.0, 0)
    err = np.abs(data.inverse(forecast_scaled, split) - data.actual(split))
    observed = data.observed.get(split)
    if observed is not None:
        err = err[observed]
    return SiteError(float(err.sum()), int(err.size))


class SiteLearner:
    """A site's data and model; cheap to build, :meth:`start` loads the data.

    Parameters
    ----------
    cfg
        The run's configuration.
    site
        This site's name (one of ``cfg.sites``).
    """

    def __init__(self, cfg: FederationConfig, site: str) -> None:
        try:
            self.site = cfg.site(site)
        except KeyError:
            raise FederationError(f"site {site!r} is not in the configuration's sites "
                                  f"{[s.name for s in cfg.sites]}; fix the SuperNode's node config") from None
        self.cfg = cfg
        self._data: WindowedData | None = None
        self._model: ForecastModel | None = None

    def start(self) -> SiteLearner:
        """Load and window the site's telemetry and build the model."""
        self._data = site_windows(self.site, self.cfg.windows)
        self._model = build_global_model(self.cfg, self._data.model_shape())
        return self

    @property
    def data(self) -> WindowedData:
        """The site's windows."""
        if self._data is None:
            raise FederationError("SiteLearner.start() was not called")
        return self._data

    @property
    def model(self) -> ForecastModel:
        """The site's copy of the model."""
        if self._model is None:
            raise FederationError("SiteLearner.start() was not called")
        return self._model

    @property
    def net(self) -> Any:
        """The site's torch module."""
        return self.model.net  # type: ignore[attr-defined]

    @property
    def train_windows(self) -> int:
        """Number of training windows (the site's weight in averaging)."""
        return len(self.data.x["train"])

    def load(self, state: dict[str, Any]) -> None:
        """Set the module's weights (strict: every key, every shape)."""
        self.net.load_state_dict(state, strict=True)

    def state(self) -> dict[str, Any]:
        """The module's weights."""
        return {k: v.detach().clone() for k, v in self.net.state_dict().items()}

    def train(self, epochs: int, proximal_mu: float = 0.0, seed: int = 0) -> LocalRound:
        """Train ``epochs`` local epochs from the current weights.

        ``proximal_mu > 0`` adds FedProx's proximal term towards the weights at the start.
        """
        from ranml.benchmark import train_module

        local = self.cfg.local
        settings = TrainSettings(epochs=epochs, batch_size=local.batch_size, lr=local.lr, patience=epochs + 1,
                                 seed=seed, threads=local.threads, restore_best=False)
        penalty = _proximal_term(self.net, proximal_mu) if proximal_mu > 0 else None
        d = self.data
        start = time.perf_counter()
        with EnergyMeter() as meter:
            report = train_module(self.net, d.x["train"], d.y["train"], d.x["val"], d.y["val"], settings,
                                  penalty=penalty)
        reading = meter.reading
        assert reading is not None
        loss = report.history[-1][0] if report.history else float("nan")
        return LocalRound(report.epochs, loss, time.perf_counter() - start, reading.joules, reading.source)

    def error(self, split: str) -> SiteError:
        """Absolute error of the current weights on ``split`` (``val`` or ``test``), original units."""
        from ranml.benchmark import predict_module

        d = self.data
        if len(d.x[split]) == 0:
            return SiteError(0.0, 0)
        return site_error(d, split, predict_module(self.net, d.x[split]))


def _proximal_term(net: Any, mu: float) -> Any:
    """``mu/2 · ||w − w0||²`` with ``w0`` the weights now (FedProx, Li et al. 2020, eq. 2)."""
    anchor = [p.detach().clone() for p in net.parameters()]

    def penalty(module: Any) -> Any:
        total = sum(((p - a) ** 2).sum() for p, a in zip(module.parameters(), anchor, strict=True))
        return 0.5 * mu * total

    return penalty
