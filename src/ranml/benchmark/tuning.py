"""Fitting a model with its configured hyper-parameters, or searching them with Optuna."""

from __future__ import annotations

import logging
from typing import Any

from ranml.benchmark.config import ModelConfig, SearchConfig, TrainConfig
from ranml.benchmark.models.base import FitReport, ForecastModel, ModelShape, TrainSettings
from ranml.benchmark.windows import WindowedData
from ranml.config import parse_mapping
from ranml.errors import ConfigError, ModelError

__all__ = ["fit_model", "merge_train", "suggest"]

log = logging.getLogger("ranml.benchmark.tuning")

_TRAIN_KEYS = {"lr", "weight_decay", "batch_size"}


def merge_train(base: TrainConfig, override: dict[str, Any], where: str) -> TrainConfig:
    """``base`` with the fields of ``override`` replaced (validated; errors name ``where``)."""
    return parse_mapping(TrainConfig, {**base.model_dump(), **override}, where)


def _settings(train: TrainConfig, seed: int, **extra: Any) -> TrainSettings:
    values = {**train.model_dump(), **extra}
    return TrainSettings(
        epochs=values["epochs"], batch_size=int(values["batch_size"]), lr=float(values["lr"]),
        weight_decay=float(values["weight_decay"]), patience=values["patience"],
        min_delta=values["min_delta"], max_seconds=values["max_seconds"], seed=seed,
        threads=values["threads"], loss=values["loss"],
    )


def suggest(trial: Any, name: str, spec: Any) -> Any:
    """Draw one hyper-parameter from an Optuna trial according to its YAML ``spec``.

    ``[low, high]`` → int range if both are ints, else float range; ``{low, high, log}`` → float
    (or int) range; ``{choices: [...]}`` → categorical.
    """
    if isinstance(spec, list) and len(spec) == 2 and all(isinstance(v, int | float) for v in spec):
        low, high = spec
        if isinstance(low, int) and isinstance(high, int):
            return trial.suggest_int(name, low, high)
        return trial.suggest_float(name, float(low), float(high))
    if isinstance(spec, dict) and "choices" in spec:
        return trial.suggest_categorical(name, list(spec["choices"]))
    if isinstance(spec, dict) and {"low", "high"} <= set(spec):
        if isinstance(spec["low"], int) and isinstance(spec["high"], int) and not spec.get("log"):
            return trial.suggest_int(name, spec["low"], spec["high"])
        return trial.suggest_float(name, float(spec["low"]), float(spec["high"]), log=bool(spec.get("log")))
    raise ConfigError(
        f"search.space.{name}: {spec!r} is not a range; use [low, high], {{low, high, log}} or {{choices: [...]}}"
    )


def fit_model(cls: type[ForecastModel], shape: ModelShape, model_cfg: ModelConfig, train: TrainConfig,
              data: WindowedData, seed: int) -> tuple[ForecastModel, FitReport, dict[str, Any]]:
    """Build and train ``cls`` (with an Optuna search when ``model_cfg.search`` is set).

    Returns the trained model, its fit report and the hyper-parameters used.
    """
    xt, yt, xv, yv = data.x["train"], data.y["train"], data.x["val"], data.y["val"]
    if model_cfg.search is None or not cls.capabilities.trainable:
        model = cls(shape, **model_cfg.params)
        report = model.fit(xt, yt, xv, yv, _settings(train, seed))
        return model, report, dict(model_cfg.params)
    return _search(cls, shape, model_cfg, model_cfg.search, train, data, seed)


def _search(cls: type[ForecastModel], shape: ModelShape, model_cfg: ModelConfig, search: SearchConfig,
            train: TrainConfig, data: WindowedData, seed: int) -> tuple[ForecastModel, FitReport, dict[str, Any]]:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    space = search.space or cls.default_search_space
    if not space:
        raise ConfigError(f"models.{model_cfg.name}.search: no search space given and the model has no default")
    best: dict[str, Any] = {}

    def objective(trial: Any) -> float:
        drawn = {k: suggest(trial, k, v) for k, v in space.items()}
        params = {**model_cfg.params, **{k: v for k, v in drawn.items() if k not in _TRAIN_KEYS}}
        extra = {k: v for k, v in drawn.items() if k in _TRAIN_KEYS}
        model = cls(shape, **params)

        def report_epoch(epoch: int, _train: float, val: float) -> None:
            trial.report(val, epoch)
            if search.pruner == "median" and trial.should_prune():
                raise optuna.TrialPruned()

        try:
            rep = model.fit(data.x["train"], data.y["train"], data.x["val"], data.y["val"],
                            _settings(train, seed, **extra), report_epoch)
        except ModelError as exc:
            log.info("trial %d failed: %s", trial.number, exc)
            raise optuna.TrialPruned() from exc
        if not best or rep.best_val_loss < best["loss"]:
            best.update(loss=rep.best_val_loss, model=model, report=rep, params={**params, **extra})
        return rep.best_val_loss

    pruner = optuna.pruners.MedianPruner(n_startup_trials=2, n_warmup_steps=2) if search.pruner == "median" \
        else optuna.pruners.NopPruner()
    study = optuna.create_study(direction="minimize", sampler=optuna.samplers.TPESampler(seed=seed),
                                pruner=pruner)
    study.optimize(objective, n_trials=search.trials, timeout=search.timeout_s)
    if not best:
        raise ModelError(f"{model_cfg.name}: every search trial failed or was pruned")
    params = dict(best["params"])
    params["search_trials"] = len(study.trials)
    return best["model"], best["report"], params
