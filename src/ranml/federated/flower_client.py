"""The site side as a Flower ``ClientApp``: one SuperNode per site runs it on the site's own data.

The SuperNode's node config names the site (``--node-config 'site="north"'``); Flower's run config
carries the run's configuration (``spec``, the JSON of ``run.json``), so the site needs no file
from the server. Three messages:

* ``query``: the site's name, its training windows and the model shape its data gives;
* ``train``: global weights in; local epochs (FedProx's proximal term when the server sends
  ``proximal-mu``); the new weights, the site's error on its validation windows before and after,
  time, energy and bytes out;
* ``evaluate``: global weights in; validation and test error of the global model and, with
  ``personalise-epochs``, of the site's fine-tuned copy.

``client_app`` is the module attribute Flower loads (``ranml.federated.flower_client:client_app``).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import time
from functools import lru_cache

from flwr.app import ArrayRecord, ConfigRecord, Context, Message, MetricRecord, RecordDict
from flwr.clientapp import ClientApp

from ranml.federated.faults import corrupt_update
from ranml.federated.outputs import parse_spec
from ranml.federated.site import SiteLearner

__all__ = ["client_app"]

log = logging.getLogger("ranml.federated.client")
client_app = ClientApp()


@lru_cache(maxsize=4)
def _learner(spec: str, site: str) -> SiteLearner:
    """The site's data and model, loaded once per ClientApp process."""
    return SiteLearner(parse_spec(spec), site).start()


def _site(context: Context) -> tuple[str, SiteLearner]:
    site = str(context.node_config["site"])
    return site, _learner(str(context.run_config["spec"]), site)


def _query(msg: Message, context: Context) -> Message:
    site, learner = _site(context)
    shape = json.dumps(dataclasses.asdict(learner.data.model_shape()))
    return Message(RecordDict({
        "site": ConfigRecord({"site": site, "shape": shape}),
        "metrics": MetricRecord({"num-examples": learner.train_windows}),
    }), reply_to=msg)


def _train(msg: Message, context: Context) -> Message:
    site, learner = _site(context)
    config = msg.content.config_records["config"]
    incoming = msg.content.array_records["arrays"]
    server_round = int(config["server-round"])  # type: ignore[arg-type]
    faults = learner.cfg.site(site).faults
    if faults.delay_s and server_round in faults.rounds_or_all(learner.cfg.rounds):
        time.sleep(faults.delay_s)
    learner.load(incoming.to_torch_state_dict())
    before = learner.error("val")
    mu = float(config.get("proximal-mu", 0.0))  # type: ignore[arg-type]
    local = learner.train(int(config["epochs"]), mu, seed=learner.cfg.seed * 1000 + server_round)  # type: ignore[arg-type]
    after = learner.error("val")
    state = learner.state()
    examples: float = learner.train_windows
    if faults.malformed and server_round in faults.rounds_or_all(learner.cfg.rounds):
        state, examples = corrupt_update(state, examples, faults.malformed)
        log.warning("site %s sends a malformed update (%s) in round %d, as configured", site, faults.malformed,
                    server_round)
    metrics = MetricRecord({
        "num-examples": examples,
        "val-abs-in": before.abs_sum, "val-abs-out": after.abs_sum, "val-count": before.count,
        "train-loss": local.train_loss, "train-seconds": local.seconds, "energy-j": local.energy_j,
        "bytes-in": incoming.count_bytes(),
    })
    return Message(RecordDict({
        "arrays": ArrayRecord.from_torch_state_dict(state),
        "metrics": metrics,
        "site": ConfigRecord({"site": site, "energy-source": local.energy_source}),
    }), reply_to=msg)


def _evaluate(msg: Message, context: Context) -> Message:
    site, learner = _site(context)
    learner.load(msg.content.array_records["arrays"].to_torch_state_dict())
    val, test = learner.error("val"), learner.error("test")
    values: dict[str, int | float | list[int] | list[float]] = {
        "num-examples": learner.train_windows,
        "val-abs": val.abs_sum, "val-count": val.count, "test-abs": test.abs_sum, "test-count": test.count,
    }
    epochs = int(msg.content.config_records["config"].get("personalise-epochs", 0))  # type: ignore[arg-type]
    if epochs:
        learner.train(epochs, 0.0, seed=learner.cfg.seed * 1000 + 999)
        values.update({"personal-val-abs": learner.error("val").abs_sum,
                       "personal-test-abs": learner.error("test").abs_sum})
    return Message(RecordDict({"metrics": MetricRecord(values), "site": ConfigRecord({"site": site})}),
                   reply_to=msg)


client_app.query()(_query)
client_app.train()(_train)
client_app.evaluate()(_evaluate)
