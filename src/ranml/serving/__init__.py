"""Serving: the versioned registry, the deadline-aware in-process runtime, hot swap and canary.

The online side's model layer: it never imports torch nor the offline packages (exporting a model
is :mod:`ranml.export`'s job). ``import ranml.serving`` is cheap.
"""

from ranml.serving.artefact import ModelManifest
from ranml.serving.canary import CanaryController, CanaryPolicy, Decision, RegistryAliases
from ranml.serving.follow import AliasFollower, ModelRef, ServedModel, SwapRecord
from ranml.serving.redis_registry import RedisRegistry
from ranml.serving.registries import open_registry
from ranml.serving.registry import BaseRegistry, LocalRegistry, VersionRecord
from ranml.serving.runtime import Forecast, Predictor
from ranml.serving.swap import ModelSlot, SwapEvent

__all__ = [
    "AliasFollower",
    "BaseRegistry",
    "CanaryController",
    "CanaryPolicy",
    "Decision",
    "Forecast",
    "LocalRegistry",
    "ModelManifest",
    "ModelRef",
    "ModelSlot",
    "Predictor",
    "RedisRegistry",
    "RegistryAliases",
    "ServedModel",
    "SwapEvent",
    "SwapRecord",
    "VersionRecord",
    "open_registry",
]
