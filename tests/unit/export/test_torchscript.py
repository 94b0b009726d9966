"""The TorchScript path (traced, and dynamic int8) behind its one module."""

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="TorchScript needs torch")

from ranml.export.torchscript import load_torchscript, to_torchscript


def net():
    torch.manual_seed(0)

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.rnn = torch.nn.GRU(3, 16, batch_first=True)
            self.head = torch.nn.Linear(16, 2)

        def forward(self, x):
            return self.head(self.rnn(x)[0][:, -1])

    return Net().eval()


def test_traced_fp32_matches_and_int8_is_close():
    x = np.random.default_rng(0).standard_normal((32, 12, 3)).astype(np.float32)
    module = net()
    with torch.inference_mode():
        ref = module(torch.from_numpy(x)).numpy()
    fp32 = load_torchscript(to_torchscript(module, x[:1]))
    int8 = load_torchscript(to_torchscript(module, x[:1], int8=True))
    with torch.inference_mode():
        a = fp32(torch.from_numpy(x)).numpy()
        b = int8(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(a, ref, rtol=0, atol=1e-5)
    assert np.abs(b - ref).max() < 0.1 and not np.array_equal(b, ref)


def test_torchscript_export_through_export_model():
    from ranml.benchmark.models import ModelShape, TrainSettings, build_model
    from ranml.benchmark.windows import WindowSpec, make_windows
    from ranml.export import ExportGates, export_model
    from ranml.telemetry import generate

    data = make_windows(generate(cells=2, days=5, step="1h", seed=3),
                        WindowSpec(input_steps=24, horizon=2, max_train_windows=100,
                                   max_val_windows=32, max_test_windows=32))
    model = build_model("gru", ModelShape(24, 2, int(data.x["train"].shape[-1])), hidden=8)
    model.fit(data.x["train"], data.y["train"], data.x["val"], data.y["val"], TrainSettings(epochs=1))
    r = export_model(model, data, "gru", "torchscript", ExportGates(windows=32))
    assert r.manifest.files == {"model": "model.pt"} and r.manifest.parity.max_abs_err <= 1e-4
    q = export_model(model, data, "gru", "torchscript-int8", ExportGates(windows=32, int8_bound_pct=50.0))
    assert q.manifest.parity.mae_change_pct is not None and q.manifest.parity.mae_bound_pct == 50.0
