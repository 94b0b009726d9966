"""Parity test for every exportable zoo model, and the export gates.

fit → predict natively → export → check the graph → run in ONNX Runtime → compare at the written
tolerance (1e-4 for fp32; int8 within its MAE bound).
"""

import numpy as np
import pytest

pytest.importorskip("torch", reason="export needs torch: pip install 'ranml[benchmark]'")
pytest.importorskip("onnxruntime", reason="export needs onnxruntime")

from ranml.benchmark.models import ZOO, ModelShape, TrainSettings, build_model, resolve_model
from ranml.benchmark.windows import WindowSpec, make_grid_windows, make_patch_windows, make_windows
from ranml.errors import ExportError
from ranml.export import ExportGates, export_model
from ranml.serving import LocalRegistry, ModelManifest
from ranml.telemetry import generate

PARAMS = {"mlp": {"hidden": 16}, "lstm": {"hidden": 8}, "gru": {"hidden": 8}, "tcn": {"channels": 8, "levels": 3},
          "patchtst": {"d_model": 16, "layers": 1, "patch": 8}, "transformer": {"d_model": 16, "layers": 1},
          "convlstm": {"hidden": 4}, "stn": {"neighbourhood": 3, "channels": 2, "hidden": 2},
          "nhits": {"hidden": 16}, "xlstm": {"d_model": 8, "blocks": 2}, "mamba": {"d_model": 8, "layers": 1},
          "gbdt": {"n_estimators": 30, "num_leaves": 8}, "autoformer": {"d_model": 8},
          "informer": {"d_model": 8, "heads": 2}, "histm": {"d_model": 4, "state": 4},
          "timesnet": {"d_model": 8, "hidden": 8, "layers": 1}, "predrnnpp": {"hidden": 4}}
TOLERANCE = 1e-4


@pytest.fixture(scope="module")
def table():
    return generate(cells=4, days=5, step="1h", seed=11)


def trained(name, table, epochs=1):
    cls = resolve_model(name)
    spec = WindowSpec(input_steps=24, horizon=2, features=["prb_util"], max_train_windows=200,
                      max_val_windows=64, max_test_windows=64)
    view = cls.view(PARAMS.get(name, {}))
    data = make_grid_windows(table, spec) if view == "grid" else make_patch_windows(table, spec, 3) \
        if view == "patch3" else make_windows(table, spec)
    shape = data.model_shape()
    model = build_model(name, shape, **PARAMS.get(name, {}))
    model.fit(data.x["train"], data.y["train"], data.x["val"], data.y["val"], TrainSettings(epochs=epochs))
    return model, data


@pytest.mark.parametrize("name", sorted(ZOO))
def test_onnx_parity_for_every_zoo_model(name, table):
    model, data = trained(name, table)
    native = model.predict(data.x["test"])
    result = export_model(model, data, name, "onnx", ExportGates(windows=64, fp32_tolerance=TOLERANCE))
    m = result.manifest
    assert m.parity.max_abs_err <= TOLERANCE and m.parity.windows == len(native)
    assert m.input_shape == list(data.x["test"].shape[1:]) and m.output_shape == list(native.shape[1:])
    assert m.runtime is not None and m.runtime.optimization_level in ("basic", "extended", "all")
    assert set(result.files) == {"model", "original"}
    import onnx
    import onnxruntime as ort

    onnx.checker.check_model(onnx.load_from_string(result.files["original"]))
    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    sess = ort.InferenceSession(result.files["model"], opts, providers=["CPUExecutionProvider"])
    out = sess.run(None, {"x": data.x["test"]})[0]
    np.testing.assert_allclose(out, native, rtol=0, atol=TOLERANCE)
    # the manifest is self-contained and round-trips
    assert ModelManifest.model_validate_json(m.model_dump_json()) == m
    assert len(m.scaler.cells) == len(m.scaler.shift) and m.step_seconds == 3600


def test_int8_within_bound_and_measured(table):
    model, data = trained("lstm", table, epochs=2)
    result = export_model(model, data, "lstm", "onnx-int8", ExportGates(windows=64))
    p = result.manifest.parity
    assert p.mae_change_pct is not None and p.mae_change_pct <= 2.0 and p.mae_bound_pct == 2.0
    reason = result.manifest.runtime.reason
    assert "fp32's speed" in reason and "chose int8-" in reason
    measured = result.manifest.runtime.measurements_us
    assert "candidate_fp32 (reference)" in measured
    assert {"candidate_int8-dynamic", "candidate_int8-static"} & set(measured)


def test_auto_picks_the_fastest_passing_variant_and_says_why(table):
    model, data = trained("dlinear", table, epochs=2)
    result = export_model(model, data, "dlinear", "onnx-auto", ExportGates(windows=64, int8_bound_pct=50.0))
    m = result.manifest
    measured = m.runtime.measurements_us
    speeds = {k.removeprefix("candidate_"): v for k, v in measured.items() if k.startswith("candidate_")}
    assert "fp32" in speeds and len(speeds) >= 2
    fastest = min(speeds, key=speeds.get)
    assert m.format == ("onnx" if fastest == "fp32" else "onnx-int8")
    assert f"chose {fastest}" in m.runtime.reason


def test_failing_gate_raises_and_nothing_is_registered(table, tmp_path):
    model, data = trained("lstm", table)
    reg = LocalRegistry(tmp_path / "reg")
    with pytest.raises(ExportError, match="no int8 variant passed.*worse than fp32"):
        result = export_model(model, data, "lstm", "onnx-int8", ExportGates(windows=64, int8_bound_pct=-50.0))
        reg.register("lstm", result.files, result.manifest.model_dump(mode="json"))
    assert reg.models() == [] and not (tmp_path / "reg").exists()
    with pytest.raises(ExportError, match="ONNX fp32 differs from torch"):
        export_model(model, data, "lstm", "onnx", ExportGates(windows=64, fp32_tolerance=-1.0))


def test_untrained_model_raises(table):
    _, data = trained("nlinear", table)
    fresh = build_model("nlinear", ModelShape(24, 2, int(data.x["train"].shape[-1])))
    with pytest.raises(ExportError, match="not trained"):
        export_model(fresh, data, "nlinear", "onnx")


def test_unknown_format(table):
    model, data = trained("nlinear", table)
    with pytest.raises(ExportError, match="unknown format 'tflite'"):
        export_model(model, data, "nlinear", "tflite")


def test_a_neighbourhood_model_exports_but_the_online_runtime_refuses_it(table):
    from ranml.errors import RegistryError
    from ranml.serving import Predictor

    model, data = trained("stn", table)
    result = export_model(model, data, "stn", "onnx", ExportGates(windows=16, fp32_tolerance=TOLERANCE))
    assert result.manifest.kind == "patch" and result.manifest.input_shape == [24, 3, 3]
    with pytest.raises(RegistryError, match="does not assemble neighbourhood inputs yet"):
        Predictor(result.files["model"], result.manifest, "v1")
