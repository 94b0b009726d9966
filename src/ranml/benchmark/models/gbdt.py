"""Gradient-boosted trees (LightGBM) on lags and calendar features: the baseline operators try first.

Features of a window: the last ``lags`` target values, and every other input channel (extra KPIs,
calendar) at the last input step. One LightGBM regressor per horizon step, early-stopped on the
validation windows.

Serving: the fitted trees become a ``torch.nn.Module`` that evaluates them with matrix products (each
tree as feature selection, thresholds, a leaf-path matrix and leaf values, in the spirit of
Hummingbird's GEMM strategy), so the harness measures, exports to plain ONNX and serves the trees like
any other model. ``predict`` runs that module, so what is measured is what is served.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from ranml.benchmark.models.base import (
    Capabilities,
    EpochCallback,
    FitReport,
    ForecastModel,
    ModelShape,
    TrainSettings,
)
from ranml.errors import ModelError

__all__ = ["GBDT"]


def _tree_tensors(tree: dict[str, Any]) -> tuple[list[int], list[float], list[list[int]], list[int], list[float]]:
    """One dumped tree → (features, thresholds, path matrix rows, left counts, leaf values)."""
    features: list[int] = []
    thresholds: list[float] = []
    leaves: list[tuple[float, list[tuple[int, int]]]] = []  # value, [(internal index, +1 left / -1 right)]

    def walk(node: dict[str, Any], path: list[tuple[int, int]]) -> None:
        if "leaf_value" in node:
            leaves.append((float(node["leaf_value"]), path))
            return
        if node.get("decision_type", "<=") != "<=":
            raise ModelError(f"gbdt: decision type {node['decision_type']!r} (categorical splits) is not supported")
        i = len(features)
        features.append(int(node["split_feature"]))
        thresholds.append(float(node["threshold"]))
        walk(node["left_child"], [*path, (i, 1)])
        walk(node["right_child"], [*path, (i, -1)])

    walk(tree["tree_structure"], [])
    n_internal = max(1, len(features))
    paths = [[0] * len(leaves) for _ in range(n_internal)]
    lefts = []
    for leaf, (_value, path) in enumerate(leaves):
        for i, sign in path:
            paths[i][leaf] = sign
        lefts.append(sum(1 for _, sign in path if sign > 0))
    return features or [0], thresholds or [0.0], paths, lefts, [v for v, _ in leaves]


def _pack(trees: list[list[dict[str, Any]]]) -> dict[str, torch.Tensor]:
    """Dumped trees per horizon step → padded tensors (features, thresholds, paths, left counts, values, steps)."""
    flat = [(h, _tree_tensors(t)) for h, per_step in enumerate(trees) for t in per_step]
    n_trees = len(flat)
    n_int = max(len(f) for _, (f, *_rest) in flat)
    n_leaf = max(len(v) for _, (*_rest, v) in flat)
    feat = torch.zeros(n_trees, n_int, dtype=torch.long)
    thr = torch.zeros(n_trees, n_int)
    path = torch.zeros(n_trees, n_int, n_leaf)
    left = torch.full((n_trees, n_leaf), -1.0)  # padded leaves are never reached
    value = torch.zeros(n_trees, n_leaf)
    step = torch.zeros(n_trees, len(trees))
    for k, (h, (f, t, p, lf, v)) in enumerate(flat):
        feat[k, : len(f)] = torch.tensor(f)
        thr[k, : len(t)] = torch.tensor(t, dtype=torch.float64).float()
        path[k, : len(p), : len(v)] = torch.tensor(p, dtype=torch.float32)
        left[k, : len(v)] = torch.tensor(lf, dtype=torch.float32)
        value[k, : len(v)] = torch.tensor(v, dtype=torch.float64).float()
        step[k, h] = 1.0
    return {"feat": feat, "thr": thr, "path": path, "left": left, "value": value, "step": step}


class _Trees(nn.Module):
    """Sum of tree outputs per horizon step, evaluated with comparisons and matrix products.

    A tree with internal nodes ``i`` and leaves ``l``: ``cond_i = x[feat_i] <= thr_i``; ``path[i, l]``
    is +1 if ``l`` lies left of ``i``, -1 if right, 0 otherwise; the leaf reached is the one whose
    ``Σ_i cond_i · path[i, l]`` equals its number of left turns.
    """

    def __init__(self, lags: int, target: int, extra: list[int], tensors: dict[str, torch.Tensor]) -> None:
        super().__init__()
        self.lags, self.target = lags, target
        self.n_trees, self.n_int = (int(v) for v in tensors["thr"].shape)
        self.register_buffer("extra", torch.tensor(extra, dtype=torch.long))
        self.register_buffer("feat", tensors["feat"].reshape(-1))
        for name in ("path", "left", "step"):
            self.register_buffer(name, tensors[name])
        # The fitted numbers (thresholds, leaf values) are the model's parameters: counted like weights.
        self.thr = nn.Parameter(tensors["thr"], requires_grad=False)
        self.value = nn.Parameter(tensors["value"], requires_grad=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b: dict[str, torch.Tensor] = {**dict(self.named_buffers()), "thr": self.thr, "value": self.value}
        lags = x[:, -self.lags :, self.target]
        features = torch.cat([lags, x[:, -1].index_select(1, b["extra"])], dim=1)  # [b, F]
        picked = features.index_select(1, b["feat"]).reshape(-1, self.n_trees, self.n_int)
        cond = torch.le(picked, b["thr"]).float()  # [b, trees, internal]
        score = torch.matmul(cond.unsqueeze(2), b["path"]).squeeze(2)  # [b, trees, leaves]
        reached = torch.eq(score, b["left"]).float()
        per_tree = (reached * b["value"]).sum(dim=2)  # [b, trees]
        return torch.matmul(per_tree, b["step"])


class GBDT(ForecastModel):
    """LightGBM per horizon step on lags and calendar features.

    Params: ``lags`` (target lags, default: the whole input window up to 48), ``n_estimators`` (300),
    ``learning_rate`` (0.05), ``num_leaves`` (31), ``min_child_samples`` (20), ``early_stopping`` (20
    rounds without improvement on the validation windows).
    """

    name = "gbdt"
    capabilities = Capabilities()
    default_search_space = {"num_leaves": [8, 64], "learning_rate": {"low": 0.01, "high": 0.2, "log": True},
                            "min_child_samples": [5, 50]}

    def __init__(self, shape: ModelShape, **hparams: Any) -> None:
        super().__init__(shape, **hparams)
        self._module: _Trees | None = None
        self.boosters: list[Any] = []
        """The fitted LightGBM regressors, one per horizon step (not part of a checkpoint)."""

    def _lags(self) -> int:
        lags = int(self.hparams.get("lags", min(self.shape.input_steps, 48)))
        if not 1 <= lags <= self.shape.input_steps:
            raise ModelError(f"gbdt: params.lags={lags} must be between 1 and input_steps={self.shape.input_steps}")
        return lags

    def _extra(self) -> list[int]:
        return [i for i in range(self.shape.n_features) if i != self.shape.target_index]

    def _features(self, x: np.ndarray) -> np.ndarray:
        lags = self._lags()
        return np.concatenate([x[:, -lags:, self.shape.target_index], x[:, -1, self._extra()]], axis=1)

    def check(self) -> None:
        """Refuse unknown parameters and impossible lags before any training."""
        known = {"lags", "n_estimators", "learning_rate", "num_leaves", "min_child_samples", "early_stopping"}
        unknown = sorted(set(self.hparams) - known)
        if unknown:
            raise ModelError(f"gbdt: params {unknown} are not parameters of this model (it reads: "
                             f"{', '.join(sorted(known))}); fix the spelling or remove them")
        self._lags()
        if self.shape.grid or self.shape.patch:
            raise ModelError("gbdt: series windows only")

    def fit(self, x_train: np.ndarray, y_train: np.ndarray, x_val: np.ndarray, y_val: np.ndarray,
            settings: TrainSettings, on_epoch: EpochCallback | None = None) -> FitReport:
        """Fit one booster per horizon step; early stopping on the validation windows."""
        import time

        import lightgbm as lgb

        self.check()
        start = time.perf_counter()
        ft, fv = np.ascontiguousarray(self._features(x_train)), np.ascontiguousarray(self._features(x_val))
        patience = int(self.hparams.get("early_stopping", 20))
        rounds = int(self.hparams.get("n_estimators", 300))
        trees, best_iters, val_losses = [], [], []
        self.boosters = []
        params = {
            "objective": "regression", "learning_rate": float(self.hparams.get("learning_rate", 0.05)),
            "num_leaves": int(self.hparams.get("num_leaves", 31)),
            "min_data_in_leaf": int(self.hparams.get("min_child_samples", 20)), "seed": settings.seed,
            "num_threads": settings.threads, "deterministic": True, "force_row_wise": True, "verbose": -1,
        }
        for h in range(self.shape.horizon):
            train_set = lgb.Dataset(ft, np.ascontiguousarray(y_train[:, h]), free_raw_data=False)
            val_set = lgb.Dataset(fv, np.ascontiguousarray(y_val[:, h]), reference=train_set, free_raw_data=False)
            booster = lgb.train(params, train_set, num_boost_round=rounds, valid_sets=[val_set],
                                callbacks=[lgb.early_stopping(patience, verbose=False)])
            best = int(booster.best_iteration or rounds)
            trees.append(booster.dump_model(num_iteration=best)["tree_info"])  # the initial score is in tree 0
            self.boosters.append(booster)
            best_iters.append(best)
            val_losses.append(float(booster.best_score["valid_0"]["l2"]))
        self._module = _Trees(self._lags(), self.shape.target_index, self._extra(), _pack(trees)).eval()
        self._fitted = True
        stopped = "early_stopping" if max(best_iters) < rounds else "epochs"
        val = float(np.mean(val_losses))
        if on_epoch is not None:
            on_epoch(max(best_iters), float("nan"), val)
        return FitReport(max(best_iters), max(best_iters), val, time.perf_counter() - start, stopped,
                         [(float("nan"), val)])

    def predict(self, x: np.ndarray) -> np.ndarray:
        """Forecast with the tree module (what is measured, exported and served)."""
        from ranml.benchmark.train import predict_module

        self.require_fitted()
        return predict_module(self.torch_module(), x)

    def torch_module(self) -> Any:
        """The trees as a torch module in eval mode."""
        self.require_fitted()
        assert self._module is not None
        return self._module

    def load_state(self, state: dict[str, Any]) -> None:
        """Restore the trees saved by :meth:`state`."""
        tensors = {k: v.clone() for k, v in state["state_dict"].items() if k != "extra"}
        tensors["feat"] = tensors["feat"].reshape(tensors["thr"].shape)
        self._module = _Trees(self._lags(), self.shape.target_index, self._extra(), tensors).eval()
        self._fitted = True
