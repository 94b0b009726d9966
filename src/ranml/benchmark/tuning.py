"""Fitting a model with its configured hyper-parameters, or searching them with Optuna."""

from __future__ import annotations

import logging
from typing import Any

from ranml.benchmark.config import ModelConfig, TrainConfig, TuneConfig
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

    Returns the trained model, its fit report and the hyper-parameters used; after tuning they are
    the best trial's, with ``search_trials`` and a ``tune`` summary (trials, pruned, best trial and
    its validation loss, seconds, whether the best parameters were retrained).
    """
    xt, yt, xv, yv = data.x["train"], data.y["train"], data.x["val"], data.y["val"]
    if model_cfg.tune is None or not cls.capabilities.trainable:
        model = cls(shape, **model_cfg.params)
        report = model.fit(xt, yt, xv, yv, _settings(train, seed))
        return model, report, dict(model_cfg.params)
    return _search(cls, shape, model_cfg, model_cfg.tune, train, data, seed)


def _search(cls: type[ForecastModel], shape: ModelShape, model_cfg: ModelConfig, search: TuneConfig,
            train: TrainConfig, data: WindowedData, seed: int) -> tuple[ForecastModel, FitReport, dict[str, Any]]:
    import time

    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    space = search.space or cls.default_search_space
    if not space:
        raise ConfigError(f"models.{model_cfg.name}.tune: no search space given and the model has no default")
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

        trial_extra = {**extra, **({"epochs": search.trial_epochs} if search.trial_epochs else {})}
        try:
            rep = model.fit(data.x["train"], data.y["train"], data.x["val"], data.y["val"],
                            _settings(train, seed, **trial_extra), report_epoch)
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
    started = time.perf_counter()
    study.optimize(objective, n_trials=search.trials, timeout=search.seconds)
    if not best:
        raise ModelError(f"{model_cfg.name}: every tuning trial failed or was pruned")
    params = dict(best["params"])
    model, report = best["model"], best["report"]
    retrain = search.trial_epochs is not None and search.trial_epochs < train.epochs
    if retrain:  # trials were shortened: the best parameters get the full training
        extra = {k: v for k, v in params.items() if k in _TRAIN_KEYS}
        model = cls(shape, **{k: v for k, v in params.items() if k not in _TRAIN_KEYS})
        report = model.fit(data.x["train"], data.y["train"], data.x["val"], data.y["val"],
                           _settings(train, seed, **extra))
    states = [t.state for t in study.trials]
    params["search_trials"] = len(study.trials)
    params["tune"] = {"trials": len(study.trials), "pruned": sum(s == optuna.trial.TrialState.PRUNED for s in states),
                      "best_trial": int(study.best_trial.number), "best_val_loss": float(study.best_value),
                      "seconds": time.perf_counter() - started, "retrained": retrain}
    return model, report, params
