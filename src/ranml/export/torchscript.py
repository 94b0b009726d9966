"""TorchScript export (traced) and its dynamic-int8 variant, kept in one small module.

``torch.jit`` and ``torch.ao.quantization`` announce their deprecation in torch 2.13; everything
that touches them lives here, so replacing them later touches one file. Imports torch lazily.
"""

from __future__ import annotations

import io
import warnings
from typing import Any

import numpy as np

from ranml.errors import ExportError

__all__ = ["load_torchscript", "to_torchscript"]


def to_torchscript(module: Any, example: np.ndarray, int8: bool = False) -> bytes:
    """Trace ``module`` on ``example`` (optionally after dynamic int8 quantization) and serialise it.

    Dynamic quantization covers ``nn.Linear``, ``nn.LSTM`` and ``nn.GRU`` weights; other layers stay
    in float32.
    """
    import torch

    module = module.eval()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            if int8:
                module = torch.ao.quantization.quantize_dynamic(
                    module, {torch.nn.Linear, torch.nn.LSTM, torch.nn.GRU}, dtype=torch.qint8)
            traced = torch.jit.trace(module, torch.from_numpy(np.ascontiguousarray(example)), check_trace=False)
            buf = io.BytesIO()
            torch.jit.save(traced, buf)
        except Exception as exc:
            raise ExportError(f"TorchScript export failed: {type(exc).__name__}: {exc}") from exc
    return buf.getvalue()


def load_torchscript(data: bytes) -> Any:
    """Load a serialised TorchScript module (CPU, eval mode)."""
    import torch

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        module = torch.jit.load(io.BytesIO(data), map_location="cpu")
    return module.eval()
