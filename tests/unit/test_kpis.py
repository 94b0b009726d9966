import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="KPIs are measured on torch modules: pip install 'ranml[benchmark]'")
pytest.importorskip("onnxruntime", reason="ONNX KPIs need onnxruntime")

from ranml.benchmark.energy import EnergyMeter
from ranml.benchmark.kpis import count_flops, count_params, measure_onnx, measure_torch_latency
from ranml.benchmark.onnx_export import export_onnx


def test_params_and_linear_flops_exact():
    lin = torch.nn.Linear(10, 3)
    assert count_params(lin) == 33
    assert count_flops(lin, np.zeros((1, 10), np.float32)) == 2 * 10 * 3


def test_rnn_flops_added_analytically():
    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.rnn = torch.nn.LSTM(4, 8, batch_first=True)

        def forward(self, x):
            return self.rnn(x)[0][:, -1]

    flops = count_flops(Net(), np.zeros((1, 5, 4), np.float32))
    assert flops >= 2 * 4 * 8 * (4 + 8) * 5


def test_latencies_and_onnx_probe(tmp_path):
    net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(24, 4)).eval()
    x = np.random.default_rng(0).standard_normal((1, 12, 2)).astype(np.float32)
    p50, p99 = measure_torch_latency(net, x, calls=200, warmup=5)
    assert 0 < p50 <= p99
    path = tmp_path / "m.onnx"
    path.write_bytes(export_onnx(net, x))
    res = measure_onnx(path, x.shape, calls=200, warmup=5, throughput_batch=16)
    assert 0 < res["latency_p50_us"] <= res["latency_p99_us"]
    assert res["throughput_per_s"] > 0 and res["peak_memory_mb"] > 0
    assert res["calls"] == 200


def test_onnx_probe_failure_is_a_clear_error(tmp_path):
    from ranml.errors import BenchmarkError

    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"not a model")
    with pytest.raises(BenchmarkError, match="ONNX Runtime probe failed"):
        measure_onnx(bad, (1, 2), calls=100)


def test_energy_estimate_is_labelled_and_proportional_to_cpu_time():
    with EnergyMeter(watts_per_core=10.0, prefer="estimate") as m:
        s = 0.0
        for i in range(2_000_000):
            s += i
    r = m.reading
    assert r is not None and r.source == "estimate"
    assert r.joules == pytest.approx(10.0 * r.cpu_seconds)
    assert r.cpu_seconds > 0


def test_transformer_flops_are_counted_not_fused_away():
    layer = torch.nn.TransformerEncoderLayer(16, 4, 32, 0.0, batch_first=True)
    enc = torch.nn.TransformerEncoder(layer, 1, enable_nested_tensor=False).eval()
    tokens, d = 10, 16
    linear = tokens * (2 * d * 3 * d + 2 * d * d + 2 * d * 32 * 2)  # QKV, out-projection, FFN
    assert count_flops(enc, np.zeros((1, tokens, d), np.float32)) >= linear


def test_energy_uses_rapl_counters_when_readable(tmp_path, monkeypatch):
    import ranml.benchmark.energy as energy

    zone = tmp_path / "intel-rapl:0"
    zone.mkdir()
    (zone / "energy_uj").write_text("1000000\n")
    (zone / "max_energy_range_uj").write_text("262143328850\n")
    monkeypatch.setattr(energy, "_RAPL", tmp_path)
    assert energy.rapl_available()
    with energy.EnergyMeter() as m:
        (zone / "energy_uj").write_text("3500000\n")
    assert m.reading is not None and m.reading.source == "rapl"
    assert m.reading.joules == pytest.approx(2.5)
    # counter wrap-around
    with energy.EnergyMeter() as m:
        (zone / "energy_uj").write_text("500000\n")
    assert m.reading.joules == pytest.approx((262143328850 - 3500000 + 500000) / 1e6)
