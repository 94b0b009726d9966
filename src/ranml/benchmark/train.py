"""The PyTorch training loop: mini-batches, early stopping, epoch and time budgets, seeds."""

from __future__ import annotations

import copy
import logging
import math
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from ranml.benchmark.models.base import EpochCallback, FitReport, TrainSettings
from ranml.errors import ModelError

__all__ = ["predict_module", "seed_everything", "train_module"]

log = logging.getLogger("ranml.benchmark.train")


def seed_everything(seed: int, threads: int) -> None:
    """Seed numpy and torch and fix torch's thread count (results then match across backends)."""
    import torch

    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)
    if torch.get_num_threads() != threads:
        torch.set_num_threads(threads)


def _loss_fn(name: str) -> Any:
    import torch.nn.functional as F

    if name == "mse":
        return F.mse_loss
    if name == "mae":
        return F.l1_loss
    if name == "huber":
        return F.smooth_l1_loss
    raise ModelError(f"unknown loss {name!r}; use mse, mae or huber")


def train_module(
    net: Any,
    x_train: np.ndarray,
    y_train: np.ndarray,
    x_val: np.ndarray,
    y_val: np.ndarray,
    settings: TrainSettings,
    on_epoch: EpochCallback | None = None,
    penalty: Callable[[Any], Any] | None = None,
) -> FitReport:
    """Train ``net`` with Adam; stop early on the validation loss and restore the best weights.

    Parameters
    ----------
    net
        A ``torch.nn.Module`` mapping a batch of ``x`` to a batch of ``y``.
    x_train, y_train, x_val, y_val
        Scaled arrays.
    settings
        Epochs, batch size, learning rate, patience, time budget, seed, threads, loss.
    on_epoch
        Called after each epoch with ``(epoch, train_loss, val_loss)``; may raise (e.g. Optuna's
        pruning) to abort.
    penalty
        Added to every batch's loss: ``penalty(net)`` returns a scalar tensor (e.g. FedProx's
        proximal term ``mu/2 · ||w − w_global||²``). It is not part of the reported losses.
    """
    import torch

    if len(x_train) == 0 or len(x_val) == 0:
        raise ModelError("training needs at least one training and one validation window")
    seed_everything(settings.seed, settings.threads)
    loss_fn = _loss_fn(settings.loss)
    xt, yt = torch.from_numpy(np.ascontiguousarray(x_train)), torch.from_numpy(np.ascontiguousarray(y_train))
    xv, yv = torch.from_numpy(np.ascontiguousarray(x_val)), torch.from_numpy(np.ascontiguousarray(y_val))
    opt = torch.optim.Adam(net.parameters(), lr=settings.lr, weight_decay=settings.weight_decay)
    gen = torch.Generator().manual_seed(settings.seed)
    best = math.inf
    best_state = copy.deepcopy(net.state_dict())
    best_epoch, bad_epochs, epoch = 0, 0, 0
    history: list[tuple[float, float]] = []
    stopped_by = "epochs"
    start = time.perf_counter()
    for epoch in range(1, settings.epochs + 1):
        net.train()
        order = torch.randperm(len(xt), generator=gen)
        total, count = 0.0, 0
        for i in range(0, len(xt), settings.batch_size):
            idx = order[i : i + settings.batch_size]
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(net(xt[idx]), yt[idx])
            if not torch.isfinite(loss):
                raise ModelError(f"training diverged at epoch {epoch} (loss is {loss.item()}); lower lr")
            (loss if penalty is None else loss + penalty(net)).backward()
            torch.nn.utils.clip_grad_norm_(net.parameters(), 5.0)
            opt.step()
            total += float(loss.item()) * len(idx)
            count += len(idx)
        val = _evaluate(net, xv, yv, loss_fn, settings.batch_size * 4)
        history.append((total / count, val))
        if on_epoch is not None:
            on_epoch(epoch, total / count, val)
        if val < best - settings.min_delta:
            best, best_epoch, bad_epochs = val, epoch, 0
            best_state = copy.deepcopy(net.state_dict())
        else:
            bad_epochs += 1
        if bad_epochs >= settings.patience:
            stopped_by = "early_stopping"
            break
        if settings.max_seconds is not None and time.perf_counter() - start > settings.max_seconds:
            stopped_by = "time_budget"
            break
    if settings.restore_best:
        net.load_state_dict(best_state)
    net.eval()
    elapsed = time.perf_counter() - start
    log.debug("trained %d epochs in %.2fs (best %d, %s)", epoch, elapsed, best_epoch, stopped_by)
    return FitReport(epoch, best_epoch, best, elapsed, stopped_by, history)


def _evaluate(net: Any, x: Any, y: Any, loss_fn: Any, batch: int) -> float:
    import torch

    net.eval()
    total = 0.0
    with torch.inference_mode():
        for i in range(0, len(x), batch):
            total += float(loss_fn(net(x[i : i + batch]), y[i : i + batch]).item()) * len(x[i : i + batch])
    return total / len(x)


def predict_module(net: Any, x: np.ndarray, batch: int = 1024) -> np.ndarray:
    """Run ``net`` on ``x`` in inference mode, in batches; return float32 numpy."""
    import torch

    net.eval()
    outs = []
    with torch.inference_mode():
        for i in range(0, len(x), batch):
            outs.append(net(torch.from_numpy(np.ascontiguousarray(x[i : i + batch]))).numpy())
    if not outs:
        return np.zeros((0,), dtype=np.float32)
    return np.concatenate(outs).astype(np.float32)
