"""The reference federated learning is measured against: one model trained on the union of the sites' data.

This is what the operator would get if the telemetry could be pooled in one place. Each site's
windows are scaled per cell exactly as in the federation, so the two differ only in where training
happens.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from ranml.benchmark import TrainSettings
from ranml.federated.config import FederationConfig
from ranml.federated.site import SiteLearner, build_global_model

__all__ = ["train_centralised"]


def train_centralised(cfg: FederationConfig) -> dict[str, Any]:
    """Train the configured model on every site's training windows at once; score it per site.

    Returns
    -------
    dict
        ``sites`` (per site: ``val_mae``, ``test_mae``), ``val_mae`` and ``test_mae`` over all
        sites' windows, ``epochs``, ``train_s``.
    """
    from ranml.benchmark import train_module

    learners = [SiteLearner(cfg, s.name).start() for s in cfg.sites]
    x_train = np.concatenate([lr.data.x["train"] for lr in learners])
    y_train = np.concatenate([lr.data.y["train"] for lr in learners])
    x_val = np.concatenate([lr.data.x["val"] for lr in learners])
    y_val = np.concatenate([lr.data.y["val"] for lr in learners])
    model = build_global_model(cfg, learners[0].data.model_shape())
    net = model.net  # type: ignore[attr-defined]
    settings = TrainSettings(epochs=cfg.baseline.epochs, batch_size=cfg.local.batch_size, lr=cfg.local.lr,
                             patience=cfg.baseline.patience, seed=cfg.seed, threads=cfg.local.threads)
    start = time.perf_counter()
    report = train_module(net, x_train, y_train, x_val, y_val, settings)
    seconds = time.perf_counter() - start
    sites: dict[str, Any] = {}
    totals = {"val": [0.0, 0], "test": [0.0, 0]}
    state = net.state_dict()
    for learner in learners:
        learner.load(state)
        row = {}
        for split in ("val", "test"):
            err = learner.error(split)
            row[f"{split}_mae"] = err.mae
            totals[split][0] += err.abs_sum
            totals[split][1] += err.count
        sites[learner.site.name] = row
    return {
        "sites": sites,
        "val_mae": totals["val"][0] / max(totals["val"][1], 1),
        "test_mae": totals["test"][0] / max(totals["test"][1], 1),
        "epochs": report.epochs, "train_s": seconds,
    }
