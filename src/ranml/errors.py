"""The exception tree of ranml.

Every error ranml raises on purpose derives from :class:`RanmlError`::

    RanmlError
    ├── ConfigError            a config file or value is wrong (names the field path and the file)
    ├── DataError              telemetry is unusable (names the cell/column and the fix)
    ├── ModelError             a model cannot be built, trained or used
    │   ├── UnknownModelError  a model name is not in the zoo (lists the valid ones)
    │   └── ExportError        export failed or a parity gate did not pass (nothing was written)
    ├── BenchmarkError         a benchmark run cannot proceed (results folder, backend)
    ├── RegistryError          a registry operation is invalid or an artefact fails verification
    ├── DeployError            a chart, site file or Kubernetes rollout is wrong (names the field/object)
    ├── PolicyError            an A1 policy operation failed (names the type, instance and the answer)
    └── DependencyError        an optional dependency is missing (names the extra to install)

Each class carries ``exit_code``: the CLI turns an error into a message and that code.
"""

from __future__ import annotations

__all__ = [
    "BenchmarkError",
    "ConfigError",
    "DataError",
    "DependencyError",
    "DeployError",
    "ExportError",
    "FederationError",
    "ModelError",
    "PolicyError",
    "RanmlError",
    "RegistryError",
    "UnknownModelError",
]


class RanmlError(Exception):
    """Root of every error ranml raises on purpose."""

    exit_code: int = 1


class ConfigError(RanmlError):
    """A configuration file or value is invalid."""

    exit_code = 2


class DataError(RanmlError):
    """Telemetry data cannot be used as given."""

    exit_code = 3


class ModelError(RanmlError):
    """A model cannot be built, trained, exported or used."""

    exit_code = 4


class UnknownModelError(ModelError):
    """A model name is not registered in the zoo."""


class ExportError(ModelError):
    """Export failed or a parity gate did not pass; nothing was written."""


class BenchmarkError(RanmlError):
    """A benchmark run cannot proceed."""

    exit_code = 5


class DependencyError(RanmlError):
    """An optional dependency is not installed."""

    exit_code = 6


class RegistryError(RanmlError):
    """A registry operation is invalid, or an artefact fails its integrity check."""

    exit_code = 7


class DeployError(RanmlError):
    """A Helm chart, a site values file or a Kubernetes rollout step is wrong or failed."""

    exit_code = 8


class PolicyError(RanmlError):
    """An A1 policy operation was refused or the A1 mediator could not be reached."""

    exit_code = 9


class FederationError(RanmlError):
    """A federated or split learning run cannot start or proceed (engine, sites, updates)."""

    exit_code = 10
