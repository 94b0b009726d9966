"""The model update agent: when and where a new model version goes (policies, drift, rollouts).

Policies: always, never, random, load-based, drift-triggered (river detectors on live forecast
residuals). ``UpdateAgent`` acts through registry aliases per site (``site/<name>``) and, on
Kubernetes, through ``ranml.deploy.kube.KubeRollout``; ``simulate`` compares the policies over
N sites × D days (``ranml agent simulate``).
"""

from ranml.agent.agent import Decision, UpdateAgent, benchmark_retrain
from ranml.agent.drift import DriftMonitor
from ranml.agent.policies import POLICIES, SiteStatus, make_policy
from ranml.agent.simulate import load_sim_config, simulate, write_report

__all__ = [
    "POLICIES",
    "Decision",
    "DriftMonitor",
    "SiteStatus",
    "UpdateAgent",
    "benchmark_retrain",
    "load_sim_config",
    "make_policy",
    "simulate",
    "write_report",
]
