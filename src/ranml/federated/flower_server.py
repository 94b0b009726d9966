"""The server side as a Flower ``ServerApp``: rounds of Flower's strategies, recorded and screened.

Flower's strategy samples the sites and aggregates (``configure_train`` / ``aggregate_train`` of
``flwr.serverapp.strategy``); this module drives the rounds itself so that each one is recorded
(per-site error, bytes each way, time, energy, stragglers), every update is screened before
aggregation (:mod:`ranml.federated.updates`), and the global weights are checkpointed after every
round, so a restarted server resumes where it stopped.

``server_app`` is the module attribute Flower loads (``ranml.federated.flower_server:server_app``).
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any

import numpy as np
from flwr.app import ArrayRecord, ConfigRecord, Context, Message, MessageType, RecordDict
from flwr.serverapp import Grid, ServerApp
from flwr.serverapp.strategy import FedAvg, FedMedian, FedProx, FedTrimmedAvg, Strategy

from ranml.benchmark import ModelShape
from ranml.errors import FederationError
from ranml.federated.config import FederationConfig, StrategyConfig
from ranml.federated.outputs import RunFiles, parse_spec, write_json
from ranml.federated.site import build_global_model, shape_from_fields
from ranml.federated.updates import Layout, check_update, layout_of

__all__ = ["Coordinator", "make_strategy", "server_app"]

log = logging.getLogger("ranml.federated.server")
server_app = ServerApp()
JOIN_TIMEOUT_S = 180.0
"""How long the server waits for every configured site's SuperNode to connect."""
POLL_S = 0.5
"""How often the server asks the SuperLink for replies (Flower's own ``send_and_receive`` waits 3 s)."""
QUERY_TIMEOUT_S = 60.0
"""How long a joining site may take to load its data and answer (it starts a ClientApp process)."""


def make_strategy(spec: StrategyConfig) -> Strategy:
    """Flower's strategy for ``spec`` (sampling and aggregation)."""
    common: dict[str, Any] = {
        "fraction_train": spec.fraction_train, "fraction_evaluate": 0.0,
        "min_train_nodes": spec.min_train_sites, "min_available_nodes": spec.min_train_sites,
    }
    if spec.name == "fedprox":
        return FedProx(proximal_mu=spec.proximal_mu, **common)
    if spec.name == "fedtrimmedavg":
        return FedTrimmedAvg(beta=spec.trim_fraction, **common)
    if spec.name == "fedmedian":
        return FedMedian(**common)
    return FedAvg(**common)


def _numpy(arrays: ArrayRecord) -> dict[str, np.ndarray]:
    return {k: v.numpy() for k, v in arrays.items()}


class Coordinator:
    """Runs one federation: waits for the sites, then rounds, then the final evaluation.

    Parameters
    ----------
    cfg
        The run's configuration.
    files
        The run's output folder.
    grid
        Flower's grid (send to and receive from the SuperNodes).
    """

    def __init__(self, cfg: FederationConfig, files: RunFiles, grid: Grid) -> None:
        self.cfg = cfg
        self.files = files
        self.grid = grid
        self.sites: dict[int, str] = {}
        self.windows: dict[str, int] = {}
        self.shape: ModelShape | None = None

    def _exchange(self, messages: list[Message], timeout: float) -> tuple[list[tuple[str, Message]], list[str]]:
        """Send ``messages``, collect the replies until ``timeout``; each reply with the site it answers for.

        Returns the replies (error replies included: a node the SuperLink lost answers with one) and the
        sites that did not answer in time. Replies are attributed by the message they answer, not by
        their sender, so an error the SuperLink sends on a node's behalf is still that node's.
        """
        sites = [self.sites.get(m.metadata.dst_node_id, f"node-{m.metadata.dst_node_id}") for m in messages]
        ids = list(self.grid.push_messages(messages))
        pending = {mid: site for mid, site in zip(ids, sites, strict=True) if mid is not None}
        replies: list[tuple[str, Message]] = []
        deadline = time.monotonic() + timeout
        while pending:
            for reply in self.grid.pull_messages(list(pending)):
                site = pending.pop(reply.metadata.reply_to_message_id, None)
                if site is not None:
                    replies.append((site, reply))
            if not pending or time.monotonic() >= deadline:
                break
            time.sleep(POLL_S)
        return replies, sorted(pending.values())

    # --- joining ---------------------------------------------------------------------------
    def _query(self, node_ids: list[int]) -> None:
        """Ask new nodes which site they are and what their data looks like."""
        messages = [Message(RecordDict({"config": ConfigRecord({})}), message_type=MessageType.QUERY,
                            dst_node_id=n) for n in node_ids]
        replies, _ = self._exchange(messages, QUERY_TIMEOUT_S)
        for _, reply in replies:
            if reply.has_error():
                log.warning("node %d did not answer the query: %s", reply.metadata.src_node_id, reply.error.reason)
                continue
            info = reply.content.config_records["site"]
            site = str(info["site"])
            shape = shape_from_fields(json.loads(str(info["shape"])))
            if self.shape is not None and shape != self.shape:
                raise FederationError(f"site {site!r} has windows of shape {shape}, the others {self.shape}: every "
                                      "site must use the same windows and features")
            self.shape = shape
            self.sites[reply.metadata.src_node_id] = site
            self.windows[site] = int(reply.content.metric_records["metrics"]["num-examples"])  # type: ignore[arg-type]

    def _join(self, enough: int) -> None:
        """Wait until ``enough`` of the configured sites have a SuperNode, querying each new one."""
        wanted = {s.name for s in self.cfg.sites}
        deadline = time.monotonic() + JOIN_TIMEOUT_S
        while True:
            new = [n for n in self.grid.get_node_ids() if n not in self.sites]
            if new:
                self._query(new)
            if len(wanted & set(self.sites.values())) >= enough:
                return
            if time.monotonic() > deadline:
                missing = sorted(wanted - set(self.sites.values()))
                raise FederationError(f"sites {missing} did not join within {JOIN_TIMEOUT_S:.0f} s; start their "
                                      "SuperNodes with --node-config 'site=\"NAME\"'")
            time.sleep(1.0)

    # --- rounds ----------------------------------------------------------------------------
    def _screen(self, replies: list[tuple[str, Message]], layout: Layout) -> tuple[list[Message], dict[str, Any]]:
        """Keep the updates that may be aggregated; record every site's numbers and every refusal."""
        good: list[Message] = []
        sites: dict[str, Any] = {}
        failed: dict[str, str] = {}
        rejected: dict[str, str] = {}
        for site, reply in replies:
            if reply.has_error():
                failed[site] = str(reply.error.reason)
                continue
            metrics = reply.content.metric_records["metrics"]
            arrays = reply.content.array_records["arrays"]
            verdict = check_update(layout, _numpy(arrays), metrics.get("num-examples"), self.windows.get(site))
            count = float(metrics["val-count"])  # type: ignore[arg-type]
            sites[site] = {
                "val_mae_in": float(metrics["val-abs-in"]) / count if count else None,  # type: ignore[arg-type]
                "val_mae_out": float(metrics["val-abs-out"]) / count if count else None,  # type: ignore[arg-type]
                "val_abs_in": float(metrics["val-abs-in"]), "val_count": count,  # type: ignore[arg-type]
                "train_loss": float(metrics["train-loss"]), "train_s": float(metrics["train-seconds"]),  # type: ignore[arg-type]
                "energy_j": float(metrics["energy-j"]),  # type: ignore[arg-type]
                "energy_source": str(reply.content.config_records["site"]["energy-source"]),
                "bytes_down": int(metrics["bytes-in"]), "bytes_up": arrays.count_bytes(),  # type: ignore[arg-type]
                "accepted": verdict.ok,
            }
            if verdict.ok:
                good.append(reply)
            else:
                rejected[site] = verdict.reason
                log.warning("round update from site %s refused: %s", site, verdict.reason)
        return good, {"sites": sites, "failed": failed, "rejected": rejected}

    def _resume(self, arrays: ArrayRecord) -> tuple[ArrayRecord, int]:
        """The checkpointed global weights and the next round, or the initial ones and round 1."""
        import torch

        if not self.files.checkpoint.exists():
            return arrays, 1
        saved = torch.load(self.files.checkpoint, weights_only=True)
        log.info("resuming after round %d from %s", saved["round"], self.files.checkpoint)
        return ArrayRecord.from_torch_state_dict(saved["state_dict"]), int(saved["round"]) + 1

    def _checkpoint(self, arrays: ArrayRecord, server_round: int) -> None:
        import torch

        tmp = self.files.checkpoint.with_suffix(".tmp")
        torch.save({"round": server_round, "state_dict": arrays.to_torch_state_dict()}, tmp)
        tmp.replace(self.files.checkpoint)

    def _round(self, strategy: Strategy, server_round: int, arrays: ArrayRecord,
               layout: Layout) -> tuple[ArrayRecord, dict[str, Any]]:
        start = time.perf_counter()
        new = [n for n in self.grid.get_node_ids() if n not in self.sites]
        if new:  # a site that (re)joined
            self._query(new)
        config = ConfigRecord({"epochs": self.cfg.local.epochs})
        messages = list(strategy.configure_train(server_round, arrays, config, self.grid))
        sampled = sorted(self.sites.get(m.metadata.dst_node_id, f"node-{m.metadata.dst_node_id}") for m in messages)
        replies, late = self._exchange(messages, self.cfg.strategy.round_timeout_s)
        good, record = self._screen(replies, layout)
        if len(good) >= 1:
            aggregated, _ = strategy.aggregate_train(server_round, good)
            if aggregated is not None and check_update(layout, _numpy(aggregated), 1).ok:
                arrays = aggregated
        count = sum(s["val_count"] for s in record["sites"].values())
        record.update({
            "round": server_round,
            "sampled": sampled,
            "stragglers": late,
            "aggregated": len(good),
            "global_val_mae_in": (sum(s["val_abs_in"] for s in record["sites"].values()) / count) if count else None,
            "bytes_down": sum(s["bytes_down"] for s in record["sites"].values()),
            "bytes_up": sum(s["bytes_up"] for s in record["sites"].values()),
            "energy_j": sum(s["energy_j"] for s in record["sites"].values()),
            "wall_s": time.perf_counter() - start,
        })
        return arrays, record

    def _evaluate(self, arrays: ArrayRecord) -> dict[str, Any]:
        """Every site's validation and test error of the final model (and of its personalised copy)."""
        config = ConfigRecord({"personalise-epochs": self.cfg.personalise_epochs})
        messages = [Message(RecordDict({"arrays": arrays, "config": config}), message_type=MessageType.EVALUATE,
                            dst_node_id=n) for n in self.grid.get_node_ids()]
        out: dict[str, Any] = {}
        replies, _ = self._exchange(messages, self.cfg.strategy.round_timeout_s)
        for site, reply in replies:
            if reply.has_error():
                continue
            m = reply.content.metric_records["metrics"]
            values = {k: float(v) for k, v in m.items()}  # type: ignore[arg-type]
            out[site] = {"val_abs": values["val-abs"], "val_count": values["val-count"],
                         "test_abs": values["test-abs"], "test_count": values["test-count"],
                         "personal_val_abs": values.get("personal-val-abs"),
                         "personal_test_abs": values.get("personal-test-abs")}
        return out

    def run(self) -> dict[str, Any]:
        """Run every round and the final evaluation; write the model and the record."""
        import torch

        began = time.perf_counter()
        # a fresh run waits for every site; a resumed one (server restart) goes on once enough are back
        resuming = self.files.checkpoint.exists()
        self._join(self.cfg.strategy.min_train_sites if resuming else len(self.cfg.sites))
        assert self.shape is not None
        model = build_global_model(self.cfg, self.shape)
        initial = ArrayRecord.from_torch_state_dict(model.net.state_dict())  # type: ignore[attr-defined]
        layout = layout_of(_numpy(initial))
        arrays, first = self._resume(initial)
        strategy = make_strategy(self.cfg.strategy)
        for server_round in range(first, self.cfg.rounds + 1):
            arrays, record = self._round(strategy, server_round, arrays, layout)
            self._checkpoint(arrays, server_round)
            self.files.append_progress(record)
        final = self._evaluate(arrays)
        state = arrays.to_torch_state_dict()
        model.load_state({"state_dict": state})
        torch.save({**model.state(), "shape": self.shape.__dict__, "lineage": self.lineage()}, self.files.model)
        result = {"lineage": self.lineage(), "shape": self.shape.__dict__, "final": final,
                  "rounds": self.files.read_progress(), "wall_s": time.perf_counter() - began}
        write_json(self.files.result, result)
        return result

    def lineage(self) -> dict[str, Any]:
        """Where the model comes from: strategy, rounds, sites and their data."""
        return {
            "kind": "federated", "engine": "flower", "strategy": self.cfg.strategy.model_dump(mode="json"),
            "rounds": self.cfg.rounds, "local_epochs": self.cfg.local.epochs, "model": self.cfg.model,
            "params": self.cfg.params, "sites": dict(sorted(self.windows.items())),
            "personalise_epochs": self.cfg.personalise_epochs,
        }


def _main(grid: Grid, context: Context) -> None:
    files = RunFiles(Path(str(context.run_config["out"])))
    files.root.mkdir(parents=True, exist_ok=True)
    Coordinator(parse_spec(str(context.run_config["spec"])), files, grid).run()


server_app.main()(_main)
