import numpy as np
import pytest

pytest.importorskip("torch", reason="the test exports a model with torch")
pytest.importorskip("onnxruntime", reason="the runtime needs onnxruntime")

from ranml.benchmark.models import ModelShape, TrainSettings, build_model
from ranml.benchmark.windows import WindowSpec, make_windows
from ranml.errors import RanmlError, RegistryError
from ranml.export import ExportGates, export_model
from ranml.serving import LocalRegistry
from ranml.serving.runtime import Predictor
from ranml.telemetry import generate


@pytest.fixture(scope="module")
def exported():
    data = make_windows(generate(cells=3, days=6, step="1h", seed=2),
                        WindowSpec(input_steps=24, horizon=3, features=["prb_util"], max_train_windows=200,
                                   max_val_windows=64, max_test_windows=64))
    model = build_model("lstm", ModelShape(24, 3, int(data.x["train"].shape[-1])), hidden=8)
    model.fit(data.x["train"], data.y["train"], data.x["val"], data.y["val"], TrainSettings(epochs=1))
    result = export_model(model, data, "lstm", "onnx", ExportGates(windows=64))
    return model, data, result


def raw_windows(data, n=5):
    """Test windows back in original units, with their cell ids."""
    cells = data.cell["test"][:n]
    x = data.x["test"][:n].astype(np.float64)
    shift, scale = data.scaler.shift[cells], data.scaler.scale[cells]
    raw = x.copy()
    k = shift.shape[1]
    raw[:, :, :k] = x[:, :, :k] * scale[:, None, :] + shift[:, None, :]
    return [data.cells[c] for c in cells], raw.astype(np.float32)


@pytest.mark.parametrize("engine", ["capi", "python"])
def test_predict_matches_the_model_in_original_units(exported, engine):
    model, data, result = exported
    if engine == "capi":
        from ranml.serving.ort_capi import native_runtime

        if native_runtime() is None:
            pytest.skip("this onnxruntime wheel ships no C library")
    pred = Predictor(result.files["model"], result.manifest, "1.0.0", engine=engine).start()
    assert pred.provider == "CPUExecutionProvider" and pred.started and pred.engine_used == engine
    cells, raw = raw_windows(data)
    f = pred.predict(cells, raw, deadline_s=1.0)
    assert not f.fallback and f.version == "1.0.0" and f.values.shape == (5, 3)
    expected = data.inverse(model.predict(data.x["test"][:5]), "test")
    np.testing.assert_allclose(f.values, expected, rtol=1e-3, atol=1e-3)
    # one row at a time (the per-cell fast path) gives the same numbers
    for i in range(5):
        one = pred.predict(cells[i : i + 1], raw[i : i + 1])
        assert not one.fallback
        np.testing.assert_allclose(one.values, f.values[i : i + 1], rtol=1e-5, atol=1e-5)
    assert pred.metrics.calls >= 6 and pred.metrics.fallbacks == 0 and pred.metrics.percentile(50) > 0


def test_compiled_one_row_call_answers_exactly_like_the_numpy_path(exported):
    pytest.importorskip("ranml.serving._native",
                        reason="the compiled one-row call is built by `pip install` (needs a C compiler)")
    _, data, result = exported
    from ranml.serving.ort_capi import native_runtime

    if native_runtime() is None:
        pytest.skip("this onnxruntime wheel ships no C library")
    fused = Predictor(result.files["model"], result.manifest, "1.0.0").start()
    plain = Predictor(result.files["model"], result.manifest, "1.0.0", fused=False).start()
    assert fused.fused_used and not plain.fused_used and fused.engine_used == plain.engine_used == "capi"
    cells, raw = raw_windows(data, 5)
    for i in range(5):
        a, b = fused.predict(cells[i : i + 1], raw[i : i + 1]), plain.predict(cells[i : i + 1], raw[i : i + 1])
        assert not a.fallback and not b.fallback
        np.testing.assert_array_equal(a.values, b.values)
    # A float64 window is not for the compiled call: the numpy path answers it.
    f64 = fused.predict(cells[:1], raw[:1].astype(np.float64))
    assert not f64.fallback
    np.testing.assert_allclose(f64.values, plain.predict(cells[:1], raw[:1]).values, rtol=1e-5)
    # Its gaps and non-finite outputs fall back and are counted as on the numpy path.
    gap = raw[:1].copy()
    for n, bad in enumerate((np.nan, np.inf), start=1):
        gap[0, 3, 0] = bad
        for pred in (fused, plain):
            f = pred.predict(cells[:1], gap)
            assert f.fallback and f.reason == "non-finite input (a gap in the window)"
            assert pred.metrics.nonfinite == n and pred.metrics.fallbacks == n


def test_latency_percentiles_match_numpy():
    from ranml.serving.runtime import VersionMetrics

    m = VersionMetrics()
    assert np.isnan(m.percentile(50))
    samples = np.random.default_rng(0).exponential(100.0, 5000)
    for v in samples:
        m.record(float(v))
    window = samples[-4096:]
    for q in (0, 1, 50, 99, 99.9, 100):
        assert m.percentile(q) == pytest.approx(np.percentile(window, q))


def test_unknown_engine_is_refused(exported):
    _, _, result = exported
    with pytest.raises(RanmlError, match="engine must be auto, capi or python"):
        Predictor(result.files["model"], result.manifest, "1.0.0", engine="tensorrt")


def test_start_steps_prepare_the_scaling_maps_of_the_cells_to_serve(exported):
    """A hot swap passes the cells the old version served: the new one's first call on them is a steady one."""
    _, data, result = exported
    cells, raw = raw_windows(data, 2)
    pred = Predictor(result.files["model"], result.manifest, "1.0.0")
    kinds = list(pred.start_steps(cells=[*cells, "a-cell-the-model-never-saw"]))
    assert kinds[0] == "session" and kinds.count("cell") == 3
    assert set(pred.served_cells()) == set(cells)
    assert pred.metrics.calls == 0 and pred.metrics.unknown_cells == 0  # preparing is not serving
    f = pred.predict(cells, raw)
    assert not f.fallback and pred.metrics.calls == 1


def test_gap_in_input_falls_back_to_seasonal_naive(exported):
    _, data, result = exported
    pred = Predictor(result.files["model"], result.manifest, "1.0.0").start()
    cells, raw = raw_windows(data, 2)
    raw[0, 1, 0] = np.nan
    f = pred.predict(cells, raw)
    assert f.fallback and f.reason.startswith("non-finite input")
    np.testing.assert_array_equal(f.values[1], raw[1, :3, 0])  # 24 steps = one day: the same hours yesterday
    assert f.values[0, 1] == raw[0, -1, 0]  # the gap is filled with the last finite value
    assert pred.metrics.nonfinite == 1 and pred.metrics.fallbacks == 1


@pytest.mark.parametrize("engine", ["capi", "python"])
def test_one_check_after_the_run_tells_input_gaps_from_bad_outputs(exported, engine):
    """Input and output are checked by one dot product over their shared buffer; the reason is still exact."""
    _, data, result = exported
    pred = Predictor(result.files["model"], result.manifest, "1.0.0", engine=engine).start()
    cells, raw = raw_windows(data, 1)
    clean = pred.predict(cells, raw)
    assert not clean.fallback
    gap = raw.copy()
    gap[0, -1, 0] = np.inf
    f = pred.predict(cells, gap)
    assert f.fallback and f.reason.startswith("non-finite input")
    again = pred.predict(cells, raw)  # the buffers hold nothing over from the bad window
    assert not again.fallback
    np.testing.assert_array_equal(again.values, clean.values)
    assert pred.metrics.nonfinite == 1


def test_non_finite_output_and_model_errors_fall_back(exported, monkeypatch):
    _, data, result = exported
    pred = Predictor(result.files["model"], result.manifest, "1.0.0").start()
    cells, raw = raw_windows(data, 2)
    monkeypatch.setattr(pred, "_execute", lambda bound: bound.y.fill(np.inf))
    f = pred.predict(cells, raw)
    assert f.fallback and f.reason == "non-finite output"

    def boom(bound):
        raise RuntimeError("kernel crashed")

    monkeypatch.setattr(pred, "_execute", boom)
    f = pred.predict(cells, raw)
    assert f.fallback and "kernel crashed" in f.reason
    assert pred.metrics.errors == 1 and pred.metrics.fallbacks == 2


def test_deadline_miss_is_counted_and_answered(exported):
    _, data, result = exported
    pred = Predictor(result.files["model"], result.manifest, "1.0.0").start()
    cells, raw = raw_windows(data, 3)
    f = pred.predict(cells, raw, deadline_s=1e-9)
    assert f.fallback and "deadline missed" in f.reason and pred.metrics.misses == 1
    assert f.values.shape == (3, 3) and np.isfinite(f.values).all()


def test_unknown_cell_uses_average_scaler_and_is_counted(exported):
    _, data, result = exported
    pred = Predictor(result.files["model"], result.manifest, "1.0.0").start()
    _, raw = raw_windows(data, 1)
    f = pred.predict(["not-a-cell"], raw)
    assert not f.fallback and pred.metrics.unknown_cells == 1


def test_bad_calls_raise_clearly(exported):
    _, data, result = exported
    pred = Predictor(result.files["model"], result.manifest, "1.0.0")
    cells, raw = raw_windows(data, 2)
    with pytest.raises(RanmlError, match="call start"):
        pred.predict(cells, raw)
    pred.start()
    with pytest.raises(RanmlError, match=r"windows must be \[n, 24, 6\]"):
        pred.predict(cells, raw[:, :10])


def test_from_registry_verifies_and_serves(exported, tmp_path):
    _, data, result = exported
    reg = LocalRegistry(tmp_path / "reg")
    reg.register("lstm", result.files, result.manifest.model_dump(mode="json"))
    reg.set_alias("lstm", "champion", "1.0.0")
    pred = Predictor.from_registry(reg, "lstm", "champion").start()
    cells, raw = raw_windows(data, 2)
    assert pred.version == "1.0.0" and not pred.predict(cells, raw).fallback
    blob = tmp_path / "reg" / "blobs" / "sha256" / reg.get("lstm", "1.0.0").blobs["model"]
    blob.write_bytes(blob.read_bytes()[:-10])
    with pytest.raises(RegistryError, match="integrity"):
        Predictor.from_registry(reg, "lstm", "champion")


def test_recent_median_reads_the_newest_latencies_across_the_ring_wrap():
    from ranml.serving.runtime import _LATENCY_WINDOW, VersionMetrics

    m = VersionMetrics()
    assert np.isnan(m.recent_median())
    for v in range(_LATENCY_WINDOW + 10):  # the ring wraps: the newest 10 sit at its start
        m.record(float(v))
    newest = [float(v) for v in range(_LATENCY_WINDOW + 10 - 64, _LATENCY_WINDOW + 10)]
    assert m.recent_median() == float(np.median(newest))
    assert m.recent_median(3) == float(_LATENCY_WINDOW + 8)
