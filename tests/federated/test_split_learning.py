"""Split learning between two real processes over gRPC: a trade-off across cut points, a server restart.

The server is killed mid-training and started again; the site resumes both parts from the last
checkpoint and redoes at most the steps since then.
"""

from __future__ import annotations

import json
import math
import threading
from pathlib import Path

import numpy as np
import pytest

grpc = pytest.importorskip("grpc", reason="gRPC comes with the FL environment (README: Federated learning)")
pytest.importorskip("torch")

from ranml.federated import SplitConfig, run_split
from ranml.federated.deployment import free_port
from ranml.federated.split_runtime import SERVICE, SplitServer
from ranml.federated.split_wire import pack, unpack

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def _config(**changes: object) -> SplitConfig:
    base = {
        "name": "sl", "model": "mlp", "params": {"hidden": 32, "layers": 2}, "seed": 4,
        "windows": {"input_steps": 12, "horizon": 2, "calendar": False, "max_train_windows": 640,
                    "max_val_windows": 120},
        "site": {"name": "edge", "source": {"kind": "synth", "cells": 4, "days": 8, "step": "1h", "seed": 3},
                 "faults": {"link": {"delay_ms": 10.0}}},
        "cuts": ["1", "4"], "epochs": 4, "batch_size": 32, "checkpoint_every": 8,
        "faults": {"restart_server_after_step": 16},
    }
    return SplitConfig.model_validate({**base, **changes})


@pytest.fixture(scope="module")
def result(tmp_path_factory: pytest.TempPathFactory):
    return run_split(_config(), tmp_path_factory.mktemp("sl"))


def test_each_cut_point_is_trained_and_scored(result) -> None:
    assert [r["cut"] for r in result.cuts] == ["1", "4"]
    for r in result.cuts:
        assert math.isfinite(r["val_mae"]) and math.isfinite(r["test_mae"])
        assert r["steps"] == 4 * math.ceil(r["train_windows"] / 32)  # four epochs of batches of 32
        assert r["site_ms_per_step"] > 0 and r["step_ms"] > r["site_ms_per_step"]
        assert r["site_energy_j"] > 0 and r["energy_source"] in {"rapl", "estimate"}
    early, late = result.cuts
    assert late["site_params"] > early["site_params"], "a later cut puts more weights on the site"


def test_bytes_per_step_are_what_crosses_the_cut(result) -> None:
    for r in result.cuts:
        batch = r["train_windows"] * 4 / r["steps"]  # the mean batch (the last of an epoch is smaller)
        floats = r["floats_per_window"] * batch * 2 + batch * 2  # activations there and gradients back, targets
        assert floats * 4 <= r["bytes_per_step"] <= floats * 4 + 1024  # plus the headers


def test_a_server_restart_is_recovered_from_the_last_checkpoint(result) -> None:
    for r in result.cuts:
        assert r["recoveries"] >= 1
        assert 0 <= r["steps_redone"] <= 8, "at most the steps since the last checkpoint are redone"


def test_the_trade_off_report_and_summary_are_written(result) -> None:
    summary = json.loads((result.out / "summary.json").read_text())
    assert [c["cut"] for c in summary["cuts"]] == ["1", "4"]
    page = (result.out / "report" / "index.html").read_text()
    assert "<svg" in page and "cut after" in page


def test_the_server_refuses_malformed_requests_and_keeps_serving(tmp_path: Path) -> None:
    folder = tmp_path / "cuts" / "1"
    folder.mkdir(parents=True)
    (tmp_path / "run.json").write_text(json.dumps({"config": _config().model_dump(mode="json")}))
    server = SplitServer(folder, "1")
    port = free_port()
    thread = threading.Thread(target=server.serve, args=(port,), daemon=True)
    thread.start()
    channel = grpc.insecure_channel(f"127.0.0.1:{port}")
    grpc.channel_ready_future(channel).result(timeout=20)
    call = lambda method, body: channel.unary_unary(f"/{SERVICE}/{method}")(body, timeout=20)  # noqa: E731
    for method, body in [("Train", b"garbage"), ("Hello", b"\x05\x00\x00\x00{oops"),
                         ("Train", pack({}, []))]:
        with pytest.raises(grpc.RpcError) as err:
            call(method, body)
        assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    from ranml.benchmark import ModelShape

    shape = ModelShape(input_steps=12, horizon=2, n_features=1)
    fields, _ = unpack(call("Hello", pack({"shape": shape.__dict__, "resume_step": 0})))
    assert fields["step"] == 0
    with pytest.raises(grpc.RpcError) as err:  # activations of the wrong shape
        call("Train", pack({}, [np.zeros((4, 7), np.float32), np.zeros((4, 2), np.float32)]))
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    call("Finish", pack({}))
    thread.join(timeout=10)
    assert not thread.is_alive()


def test_each_cut_points_model_is_exported_with_its_lineage(result) -> None:
    from ranml.federated import export_site_model

    exported = export_site_model(result.out, cut="4")
    m = exported.manifest
    assert m.parity.max_abs_err <= m.parity.tolerance
    assert m.lineage.training["kind"] == "split" and m.lineage.training["cut"] == "4"
    assert m.lineage.dataset == "edge"
