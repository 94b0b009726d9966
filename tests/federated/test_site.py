"""A site's local side: its windows, local training, FedProx's proximal term, refusals, broken updates."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from ranml.benchmark import DatasetConfig
from ranml.benchmark.job import load_dataset
from ranml.errors import FederationError
from ranml.federated import FederationConfig, SiteConfig
from ranml.federated.faults import corrupt_update
from ranml.federated.site import SiteLearner, _proximal_term, build_global_model
from ranml.federated.updates import check_update, layout_of


def config(**changes) -> FederationConfig:
    sites = [SiteConfig.model_validate({"name": n, "source": {"kind": "synth", "cells": 4, "days": 8, "step": "1h",
                                                              "seed": i, "business_range": r}})
             for i, (n, r) in enumerate([("office", (0.9, 1.0)), ("homes", (0.0, 0.1))])]
    base = {"name": "t", "model": "mlp", "params": {"hidden": 16}, "sites": sites, "rounds": 2,
            "windows": {"input_steps": 12, "horizon": 2, "calendar": False, "max_train_windows": 300,
                        "max_val_windows": 80}}
    return FederationConfig.model_validate({**base, **changes})


def test_local_training_lowers_the_sites_validation_error() -> None:
    learner = SiteLearner(config(), "office").start()
    before = learner.error("val")
    learner.train(epochs=3)
    after = learner.error("val")
    assert after.count == before.count > 0
    assert after.mae < before.mae


def test_the_proximal_term_keeps_local_weights_near_the_global_ones() -> None:
    cfg = config()
    start = SiteLearner(cfg, "office").start().state()
    drift = {}
    for mu in (0.0, 10.0):
        learner = SiteLearner(cfg, "office").start()
        learner.load(start)
        learner.train(epochs=3, proximal_mu=mu)
        drift[mu] = sum(float(((learner.state()[k] - start[k]) ** 2).sum()) for k in start)
    assert drift[10.0] < 0.5 * drift[0.0]


def test_the_proximal_term_is_half_mu_times_the_squared_distance() -> None:
    net = torch.nn.Linear(2, 1)
    penalty = _proximal_term(net, mu=0.5)
    with torch.no_grad():
        net.weight += 2.0  # two weights moved by 2 → squared distance 8
    assert float(penalty(net).detach()) == pytest.approx(0.5 * 0.5 * 8.0)


def test_sites_differ_in_their_traffic_mix() -> None:
    """The synthetic sites are non-IID: the office site's weekend drops, the homes site's does not as much."""
    cfg = config()
    ratio = {}
    for name in ("office", "homes"):
        table = load_dataset(DatasetConfig(name=name, source=cfg.site(name).source)).frame
        week = table.groupby(table["timestamp"].dt.day_of_week)["traffic"].mean()
        ratio[name] = week[[5, 6]].mean() / week[[0, 1, 2, 3, 4]].mean()
    assert ratio["office"] < ratio["homes"]


@pytest.mark.parametrize("name", ["gbdt", "persistence", "convlstm"])
def test_models_that_cannot_be_federated_are_refused(name: str) -> None:
    learner = SiteLearner(config(model=name, params={}), "office")
    with pytest.raises(FederationError, match="cannot be trained federated"):
        learner.start()


def test_an_unknown_site_names_the_node_config() -> None:
    with pytest.raises(FederationError, match="node config"):
        SiteLearner(config(), "nowhere")


@pytest.mark.parametrize("kind", ["nan", "shape", "examples"])
def test_every_injected_fault_is_caught_by_the_screen(kind: str) -> None:
    learner = SiteLearner(config(), "office").start()
    state = learner.state()
    layout = layout_of({k: v.numpy() for k, v in state.items()})
    broken, examples = corrupt_update(state, learner.train_windows, kind)
    assert check_update(layout, {k: v.numpy() for k, v in state.items()}, learner.train_windows).ok
    assert not check_update(layout, {k: v.numpy() for k, v in broken.items()}, examples).ok


def test_the_global_model_is_the_same_for_the_same_seed() -> None:
    cfg = config()
    shape = SiteLearner(cfg, "office").start().data.model_shape()
    a = build_global_model(cfg, shape).net.state_dict()
    b = build_global_model(cfg, shape).net.state_dict()
    assert all(np.array_equal(a[k].numpy(), b[k].numpy()) for k in a)
