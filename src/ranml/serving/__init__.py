"""Serving: the versioned registry, the deadline-aware in-process runtime, hot swap and canary.

The online side's model layer: it never imports torch nor the offline packages (exporting a model
is :mod:`ranml.export`'s job). ``import ranml.serving`` is cheap.
"""

from ranml.serving.artefact import FORMATS, Lineage, ModelManifest, Parity, RuntimeChoice, ScalerSpec
from ranml.serving.canary import CanaryController, CanaryPolicy, Decision, RegistryAliases
from ranml.serving.follow import AliasFollower, ModelRef, ServedModel, SwapRecord
from ranml.serving.redis_registry import RedisRegistry
from ranml.serving.registries import open_registry
from ranml.serving.registry import BaseRegistry, LocalRegistry, VersionRecord
from ranml.serving.runtime import Forecast, Predictor
from ranml.serving.server import create_app
from ranml.serving.swap import ModelSlot, SwapEvent

__all__ = [
    "FORMATS",
    "AliasFollower",
    "BaseRegistry",
    "CanaryController",
    "CanaryPolicy",
    "Decision",
    "Forecast",
    "Lineage",
    "LocalRegistry",
    "ModelManifest",
    "ModelRef",
    "ModelSlot",
    "Parity",
    "Predictor",
    "RedisRegistry",
    "RegistryAliases",
    "RuntimeChoice",
    "ScalerSpec",
    "ServedModel",
    "SwapEvent",
    "SwapRecord",
    "VersionRecord",
    "create_app",
    "open_registry",
]
