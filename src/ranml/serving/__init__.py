"""Serving: export with parity gates, a versioned registry (and, next, the in-process runtime).

This package never imports torch: :mod:`ranml.serving.export` imports the torch side lazily,
inside its functions. ``import ranml.serving`` is cheap.
"""

from ranml.serving.artefact import ModelManifest
from ranml.serving.registry import LocalRegistry, VersionRecord

__all__ = ["LocalRegistry", "ModelManifest", "VersionRecord"]
