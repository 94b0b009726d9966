"""Serving: export with parity gates, a versioned registry, the deadline-aware in-process runtime.

This package never imports torch: :mod:`ranml.serving.export` imports the torch side lazily,
inside its functions. ``import ranml.serving`` is cheap.
"""

from ranml.serving.artefact import ModelManifest
from ranml.serving.redis_registry import RedisRegistry
from ranml.serving.registry import BaseRegistry, LocalRegistry, VersionRecord, open_registry
from ranml.serving.runtime import Forecast, Predictor

__all__ = [
    "BaseRegistry",
    "Forecast",
    "LocalRegistry",
    "ModelManifest",
    "Predictor",
    "RedisRegistry",
    "VersionRecord",
    "open_registry",
]
