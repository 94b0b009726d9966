"""ranml: from an offline forecasting benchmark to a running O-RAN app.

Importing ``ranml`` is cheap: it imports neither torch nor ONNX Runtime nor RMR.
Subpackages are imported explicitly (``ranml.benchmark``, ``ranml.serving``, ...).
"""

from ranml.errors import RanmlError

__all__ = ["RanmlError", "__version__"]
__version__ = "0.1.0"
