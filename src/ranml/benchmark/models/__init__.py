"""The model zoo: one model per file, one contract (:class:`ForecastModel`).

Models are resolved by name (or a ``module:Class`` reference for bring-your-own models) and
imported only when used, so ``import ranml.benchmark`` does not import torch.
"""

from __future__ import annotations

import importlib
from typing import Any

from ranml.benchmark.models.base import (
    Capabilities,
    FitReport,
    ForecastModel,
    ModelShape,
    TrainSettings,
)
from ranml.errors import UnknownModelError

__all__ = [
    "ZOO",
    "Capabilities",
    "FitReport",
    "ForecastModel",
    "ModelShape",
    "TrainSettings",
    "build_model",
    "resolve_model",
]

ZOO: dict[str, str] = {
    "persistence": "ranml.benchmark.models.persistence:Persistence",
    "seasonal_naive": "ranml.benchmark.models.seasonal_naive:SeasonalNaive",
    "dlinear": "ranml.benchmark.models.dlinear:DLinear",
    "nlinear": "ranml.benchmark.models.nlinear:NLinear",
    "mlp": "ranml.benchmark.models.mlp:MLP",
    "lstm": "ranml.benchmark.models.lstm:LSTM",
    "gru": "ranml.benchmark.models.gru:GRU",
    "tcn": "ranml.benchmark.models.tcn:TCN",
    "patchtst": "ranml.benchmark.models.patchtst:PatchTST",
    "transformer": "ranml.benchmark.models.transformer:TransformerEncoder",
    "convlstm": "ranml.benchmark.models.convlstm:ConvLSTM",
    "stn": "ranml.benchmark.models.stn:STN",
    "nhits": "ranml.benchmark.models.nhits:NHiTS",
    "xlstm": "ranml.benchmark.models.xlstm:XLSTM",
    "mamba": "ranml.benchmark.models.mamba:Mamba",
    "gbdt": "ranml.benchmark.models.gbdt:GBDT",
    "autoformer": "ranml.benchmark.models.autoformer:Autoformer",
    "informer": "ranml.benchmark.models.informer:Informer",
    "histm": "ranml.benchmark.models.histm:HiSTM",
    "timesnet": "ranml.benchmark.models.timesnet:TimesNet",
    "predrnnpp": "ranml.benchmark.models.predrnn:PredRNNpp",
}
"""Zoo model names and where they live."""


def resolve_model(ref: str) -> type[ForecastModel]:
    """Return the model class for a zoo name or a ``module:Class`` reference.

    Raises
    ------
    UnknownModelError
        The name is not in the zoo (the message lists the valid names), or the reference cannot
        be imported, or it is not a :class:`ForecastModel`.
    """
    target = ZOO.get(ref)
    if target is None:
        if ":" not in ref:
            raise UnknownModelError(
                f"unknown model {ref!r}; valid names: {', '.join(sorted(ZOO))} "
                "(or a 'package.module:Class' reference to your own ForecastModel)"
            )
        target = ref
    module_name, _, attr = target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise UnknownModelError(f"cannot import {module_name!r} for model {ref!r}: {exc}") from None
    cls = getattr(module, attr, None)
    if not (isinstance(cls, type) and issubclass(cls, ForecastModel)):
        raise UnknownModelError(f"{target!r} is not a ForecastModel subclass")
    return cls


def build_model(ref: str, shape: ModelShape, **hparams: Any) -> ForecastModel:
    """Resolve ``ref`` and construct it for ``shape`` with ``hparams``."""
    return resolve_model(ref)(shape, **hparams)
