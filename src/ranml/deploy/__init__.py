"""Deployment: Helm charts per site, onboarding onto an OSC Near-RT RIC, rollouts through Kubernetes.

Nothing here is imported by ``import ranml``; the Helm engine and the Kubernetes client load on use.
"""

__all__: list[str] = []
