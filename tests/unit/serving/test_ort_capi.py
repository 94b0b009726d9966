"""ONNX Runtime through its C API: same answers as the Python binding, clear errors, no GIL while building."""

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
