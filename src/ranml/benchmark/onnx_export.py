"""Torch → ONNX export used by the benchmark (and reused by ``ranml.export``).

Uses the TorchScript-based exporter with a dynamic batch axis and weights embedded in the graph
(no external ``.onnx.data`` file, so the model can be loaded from bytes).
"""

from __future__ import annotations

import io
import logging
import warnings
from typing import Any

import numpy as np

from ranml.errors import ModelError

__all__ = ["INPUT_NAME", "OPSET", "OUTPUT_NAME", "export_onnx"]

INPUT_NAME = "x"
OUTPUT_NAME = "y"
OPSET = 17

log = logging.getLogger("ranml.benchmark.export")


def export_onnx(module: Any, example: np.ndarray) -> bytes:
    """Export ``module`` to ONNX bytes with input ``x`` and output ``y`` (batch axis dynamic).

    Parameters
    ----------
    module
        A ``torch.nn.Module`` in eval mode.
    example
        One example batch (its shape fixes every axis except the first).

    Raises
    ------
    ModelError
        The exporter failed or the graph does not pass the ONNX checker.
    """
    import onnx
    import torch

    module.eval()
    buf = io.BytesIO()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(
                module,
                (torch.from_numpy(np.ascontiguousarray(example, dtype=np.float32)),),
                buf,  # type: ignore[arg-type]
                input_names=[INPUT_NAME],
                output_names=[OUTPUT_NAME],
                dynamic_axes={INPUT_NAME: {0: "batch"}, OUTPUT_NAME: {0: "batch"}},
                opset_version=OPSET,
                dynamo=False,
            )
    except Exception as exc:
        raise ModelError(f"ONNX export failed: {type(exc).__name__}: {exc}") from exc
    data = buf.getvalue()
    try:
        onnx.checker.check_model(onnx.load_from_string(data), full_check=True)
    except Exception as exc:
        raise ModelError(f"exported ONNX graph fails the checker: {exc}") from exc
    return data
