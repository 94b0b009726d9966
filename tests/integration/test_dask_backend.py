"""The dask backend on a real dask.distributed LocalCluster (2 worker processes on 127.0.0.1)."""

import math

import pytest

pytest.importorskip("distributed", reason="the dask backend needs dask[distributed]: pip install 'ranml[benchmark]'")
pytest.importorskip("torch", reason="the benchmark trains torch models")

from conftest import tiny_config
from ranml.benchmark import load_benchmark_config, run_benchmark

pytestmark = pytest.mark.integration

MODELS = """\
  - name: persistence
  - name: nlinear
  - name: lstm
    params: {hidden: 8}
  - name: convlstm
    params: {hidden: 4}
  - name: mlp
    params: {hidden: 8}
    tune: {trials: 2, pruner: none, space: {hidden: [4, 12]}}
"""


def test_dask_local_cluster_gives_the_same_metrics_as_local(tmp_path):
    path = tiny_config(tmp_path, MODELS)
    local = run_benchmark(load_benchmark_config(path), tmp_path / "local")
    dask = run_benchmark(load_benchmark_config(path), tmp_path / "dask", backend="dask", workers=2)
    assert [r["status"] for r in dask.records] == ["ok"] * 5
    # The tuned model: the same search, the same best parameters, on a worker process.
    tuned_local, tuned_dask = local.records[-1], dask.records[-1]
    assert tuned_dask["hparams"]["tune"]["trials"] == 2
    assert tuned_dask["hparams"]["hidden"] == tuned_local["hparams"]["hidden"]
    for x, y in zip(local.records, dask.records, strict=True):
        assert x["job_id"] == y["job_id"]
        for key in ("mae", "rmse", "smape", "wape", "mase", "r2", "params", "flops"):
            assert math.isclose(x[key], y[key], rel_tol=0, abs_tol=1e-9), (x["model"], key, x[key], y[key])
    assert (tmp_path / "dask" / "report.html").exists()


def test_dask_scheduler_address_is_used(tmp_path):
    from distributed import LocalCluster

    path = tiny_config(tmp_path, "  - name: persistence\n")
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        res = run_benchmark(load_benchmark_config(path), tmp_path / "o", backend="dask",
                            scheduler=cluster.scheduler_address)
    assert res.records[0]["status"] == "ok"


def test_unreachable_scheduler_is_a_clear_error(tmp_path):
    from conftest import free_port
    from ranml.errors import BenchmarkError

    path = tiny_config(tmp_path, "  - name: persistence\n")
    with pytest.raises(BenchmarkError, match="cannot reach the Dask scheduler"):
        run_benchmark(load_benchmark_config(path), tmp_path / "o", backend="dask",
                      scheduler=f"tcp://127.0.0.1:{free_port()}")
