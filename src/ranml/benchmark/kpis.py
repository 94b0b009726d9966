"""Deployability KPIs: latency, throughput, memory, parameters, FLOPs, model size.

Latency is measured at batch 1 after a warm-up on a single thread, both for the torch module (in
this process) and for its ONNX export in ONNX Runtime (in a fresh process, see
:mod:`ranml.benchmark._ort_probe`, which also measures throughput at batch 64 and peak memory).
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from ranml.errors import BenchmarkError

__all__ = ["count_flops", "count_params", "measure_onnx", "measure_torch_latency"]

log = logging.getLogger("ranml.benchmark.kpis")


def count_params(module: Any) -> int:
    """Number of parameters (trainable or not) of a torch module."""
    return int(sum(p.numel() for p in module.parameters()))


def count_flops(module: Any, example: np.ndarray) -> int:
    """Floating-point operations of one forward pass on ``example`` (multiply-add = 2 FLOPs).

    torch's ``FlopCounterMode`` counts matrix products, convolutions and attention (the forward
    runs with grad enabled so Transformer layers take their unfused path); recurrent
    layers (``nn.LSTM``/``nn.GRU``) run as fused kernels it does not see, so they are added
    analytically: ``2·gates·H·(I+H)`` per step, layer and direction.
    """
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    extra = 0

    def rnn_hook(mod: Any, inputs: tuple[Any, ...], _out: Any) -> None:
        nonlocal extra
        x = inputs[0]
        batch, steps = (x.shape[0], x.shape[1]) if mod.batch_first else (x.shape[1], x.shape[0])
        gates = 4 if isinstance(mod, torch.nn.LSTM) else 3
        dirs = 2 if mod.bidirectional else 1
        h = mod.hidden_size
        for layer in range(mod.num_layers):
            i = mod.input_size if layer == 0 else h * dirs
            extra += 2 * gates * h * (i + h) * steps * batch * dirs

    hooks = [m.register_forward_hook(rnn_hook) for m in module.modules()
             if isinstance(m, torch.nn.LSTM | torch.nn.GRU)]
    try:
        # Grad mode on: without it nn.TransformerEncoderLayer takes a fused "fast path" whose
        # matrix products the counter does not see.
        with torch.enable_grad(), FlopCounterMode(display=False) as counter:
            module(torch.from_numpy(np.ascontiguousarray(example, dtype=np.float32)))
    finally:
        for h in hooks:
            h.remove()
    return int(counter.get_total_flops()) + extra


def measure_torch_latency(module: Any, example: np.ndarray, calls: int = 1000,
                          warmup: int = 50, threads: int = 1) -> tuple[float, float]:
    """p50 and p99 latency in microseconds of ``module(example)`` at batch 1, single thread."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    x = torch.from_numpy(np.ascontiguousarray(example[:1], dtype=np.float32))
    lat = np.empty(calls)
    try:
        with torch.inference_mode():
            for _ in range(warmup):
                module(x)
            for i in range(calls):
                t0 = time.perf_counter_ns()
                module(x)
                lat[i] = time.perf_counter_ns() - t0
    finally:
        torch.set_num_threads(before)
    return float(np.percentile(lat, 50) / 1e3), float(np.percentile(lat, 99) / 1e3)


def measure_onnx(model_path: Path, input_shape: tuple[int, ...], calls: int = 1000, warmup: int = 50,
                 threads: int = 1, throughput_batch: int = 64, timeout_s: float = 300.0) -> dict[str, float]:
    """Measure an ONNX file in ONNX Runtime in a fresh Python process.

    Returns
    -------
    dict
        ``latency_p50_us``, ``latency_p99_us`` (batch 1), ``throughput_per_s`` (windows per second
        at ``throughput_batch``) and ``peak_memory_mb`` (high-water resident memory added by loading
        and running the model).
    """
    req = {"model": str(model_path), "input_shape": list(input_shape), "calls": calls,
           "warmup": warmup, "threads": threads, "throughput_batch": throughput_batch}
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as fh:
        json.dump(req, fh)
        req_path = fh.name
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "ranml.benchmark._ort_probe", req_path],
            capture_output=True, text=True, timeout=timeout_s, check=False,
            env={**_clean_env(), "OMP_NUM_THREADS": str(threads)},
        )
    except subprocess.TimeoutExpired:
        raise BenchmarkError(f"ONNX Runtime probe timed out after {timeout_s}s on {model_path}") from None
    finally:
        Path(req_path).unlink(missing_ok=True)
    if proc.returncode != 0:
        tail = proc.stderr.strip().splitlines()[-3:]
        raise BenchmarkError(f"ONNX Runtime probe failed on {model_path}: {' | '.join(tail)}")
    result: dict[str, float] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def _clean_env() -> dict[str, str]:
    import os

    return {k: v for k, v in os.environ.items() if not k.startswith("OMP_")}
