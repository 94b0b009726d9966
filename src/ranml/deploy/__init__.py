"""Deployment: Helm charts per site, onboarding onto an OSC Near-RT RIC, rollouts through Kubernetes.

Nothing here is imported by ``import ranml``; the Helm engine and the Kubernetes client load on use.
"""

from ranml.deploy.helm import KUBE_VERSION, CheckReport, check_all, render_release, write_schemas
from ranml.deploy.kube import KubeRollout
from ranml.deploy.onboard import write_onboarding_bundle
from ranml.deploy.sites import Release, Site, list_sites, load_site

__all__ = [
    "KUBE_VERSION",
    "CheckReport",
    "KubeRollout",
    "Release",
    "Site",
    "check_all",
    "list_sites",
    "load_site",
    "render_release",
    "write_onboarding_bundle",
    "write_schemas",
]
