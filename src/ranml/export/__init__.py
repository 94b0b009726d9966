"""Export a trained model for serving (offline side): ONNX fp32/int8 and TorchScript, with parity gates.

It imports torch and the benchmark harness lazily, inside its functions, and writes nothing itself:
an :class:`ExportResult` (files and manifest) goes to a :mod:`ranml.serving` registry, which stores
it atomically.
"""

from ranml.export.model import ExportGates, ExportResult, export_from_run, export_model

__all__ = ["ExportGates", "ExportResult", "export_from_run", "export_model"]
