"""ONNX Runtime through its C API: same answers as the Python binding, clear errors, no GIL while building."""

import ctypes
import sys
import threading
import time

import numpy as np
import pytest

ort = pytest.importorskip("onnxruntime", reason="the C API ships with the onnxruntime wheel")
onnx = pytest.importorskip("onnx", reason="the test builds its model with onnx.helper")

from onnx import TensorProto, helper, numpy_helper

from ranml.errors import RanmlError
from ranml.serving.ort_capi import native_runtime


def affine_model(n_in: int = 8, n_out: int = 3, layers: int = 1, seed: int = 0) -> bytes:
    """x[b, n_in] → layers × (MatMul + Add + Tanh) → y[b, n_out] (a dynamic batch axis)."""
    rng = np.random.default_rng(seed)
    nodes, inits, prev, width = [], [], "x", n_in
    for i in range(layers):
        out_w = n_out if i == layers - 1 else n_in
        inits += [numpy_helper.from_array(rng.normal(size=(width, out_w)).astype(np.float32), f"w{i}"),
                  numpy_helper.from_array(rng.normal(size=(out_w,)).astype(np.float32), f"b{i}")]
        nodes += [helper.make_node("MatMul", [prev, f"w{i}"], [f"m{i}"]),
                  helper.make_node("Add", [f"m{i}", f"b{i}"], [f"a{i}"])]
        last = i == layers - 1
        nodes.append(helper.make_node("Tanh", [f"a{i}"], ["y" if last else f"h{i}"]))
        prev, width = f"h{i}", out_w
    graph = helper.make_graph(nodes, "affine", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["b", n_in])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["b", n_out])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model.SerializeToString()


@pytest.fixture(scope="module")
def native():
    rt = native_runtime()
    if rt is None:
        pytest.skip("this onnxruntime wheel ships no C library next to its Python module")
    return rt


def test_runs_like_the_python_binding(native):
    model = affine_model()
    x = np.random.default_rng(1).normal(size=(4, 8)).astype(np.float32)
    expected = ort.InferenceSession(model, providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]
    session = native.create_session(model, threads=1, optimization="all")
    xb, yb = x.copy(), np.zeros((4, 3), dtype=np.float32)
    binding = session.bind("x", xb, "y", yb)
    binding.run()
    np.testing.assert_allclose(yb, expected, rtol=1e-6, atol=1e-6)
    xb[:] = 0.0  # the binding reads the buffer as it is at each run
    binding.run()
    bias = numpy_helper.to_array(onnx.load_from_string(model).graph.initializer[1])
    np.testing.assert_allclose(yb[0], np.tanh(bias), rtol=1e-6)
    session.close()


def test_errors_name_the_problem(native):
    with pytest.raises(RanmlError, match="cannot create a session"):
        native.create_session(b"not an onnx model")
    with pytest.raises(RanmlError, match="optimization must be one of"):
        native.create_session(affine_model(), optimization="max")
    session = native.create_session(affine_model())
    with pytest.raises(RanmlError, match="C-contiguous float32"):
        session.bind("x", np.zeros((1, 8)), "y", np.zeros((1, 3), dtype=np.float32))
    binding = session.bind("nope", np.zeros((1, 8), dtype=np.float32), "y", np.zeros((1, 3), dtype=np.float32))
    with pytest.raises(RanmlError, match="run failed"):
        binding.run()


def test_session_build_leaves_the_gil_to_other_threads(native):
    # With a long switch interval nothing pre-empts a thread that holds the GIL: the spinning
    # thread advances during the build only if the build runs without it. The spinner yields now
    # and then so that the main thread gets the GIL back promptly afterwards.
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1.0)
    try:
        model = affine_model(n_in=256, layers=40)
        counter, stop, running = [0], threading.Event(), threading.Event()

        def spin():
            running.set()
            while not stop.is_set():
                counter[0] += 1
                if counter[0] % 1000 == 0:
                    time.sleep(0)

        t = threading.Thread(target=spin)
        t.start()
        running.wait()
        before = counter[0]
        native.create_session(model, optimization="all")
        during = counter[0] - before
        stop.set()
        t.join()
    finally:
        sys.setswitchinterval(interval)
    assert during > 0


def log_model(n: int = 4) -> bytes:
    """y = log(x) over [1, n]: a negative input gives a NaN output."""
    graph = helper.make_graph([helper.make_node("Log", ["x"], ["y"])], "log",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, n])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, n])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model.SerializeToString()


@pytest.fixture(scope="module")
def compiled():
    return pytest.importorskip("ranml.serving._native",
                               reason="the compiled one-row call is built by `pip install` (needs a C compiler)")


def packed_maps(rng, nx: int, ny: int) -> tuple[np.ndarray, ...]:
    a, b = rng.normal(size=(1, nx)).astype(np.float32), rng.normal(size=(1, nx)).astype(np.float32)
    s, t = rng.normal(size=(1, ny)).astype(np.float32), rng.normal(size=(1, ny)).astype(np.float32)
    return a, b, s, t, np.concatenate([m.ravel() for m in (a, b, s, t)])


def test_one_row_call_is_the_numpy_path_in_one_call(native, compiled):
    rng = np.random.default_rng(3)
    model = affine_model()
    session = native.create_session(model)
    xb, yb = np.zeros((1, 8), dtype=np.float32), np.zeros((1, 3), dtype=np.float32)
    binding = session.bind("x", xb, "y", yb)
    call = binding.one_row_call()
    assert call is not None
    a, b, s, t, maps = packed_maps(rng, 8, 3)
    ref = ort.InferenceSession(model, providers=["CPUExecutionProvider"])
    for _ in range(5):
        w = rng.normal(size=(1, 8)).astype(np.float32)
        out = call(w, maps)
        assert isinstance(out, np.ndarray) and out.dtype == np.float32 and out.shape == (1, 3)
        assert out is not yb and not np.shares_memory(out, yb)  # the caller keeps it: a new array
        x = w * a + b  # numpy rounds products and sums separately; so does the compiled call
        np.testing.assert_array_equal(xb, x)
        np.testing.assert_array_equal(out, yb * s + t)
        np.testing.assert_allclose(yb, ref.run(None, {"x": x})[0], rtol=1e-6, atol=1e-6)
    # The call keeps the binding and the session alive.
    w = rng.normal(size=(1, 8)).astype(np.float32)
    expected = call(w, maps)
    del binding, session
    import gc

    gc.collect()
    np.testing.assert_array_equal(call(w, maps), expected)


def test_one_row_call_reports_what_it_cannot_answer(native, compiled):
    session = native.create_session(log_model())
    xb, yb = np.zeros((1, 4), dtype=np.float32), np.zeros((1, 4), dtype=np.float32)
    call = session.bind("x", xb, "y", yb).one_row_call()
    assert call is not None
    ones, zeros = np.ones(4, dtype=np.float32), np.zeros(4, dtype=np.float32)
    maps = np.concatenate([ones, zeros, ones, zeros])
    np.testing.assert_allclose(call(np.full((1, 4), np.e, dtype=np.float32), maps), np.ones((1, 4)), rtol=1e-6)
    gap = np.array([[1.0, np.nan, 2.0, 3.0]], dtype=np.float32)
    assert call(gap, maps) == compiled.NONFINITE_INPUT
    np.testing.assert_array_equal(yb, np.ones((1, 4)))  # not run
    assert call(np.array([[1.0, -1.0, 2.0, 3.0]], dtype=np.float32), maps) == compiled.NONFINITE_OUTPUT
    # Windows the compiled call does not take go back to the caller's numpy path.
    assert call(np.ones((1, 4)), maps) == compiled.NOT_FAST  # float64
    assert call(np.ones((4, 2), dtype=np.float32)[:, :1].T, maps) == compiled.NOT_FAST  # not contiguous
    assert call(np.ones((1, 5), dtype=np.float32), maps) == compiled.NOT_FAST  # another size
    with pytest.raises(TypeError, match="maps must be a C-contiguous float32 array of 16 values"):
        call(np.ones((1, 4), dtype=np.float32), maps[:8])
    with pytest.raises(TypeError, match="two arguments"):
        call(np.ones((1, 4), dtype=np.float32))  # type: ignore[call-arg]
    broken = native.create_session(log_model()).bind("nope", np.zeros((1, 4), dtype=np.float32), "y",
                                                     np.zeros((1, 4), dtype=np.float32)).one_row_call()
    assert broken is not None
    with pytest.raises(RuntimeError, match="ONNX Runtime run failed: .*nope"):
        broken(np.ones((1, 4), dtype=np.float32), maps)


def test_session_built_on_a_native_thread_never_takes_the_gil(native, compiled):
    model = affine_model(layers=20)  # a build of a few ms
    interval = sys.getswitchinterval()
    sys.setswitchinterval(100.0)  # nothing pre-empts this thread: a build needing the GIL could not end
    try:
        pending = native.start_build(model, threads=1, optimization="all")
        assert pending is not None
        spins, give_up = 0, time.perf_counter() + 20.0
        while not pending.done() and time.perf_counter() < give_up:
            spins += 1  # pure Python, never releasing the GIL
        assert pending.done(), "the build did not finish while this thread held the GIL"
    finally:
        sys.setswitchinterval(interval)
    assert spins > 0
    session = pending.session()
    xb, yb = np.ones((1, 8), dtype=np.float32), np.zeros((1, 3), dtype=np.float32)
    session.bind("x", xb, "y", yb).run()
    expected = ort.InferenceSession(model, providers=["CPUExecutionProvider"]).run(None, {"x": xb})[0]
    np.testing.assert_allclose(yb, expected, rtol=1e-6, atol=1e-6)
    with pytest.raises(RanmlError, match="already handed over"):
        pending.session()


def test_native_thread_build_errors_and_abandoned_builds(native, compiled):
    with pytest.raises(RanmlError, match="cannot create a session: .*protobuf"):
        native.start_build(b"not an onnx model").session()  # waits for the build, then reports it
    with pytest.raises(RanmlError, match="optimization must be one of"):
        native.start_build(affine_model(), optimization="max")
    for _ in range(5):  # dropped while building: the object waits for its thread and frees the session
        native.start_build(affine_model(layers=20))
    build = compiled.NativeBuild(native.api_address, native.env.value, native._options(1, "off").value,
                                 affine_model())
    with pytest.raises(RuntimeError, match="not started"):
        build.result()
    build.start()
    with pytest.raises(RuntimeError, match="started once"):
        build.start()
    from ranml.serving.ort_capi import NativeSession

    NativeSession(native, ctypes.c_void_p(build.result())).close()
