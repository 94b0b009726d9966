"""Federated and split learning of forecasters across sites (offline side, FL environment).

Sites train a zoo model on their own telemetry; a Flower server aggregates (FedAvg, FedProx,
FedTrimmedAvg, FedMedian) and records each round. ``import ranml.federated`` imports neither
Flower nor torch: the Flower apps (:mod:`ranml.federated.flower_server`,
:mod:`ranml.federated.flower_client`) are loaded by Flower's own processes.
"""

from __future__ import annotations

from ranml.federated.config import (
    STRATEGIES,
    BaselineConfig,
    FederationConfig,
    KillSite,
    LinkFaults,
    LocalTrainConfig,
    RestartServer,
    RunFaults,
    SiteConfig,
    SiteFaults,
    SplitConfig,
    SplitFaults,
    StrategyConfig,
)
from ranml.federated.export import export_site_model
from ranml.federated.outputs import RunFiles
from ranml.federated.run import FederationResult, load_federation_config, run_federation
from ranml.federated.split_run import SplitResult, list_cuts, load_split_config, run_split

__all__ = [
    "STRATEGIES",
    "BaselineConfig",
    "FederationConfig",
    "FederationResult",
    "KillSite",
    "LinkFaults",
    "LocalTrainConfig",
    "RestartServer",
    "RunFaults",
    "RunFiles",
    "SiteConfig",
    "SiteFaults",
    "SplitConfig",
    "SplitFaults",
    "SplitResult",
    "StrategyConfig",
    "export_site_model",
    "list_cuts",
    "load_federation_config",
    "load_split_config",
    "run_federation",
    "run_split",
]
