"""Following a registry model: model references, alias moves, canary start and end, broken versions."""

import threading
import time

import numpy as np
import pytest

pytest.importorskip("torch", reason="the test exports models with torch")
pytest.importorskip("onnxruntime", reason="the runtime needs onnxruntime")

from ranml.benchmark.models import ModelShape, TrainSettings, build_model
from ranml.benchmark.windows import WindowSpec, make_windows
from ranml.errors import ConfigError
from ranml.export import ExportGates, export_model
from ranml.serving import LocalRegistry, ModelRef, ServedModel
from ranml.telemetry import generate


@pytest.fixture(scope="module")
def exported():
    data = make_windows(generate(cells=4, days=8, step="1h", seed=3),
                        WindowSpec(input_steps=12, horizon=2, features=[], calendar=False, max_train_windows=400,
                                   split={"train": 0.6, "val": 0.2}))
    out = {}
    for name in ("persistence", "nlinear"):
        model = build_model(name, ModelShape(12, 2, int(data.x["train"].shape[-1]), 0, 24))
        model.fit(data.x["train"], data.y["train"], data.x["val"], data.y["val"],
                  TrainSettings(epochs=1, lr=1e-2, patience=2))
        out[name] = export_model(model, data, name, "onnx", ExportGates(windows=16))
    return out


@pytest.fixture
def registry(tmp_path, exported):
    reg = LocalRegistry(tmp_path / "reg")
    for version, name in (("1.0.0", "persistence"), ("1.1.0", "nlinear"), ("1.2.0", "persistence")):
        r = exported[name]
        reg.register("load", r.files, r.manifest.model_dump(mode="json"), version=version)
    reg.set_alias("load", "champion", "1.0.0", by="test")
    return reg


def wait_for(check, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.02)
    return False


@pytest.mark.parametrize(("text", "name", "ref"), [("load", "load", "champion"), ("load@1.2.0", "load", "1.2.0"),
                                                   (" load@canary ", "load", "canary")])
def test_model_reference_parses(text, name, ref):
    assert ModelRef.parse(text) == ModelRef(name, ref)
    assert str(ModelRef.parse(text)) == f"{name}@{ref}"


@pytest.mark.parametrize("text", ["", "@champion", "load@", "a@b@c"])
def test_bad_model_reference_names_the_fix(text):
    with pytest.raises(ConfigError, match="NAME@ALIAS"):
        ModelRef.parse(text)


def test_a_champion_move_is_swapped_in_while_calls_go_on(registry):
    served = ServedModel(registry, ModelRef("load"), poll_s=0.05).start()
    windows = np.full((3, 12, 1), 5.0, dtype=np.float32)
    stop, failures, calls = threading.Event(), [], [0]

    def serve():
        while not stop.is_set():
            try:
                out = served.predict(["a", "b", "c"], windows, issued_at=time.time())
                assert out.shape == (3, 2) and np.isfinite(out).all()
                calls[0] += 1
            except Exception as exc:
                failures.append(exc)
            time.sleep(0.002)

    thread = threading.Thread(target=serve)
    thread.start()
    try:
        assert served.version == "1.0.0"
        registry.set_alias("load", "champion", "1.1.0", by="test", reason="roll out")
        assert wait_for(lambda: served.version == "1.1.0")
        before = calls[0]
        assert wait_for(lambda: calls[0] > before + 5)
    finally:
        stop.set()
        thread.join()
        served.close()
    assert not failures
    assert [(s.champion, s.ok) for s in served.swaps] == [("1.1.0", True)]
    assert served.champion.events[-1].to_version == "1.1.0"


def test_a_challenger_alias_starts_a_canary_and_pointing_it_back_ends_it(registry):
    served = ServedModel(registry, ModelRef("load"), poll_s=0.05).start()
    windows = np.full((2, 12, 1), 5.0, dtype=np.float32)
    try:
        assert served.challenger is None
        registry.set_alias("load", "challenger", "1.1.0", by="test")

        def challenger_taken():
            served.predict(["a", "b"], windows, issued_at=time.time())  # the serving thread takes it here
            return served.challenger is not None

        assert wait_for(challenger_taken)
        assert served.challenger.version == "1.1.0" and served.version == "1.0.0"
        registry.set_alias("load", "challenger", "1.0.0", by="test")  # rolled back by someone else

        def challenger_gone():
            served.predict(["a", "b"], windows, issued_at=time.time())
            return served.challenger is None

        assert wait_for(challenger_gone)
    finally:
        served.close()
    assert served.version == "1.0.0"


def test_promotion_of_the_challenger_reuses_its_session(registry):
    registry.set_alias("load", "challenger", "1.1.0", by="test")
    served = ServedModel(registry, ModelRef("load"), poll_s=0.05).start()
    try:
        challenger = served.challenger
        assert challenger is not None
        registry.set_alias("load", "champion", "1.1.0", by="test", reason="promoted elsewhere")
        assert wait_for(lambda: served.version == "1.1.0")
        assert served.champion.active is challenger.active  # not loaded a second time
    finally:
        served.close()


def test_a_broken_version_keeps_the_serving_one(registry):
    served = ServedModel(registry, ModelRef("load"), poll_s=0.05).start()
    try:
        blob = registry.root / "blobs" / "sha256" / registry.get("load", "1.2.0").blobs["model"]
        blob.write_bytes(b"tampered" + blob.read_bytes()[8:])
        registry.set_alias("load", "champion", "1.2.0", by="test")
        assert wait_for(lambda: bool(served.swaps))
        record = served.swaps[0]
        assert not record.ok and record.champion == "1.2.0" and "sha256" in record.reason
        assert served.version == "1.0.0"
        assert served.status()["swaps"][0]["ok"] is False
    finally:
        served.close()


def test_a_pinned_version_is_served_without_a_following_thread(registry):
    registry.set_alias("load", "challenger", "1.2.0", by="test")  # ignored: a pinned version runs no canary
    served = ServedModel(registry, ModelRef.parse("load@1.1.0"), poll_s=0.05).start()
    assert served.pinned and served.follower._thread is None  # nothing polls beside the serving thread
    registry.set_alias("load", "champion", "1.2.0", by="test")
    time.sleep(0.2)
    assert served.version == "1.1.0" and served.challenger is None
    f = served.forecast(["a"], np.full((1, 12, 1), 3.0, dtype=np.float32))
    assert f.version == "1.1.0" and f.values.shape == (1, 2)


def test_a_new_challenger_starts_a_fresh_comparison(registry):
    """The champion's forecasts from before the canary (every cell, unpaired) do not weigh in."""
    served = ServedModel(registry, ModelRef("load"), poll_s=0.05).start()
    windows = np.full((4, 12, 1), 5.0, dtype=np.float32)
    try:
        step = served.manifest.step_seconds
        for k in range(5):
            served.predict(["a", "b", "c", "d"], windows, issued_at=k * step)
            served.observe(["a", "b", "c", "d"], (k + 1) * step, np.full(4, 5.0))
        assert served.controller.scorer.score("1.0.0").scored > 0
        registry.set_alias("load", "challenger", "1.1.0", by="test")

        def taken():
            served.predict(["a", "b", "c", "d"], windows, issued_at=time.time())
            return served.challenger is not None

        assert wait_for(taken)
        assert served.controller.scorer.score("1.0.0").scored == 0
    finally:
        served.close()
