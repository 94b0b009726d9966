"""Canary and shadow serving scored on real outcomes; hot swap under load."""

import threading
import time

import numpy as np
import pytest

pytest.importorskip("torch", reason="the test exports models with torch")
pytest.importorskip("onnxruntime", reason="the runtime needs onnxruntime")

import torch

from ranml.benchmark.models import ModelShape, TrainSettings, build_model
from ranml.benchmark.windows import WindowSpec, make_windows
from ranml.errors import RanmlError
from ranml.export import ExportGates, export_model
from ranml.serving.canary import CanaryController, CanaryPolicy, in_canary
from ranml.serving.runtime import Predictor
from ranml.serving.scoring import OnlineScorer
from ranml.serving.swap import ModelSlot
from ranml.telemetry import generate


@pytest.fixture(scope="module")
def data():
    return make_windows(generate(cells=8, days=12, step="1h", seed=4),
                        WindowSpec(input_steps=24, horizon=2, max_train_windows=1500, split={"train": 0.6, "val": 0.1}))


def predictor(data, name, version, epochs=0, degrade=0.0, **params):
    shape = ModelShape(24, 2, int(data.x["train"].shape[-1]), 0, 24)
    model = build_model(name, shape, **params)
    model.fit(data.x["train"], data.y["train"], data.x["val"], data.y["val"],
              TrainSettings(epochs=max(epochs, 1), lr=1e-2, patience=epochs + 1))
    if degrade:
        with torch.no_grad():
            for p in model.torch_module().parameters():
                p.add_(degrade * torch.randn_like(p))
    r = export_model(model, data, name, "onnx", ExportGates(windows=32))
    return Predictor(r.files["model"], r.manifest, version).start()


def stream(data):
    """(issued_at, cells, raw windows, actuals at the first target time), in time order."""
    x, y = data.x["test"], data.actual("test")
    cells_idx = data.cell["test"]
    shift, scale = data.scaler.shift[cells_idx], data.scaler.scale[cells_idx]
    raw = x.astype(np.float64).copy()
    k = shift.shape[1]
    raw[:, :, :k] = x[:, :, :k] * scale[:, None, :] + shift[:, None, :]
    times = data.time["test"].astype("datetime64[s]").astype(np.int64)
    step = 3600
    for t in np.unique(times):
        sel = np.flatnonzero(times == t)
        yield float(t - step), [data.cells[c] for c in cells_idx[sel]], raw[sel].astype(np.float32), y[sel, 0], float(t)


def run_stream(ctl, data):
    decision = None
    for issued, cells, windows, actual, at in stream(data):
        ctl.predict(cells, windows, issued_at=issued)
        decision = ctl.observe(cells, at, actual)
        if decision.action != "wait":
            return decision
    return decision


def test_better_challenger_is_promoted(data):
    champion = predictor(data, "persistence", "1.0.0")
    challenger = predictor(data, "nlinear", "1.1.0", epochs=15)
    seen = []
    ctl = CanaryController(champion, challenger, CanaryPolicy(fraction=0.5, min_scored=60, margin_pct=2.0),
                           on_decision=seen.append)
    decision = run_stream(ctl, data)
    assert decision.action == "promote", decision
    assert decision.evidence["challenger_mae"] < decision.evidence["champion_mae"]
    assert ctl.champion.version == "1.1.0" and ctl.challenger is None and seen == [decision]


def test_worse_challenger_is_rolled_back(data):
    champion = predictor(data, "nlinear", "1.1.0", epochs=15)
    challenger = predictor(data, "nlinear", "1.2.0", epochs=15, degrade=0.3)
    ctl = CanaryController(champion, challenger, CanaryPolicy(fraction=0.5, min_scored=60))
    decision = run_stream(ctl, data)
    assert decision.action == "rollback" and "above" in decision.reason
    assert ctl.champion.version == "1.1.0" and ctl.challenger is None


def test_shadow_mode_answers_with_champion_and_scores_both(data):
    champion = predictor(data, "persistence", "1.0.0")
    challenger = predictor(data, "nlinear", "1.1.0", epochs=15)
    ctl = CanaryController(champion, challenger, CanaryPolicy(mode="shadow", min_scored=10_000))
    issued, cells, windows, actual, at = next(stream(data))
    out = ctl.predict(cells, windows, issued_at=issued)
    np.testing.assert_array_equal(out, champion.predict(cells, windows).values)
    ctl.observe(cells, at, actual)
    assert ctl.scorer.score("1.0.0").scored == ctl.scorer.score("1.1.0").scored == len(cells)


def test_failing_challenger_is_rolled_back_at_once(data, monkeypatch):
    champion = predictor(data, "persistence", "1.0.0")
    challenger = predictor(data, "nlinear", "1.1.0", epochs=1)
    monkeypatch.setattr(challenger, "_execute", lambda bound: bound.y.fill(np.nan))
    ctl = CanaryController(champion, challenger, CanaryPolicy(fraction=1.0))
    issued, cells, windows, _, _ = next(stream(data))
    out = ctl.predict(cells, windows, issued_at=issued)
    assert np.isfinite(out).all()  # the caller got fallbacks, not NaN
    assert ctl.events and ctl.events[0].action == "rollback" and "non-finite" in ctl.events[0].reason


def test_canary_share_is_sticky_and_close_to_the_fraction():
    cells = [str(i) for i in range(5000)]
    share = np.mean([in_canary(c, 0.2) for c in cells])
    assert 0.17 < share < 0.23
    assert [in_canary(c, 0.2) for c in cells[:50]] == [in_canary(c, 0.2) for c in cells[:50]]
    assert in_canary("7", 0.2, salt="a") in (True, False)


def test_scorer_matches_targets_per_step():
    s = OnlineScorer(horizon=2, step_s=60)
    s.record("v1", "c", issued_at=0, values=np.array([1.0, 2.0]))
    assert s.observe("c", 60, 1.5) == 1 and s.observe("c", 120, 2.0) == 1
    score = s.score("v1")
    assert score.scored == 2 and score.per_step_mae == [0.5, 0.0] and score.mae == 0.25
    assert s.observe("c", 180, 1.0) == 0 and s.score("v2").scored == 0


def test_hot_swap_under_load_fails_no_call(data):
    first = predictor(data, "nlinear", "1.0.0", epochs=1)
    slot = ModelSlot(first).start()
    _, cells, windows, _, _ = next(stream(data))
    stop = threading.Event()
    failures, answered, versions = [], [0], set()

    def load():
        deadline = time.monotonic() + 20
        while not stop.is_set() and time.monotonic() < deadline:
            f = slot.predict(cells, windows)
            if f.fallback or not np.isfinite(f.values).all():
                failures.append(f.reason)
            answered[0] += 1
            versions.add(f.version)

    t = threading.Thread(target=load)
    t.start()
    try:
        for v in ("1.1.0", "1.2.0", "1.3.0"):
            nxt = Predictor(first._model, first.manifest, v)
            slot.swap_in_background(nxt).result(timeout=30)
            before = answered[0]
            while answered[0] < before + 20:
                time.sleep(0.001)
    finally:
        stop.set()
        t.join(timeout=30)
    assert failures == [] and answered[0] > 60
    assert slot.active.version == "1.3.0" and {"1.0.0", "1.3.0"} <= versions
    assert [e.to_version for e in slot.events] == ["1.1.0", "1.2.0", "1.3.0"]


def test_decisions_move_registry_aliases(data, tmp_path):
    from ranml.serving import LocalRegistry
    from ranml.serving.canary import Decision, RegistryAliases

    reg = LocalRegistry(tmp_path / "reg")
    for _ in range(2):
        reg.register("m", {"model": b"x"}, {})
    reg.set_alias("m", "champion", "1.0.0")
    reg.set_alias("m", "challenger", "1.1.0")
    apply = RegistryAliases(reg, "m")
    apply(Decision("rollback", "worse", {"champion": "1.0.0", "challenger": "1.1.0"}))
    assert reg.aliases("m") == {"champion": "1.0.0", "challenger": "1.0.0"}
    apply(Decision("promote", "better by 5%", {"champion": "1.0.0", "challenger": "1.1.0"}))
    assert reg.aliases("m")["champion"] == "1.1.0"
    last = reg.history("m", "champion")[-1]
    assert last["by"] == "canary" and last["reason"] == "better by 5%"


def serve_with_idle(slot, cells, windows, stop, answered, failures, call_idle=lambda: True):
    """A serving loop at ~500 Hz that hands its slack to ``slot.idle`` while it waits."""
    while not stop.is_set():
        f = slot.predict(cells, windows)
        if f.fallback:
            failures.append(f.reason)
        answered.append((f.version, threading.get_ident()))
        until = time.perf_counter() + 0.002
        while time.perf_counter() < until:
            if call_idle():
                slot.idle(until)


def test_swap_is_finished_by_the_loop_in_its_idle_time(data):
    first = predictor(data, "nlinear", "1.0.0", epochs=1)
    slot = ModelSlot(first).start()
    _, cells, windows, _, _ = next(stream(data))
    stop, answered, failures = threading.Event(), [], []
    activated_in = []
    original = ModelSlot._activate

    def spy(self, new, t0):
        activated_in.append(threading.get_ident())
        return original(self, new, t0)

    loop = threading.Thread(target=serve_with_idle, args=(slot, cells, windows, stop, answered, failures))
    ModelSlot._activate = spy
    try:
        loop.start()
        while not answered:
            time.sleep(0.001)
        event = slot.swap(Predictor(first._model, first.manifest, "1.1.0"))
        n = len(answered)
        while len(answered) < n + 20:
            time.sleep(0.001)
    finally:
        ModelSlot._activate = original
        stop.set()
        loop.join(timeout=30)
    assert event.to_version == "1.1.0" and slot.active.version == "1.1.0" and failures == []
    assert activated_in == [loop.ident]  # made active by the serving loop itself, between two calls
    assert answered[-1][0] == "1.1.0"


def test_swap_completes_when_the_loop_stops_calling_idle(data):
    first = predictor(data, "nlinear", "1.0.0", epochs=1)
    slot = ModelSlot(first).start()
    _, cells, windows, _, _ = next(stream(data))
    slot.idle(time.perf_counter())  # the loop called idle() once, then never again
    event = slot.swap(Predictor(first._model, first.manifest, "1.1.0"))
    assert event.to_version == "1.1.0" and not slot.predict(cells, windows).fallback


def test_broken_version_prepared_in_idle_time_leaves_the_old_one(data, monkeypatch):
    first = predictor(data, "nlinear", "1.0.0", epochs=1)
    slot = ModelSlot(first).start()
    _, cells, windows, _, _ = next(stream(data))
    broken = Predictor(first._model, first.manifest, "1.1.0")
    monkeypatch.setattr(broken, "_binding", lambda n: (_ for _ in ()).throw(RuntimeError("no memory for buffers")))
    stop, answered, failures = threading.Event(), [], []
    loop = threading.Thread(target=serve_with_idle, args=(slot, cells, windows, stop, answered, failures))
    loop.start()
    try:
        while not answered:
            time.sleep(0.001)
        with pytest.raises(RuntimeError, match="no memory for buffers"):
            slot.swap(broken)
        n = len(answered)
        while len(answered) < n + 10:
            time.sleep(0.001)
    finally:
        stop.set()
        loop.join(timeout=30)
    assert slot.active.version == "1.0.0" and failures == [] and answered[-1][0] == "1.0.0"


def test_submitted_version_is_prepared_and_released_by_the_loop_alone(data):
    """submit(): no other thread — the loop's idle() builds, warms, activates, then frees the old one."""
    import weakref

    first = predictor(data, "nlinear", "1.0.0", epochs=1)
    slot = ModelSlot(first).start()
    _, cells, windows, _, _ = next(stream(data))
    old = weakref.ref(first)
    del first
    new = Predictor(slot.active._model, slot.active.manifest, "1.1.0")
    future = slot.submit(new)
    with pytest.raises(RanmlError, match="swap is in progress"):
        slot.submit(Predictor(new._model, new.manifest, "1.2.0"))
    answered, failures = [], []
    for _ in range(400):  # a loop with 5 ms of slack per call, in this thread only
        f = slot.predict(cells, windows)
        answered.append(f.version)
        failures += [f.reason] if f.fallback else []
        until = time.perf_counter() + 0.005
        while time.perf_counter() < until:
            slot.idle(until)
        if future.done() and old() is None:
            break
    answered.append(slot.predict(cells, windows).version)
    event = future.result(timeout=0)
    assert event.from_version == "1.0.0" and event.to_version == "1.1.0" and failures == []
    assert slot.active is new and answered[0] == "1.0.0" and answered[-1] == "1.1.0"
    assert old() is None  # the swapped-out version was released by an idle() call (no collector needed)
    with pytest.raises(RanmlError, match="already started"):
        slot.submit(new)


def test_submitted_build_in_the_loop_waits_for_enough_slack(data):
    """Without a native build thread (here: the Python binding) the build runs in one idle() call."""
    first = predictor(data, "nlinear", "1.0.0", epochs=1)
    slot = ModelSlot(first).start()
    new = Predictor(first._model, first.manifest, "1.1.0", engine="python")
    assert not new.builds_off_thread()
    future = slot.submit(new)
    for _ in range(50):  # slack far below any session build: nothing runs
        slot.idle(time.perf_counter() + 20e-6)
    assert not future.done() and slot.active.version == "1.0.0" and slot.active.build_s is not None
    slot.idle(time.perf_counter() + 1.0)  # a long pause: everything fits
    assert future.result(timeout=0).to_version == "1.1.0"


def test_submitted_build_runs_on_a_native_thread_while_the_loop_keeps_its_slack(data):
    """With the compiled helpers idle() only polls the build: no step waits for it, no Python thread starts."""
    first = predictor(data, "nlinear", "1.0.0", epochs=1)
    new = Predictor(first._model, first.manifest, "1.1.0")
    if not new.builds_off_thread():
        pytest.skip("needs the C-API engine and the compiled helpers (ranml.serving._native, built by pip install)")
    slot = ModelSlot(first).start()
    _, cells, windows, _, _ = next(stream(data))
    for _ in range(20):
        slot.predict(cells, windows)
    threads = threading.active_count()
    future = slot.submit(new)
    calls, returned_while_building = 0, 0
    deadline = time.perf_counter() + 10.0
    while not future.done() and time.perf_counter() < deadline:
        slot.idle(time.perf_counter() + 700e-6)  # a 1 kHz loop's slack
        calls += 1
        returned_while_building += new.build_s is None  # set once the built session is collected
        assert threading.active_count() == threads  # the build thread is not a Python thread
        slot.predict(cells, windows)
    assert future.result(timeout=0).to_version == "1.1.0" and slot.active is new
    # The first idle() started the build and returned at once: the loop never waited for it.
    assert returned_while_building >= 1 and calls > returned_while_building


@pytest.mark.parametrize("off_thread", [False, True], ids=["build-on-swapping-thread", "build-on-native-thread"])
def test_swapping_thread_builds_right_after_a_call_and_the_loop_frees_the_old_version(data, off_thread):
    """The old version is released by the loop's idle(); a build on the swapping thread starts after a call.

    ``off_thread``: the compiled helpers build the session on a native thread, polled by the loop
    (the swapping thread only waits); else the swapping thread builds it through ctypes.
    """
    import weakref

    first = predictor(data, "nlinear", "1.0.0", epochs=1)
    slot = ModelSlot(first, idle_wait_s=5.0).start()  # waits for the next call even on a stalled machine
    _, cells, windows, _, _ = next(stream(data))
    released_in: list[int] = []
    weakref.finalize(first, lambda: released_in.append(threading.get_ident()))
    new = Predictor(first._model, first.manifest, "1.1.0")
    del first
    if off_thread and not new.builds_off_thread():
        pytest.skip("needs the C-API engine and the compiled helpers (ranml.serving._native, built by pip install)")
    new.builds_off_thread = lambda: off_thread
    build_started: list[float] = []

    def steps_spy(between=None, cells=(), build_off_thread=False):
        inner = Predictor.start_steps(new, between, cells, build_off_thread)
        build_started.append(time.perf_counter())  # runs at the first step: the session build
        yield from inner

    new.start_steps = steps_spy
    calls_ended: list[float] = []
    stop = threading.Event()

    def sparse_loop():  # one call every 30 ms, idle() in between
        while not stop.is_set():
            slot.predict(cells, windows)
            calls_ended.append(time.perf_counter())
            until = time.perf_counter() + 0.03
            while time.perf_counter() < until and not stop.is_set():
                slot.idle(until)

    loop = threading.Thread(target=sparse_loop)
    loop.start()
    try:
        while not calls_ended:
            time.sleep(0.001)
        time.sleep(0.005)  # the swap is asked for between two calls
        asked = time.perf_counter()
        event = slot.swap(new)
        deadline = time.monotonic() + 10
        while not released_in and time.monotonic() < deadline:
            time.sleep(0.001)
    finally:
        stop.set()
        loop.join(timeout=30)
    assert event.to_version == "1.1.0" and slot.active is new
    assert released_in == [loop.ident]  # freed in the serving thread's slack, not by the swapping thread
    if not off_thread:
        # The build waited for the next call to end rather than starting at once, mid-slack or mid-call.
        assert any(asked < end <= build_started[0] for end in calls_ended)


def test_swapping_thread_is_woken_only_when_the_loop_has_room_for_it(data):
    """A swap made active in idle() is reported (waking the swapping thread) only with slack to spare."""
    first = predictor(data, "nlinear", "1.0.0", epochs=1)
    slot = ModelSlot(first).start()
    _, cells, windows, _, _ = next(stream(data))
    new = Predictor(first._model, first.manifest, "1.1.0")
    for _ in range(100):  # the loop has been serving: its calls size the preparation steps
        slot.predict(cells, windows)
    slot.idle(time.perf_counter())
    future = slot.swap_in_background(new)
    t_end = time.perf_counter() + 0.5
    while time.perf_counter() < t_end:  # 0.38 ms of slack: room for a step, not for waking a thread (0.4 ms)
        slot.predict(cells, windows)
        slot.idle(time.perf_counter() + 380e-6)
    assert slot.active is new and not future.done()
    t_end = time.perf_counter() + 5
    while not future.done() and time.perf_counter() < t_end:  # 5 ms of slack
        slot.predict(cells, windows)
        until = time.perf_counter() + 0.005
        while time.perf_counter() < until:
            slot.idle(until)
    assert future.result(timeout=0).to_version == "1.1.0"


def feed_pairs(ctl, errors_a, errors_b, cells=("c1", "c2", "c3")):
    """Score champion and challenger on the same steps with the given absolute errors (actual 0)."""
    step = ctl.scorer.step_s
    h = ctl.scorer.horizon
    decision = None
    for i, (ea, eb) in enumerate(zip(errors_a, errors_b, strict=True)):
        cell = cells[i % len(cells)]
        t = (i // len(cells)) * step
        ctl.scorer.record(ctl.champion.version, cell, t - step, np.full(h, ea))
        ctl.scorer.record(ctl.challenger.version, cell, t - step, np.full(h, eb))
        ctl.scorer.observe(cell, t, 0.0)
        decision = ctl.decide()
        if decision.action != "wait":
            break
    return decision


def test_scorer_pairs_steps_and_takes_the_standard_error_from_batch_means():
    scorer = OnlineScorer(horizon=1, step_s=60.0)
    for i in range(40):
        scorer.record("a", "c", i * 60.0, np.array([1.0 + (i % 2)]))  # errors 1, 2, 1, 2, ...
        scorer.record("b", "c", i * 60.0, np.array([0.5]))
        scorer.record("c-only", "x", i * 60.0, np.array([0.0]))  # another cell: never paired with a or b
        scorer.observe("c", (i + 1) * 60.0, 0.0)
    p = scorer.paired("a", "b")
    assert p.pairs == 40 and p.mean_a == pytest.approx(1.5) and p.mean_b == pytest.approx(0.5)
    assert p.mean_diff == pytest.approx(1.0) and p.stderr == pytest.approx(0.0) and p.z == float("inf")
    q = scorer.paired("b", "a")  # the other way round
    assert q.mean_diff == pytest.approx(-1.0) and q.z == float("-inf")
    assert scorer.paired("a", "c-only").pairs == 0 and np.isnan(scorer.paired("a", "c-only").z)


def test_a_difference_within_the_noise_waits_and_a_clear_one_decides(data):
    champion = predictor(data, "nlinear", "1.0.0", epochs=1)
    challenger = Predictor(champion._model, champion.manifest, "1.1.0").start()
    n, block, episodes = 900, 6, 10
    # Equal on average: each is far off for a few steps now and then (a cell waking up), ten
    # times each, at random; whoever is hit first looks much worse after the first steps.
    rng = np.random.default_rng(7)
    order = rng.permutation(n // block)
    hit_a, hit_b = np.zeros(n // block, dtype=bool), np.zeros(n // block, dtype=bool)
    hit_a[order[:episodes]] = True
    hit_b[order[episodes : 2 * episodes]] = True
    noisy_a, noisy_b = 1.0 + 20.0 * np.repeat(hit_a, block), 1.0 + 20.0 * np.repeat(hit_b, block)
    eager = CanaryController(champion, challenger, CanaryPolicy(fraction=1.0, min_scored=120, confidence_z=0))
    assert feed_pairs(eager, noisy_a, noisy_b).action != "wait"  # without the noise test: the first episodes decide
    careful = CanaryController(champion, challenger, CanaryPolicy(fraction=1.0, min_scored=120))
    d = feed_pairs(careful, noisy_a, noisy_b)
    assert d.action == "wait" and careful.events == [] and careful.challenger is challenger
    base = rng.uniform(0.5, 1.5, size=n)
    clear = CanaryController(champion, challenger, CanaryPolicy(fraction=1.0, min_scored=120))
    d = feed_pairs(clear, base, base * rng.uniform(0.8, 0.95, size=n))
    assert d.action == "promote" and d.evidence["paired_z"] >= 2.0 and d.evidence["paired_steps"] >= 120


def test_a_decided_version_is_forgotten_by_the_scorer(data):
    """A long-running app sees a new version per canary: the one that lost leaves nothing behind."""
    champion = predictor(data, "nlinear", "1.0.0", epochs=1)
    challenger = Predictor(champion._model, champion.manifest, "1.1.0").start()
    ctl = CanaryController(champion, challenger, CanaryPolicy(fraction=1.0, min_scored=120))
    rng = np.random.default_rng(5)
    base = rng.uniform(0.5, 1.5, size=600)
    ctl.scorer.record("1.1.0", "c9", 10**6, np.ones(ctl.scorer.horizon))  # still waiting for its actual
    d = feed_pairs(ctl, base * 1.3, base)
    assert d.action == "promote" and ctl.champion is challenger
    assert ctl.scorer.score("1.0.0").scored == 0 and ctl.scorer.paired("1.0.0", "1.1.0").pairs == 0
    assert ctl.scorer.score("1.1.0").scored > 0  # the new champion keeps its record
    ctl.scorer.forget("1.1.0")
    assert ctl.scorer.observe("c9", 10**6 + ctl.scorer.step_s, 0.0) == 0  # its pending forecasts went too
