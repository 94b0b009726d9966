"""Model rollouts on a site through the Kubernetes API (the update agent's hands on a cluster).

The ``ranml-xapp`` chart gives every release a Deployment ``<release>-ranml-xapp`` and a ConfigMap
``<deployment>-config`` holding the OSC ``config-file.json``; the model the app follows is its
``controls.model_alias`` (an alias, or a version pinned here). Setting a site's model version
patches both: the ConfigMap (what the app loads) and the pod template annotation
``ranml.io/model-version`` (which makes Kubernetes roll the pods), with the previous version, the
reason, who and when kept in annotations so that :meth:`KubeRollout.rollback` can go back.

A pod canary is a second Deployment ``<deployment>-canary`` (track ``canary``) with its own
ConfigMap; :meth:`KubeRollout.start_canary` creates it from the stable one when the chart did not.
:meth:`KubeRollout.wait_rollout` watches the Deployment until the new pods are all updated and
available, or the rollout stalls (``ProgressDeadlineExceeded``) or times out.

Merge patches (RFC 7386) are sent explicitly: the generated client would otherwise label a dict
body as a JSON patch.
"""

from __future__ import annotations

import contextlib
import copy
import json
import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from ranml.errors import DependencyError, DeployError

__all__ = ["KubeRollout", "RolloutStatus"]

log = logging.getLogger("ranml.deploy.kube")

VERSION_KEY = "ranml.io/model-version"
PREVIOUS_KEY = "ranml.io/previous-model-version"
REASON_KEY = "ranml.io/change-reason"
BY_KEY = "ranml.io/changed-by"
AT_KEY = "ranml.io/changed-at"
TRACK_KEY = "ranml.io/track"
MERGE_PATCH = "application/merge-patch+json"
_DROP_METADATA = ("uid", "resourceVersion", "creationTimestamp", "generation", "managedFields", "selfLink")


@dataclass
class RolloutStatus:
    """Where a Deployment's rollout ended."""

    deployment: str
    generation: int
    replicas: int
    updated: int
    available: int
    complete: bool
    seconds: float


def _kube() -> Any:
    try:
        import kubernetes
    except ImportError as exc:
        raise DependencyError("the Kubernetes client is missing: pip install 'ranml[deploy]'") from exc
    return kubernetes


class KubeRollout:
    """Model versions, canary tracks and rollbacks of a site's ranml Deployments.

    Parameters
    ----------
    api_client
        A ``kubernetes.client.ApiClient`` (see :meth:`connect`).
    namespace
        The namespace of the site's releases (``ricxapp`` for xApps on an OSC RIC).
    by
        Recorded as who made each change.
    """

    def __init__(self, api_client: Any, namespace: str, by: str = "ranml-agent") -> None:
        self.api_client, self.namespace, self.by = api_client, namespace, by
        self._apps: Any = None
        self._core: Any = None

    @classmethod
    def connect(cls, namespace: str, kubeconfig: str | None = None, context: str | None = None,
                in_cluster: bool | None = None, by: str = "ranml-agent") -> KubeRollout:
        """Authenticate in-cluster (service account) or from a kubeconfig file.

        ``in_cluster=None`` picks in-cluster when ``KUBERNETES_SERVICE_HOST`` is set and no
        kubeconfig was given.
        """
        import os

        k = _kube()
        configuration = k.client.Configuration()
        if in_cluster or (in_cluster is None and kubeconfig is None and "KUBERNETES_SERVICE_HOST" in os.environ):
            k.config.load_incluster_config(client_configuration=configuration)
        else:
            try:
                k.config.load_kube_config(config_file=kubeconfig, context=context,
                                          client_configuration=configuration)
            except (k.config.ConfigException, OSError) as exc:
                raise DeployError(f"kubeconfig {kubeconfig or '~/.kube/config'}: {exc}") from None
        return cls(k.client.ApiClient(configuration), namespace, by=by)

    # --- API access ----------------------------------------------------------------------------
    @property
    def apps(self) -> Any:
        """``AppsV1Api`` on this client."""
        if self._apps is None:
            self._apps = _kube().client.AppsV1Api(self.api_client)
        return self._apps

    @property
    def core(self) -> Any:
        """``CoreV1Api`` on this client."""
        if self._core is None:
            self._core = _kube().client.CoreV1Api(self.api_client)
        return self._core

    def _call(self, what: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
        k = _kube()
        try:
            out = fn(*args, **kwargs)
        except k.client.ApiException as exc:
            detail = exc.reason
            with contextlib.suppress(TypeError, ValueError, AttributeError):
                detail = json.loads(exc.body).get("message", detail)
            raise DeployError(f"{what} in namespace {self.namespace}: HTTP {exc.status}: {detail}") from None
        except (OSError, k.client.exceptions.OpenApiException) as exc:
            raise DeployError(f"{what} in namespace {self.namespace}: {exc}") from None
        return self.api_client.sanitize_for_serialization(out) if out is not None else None

    def _exists(self, what: str, fn: Any, name: str) -> bool:
        try:
            fn(name, self.namespace)
        except _kube().client.ApiException as exc:
            if exc.status == 404:
                return False
            return bool(self._call(what, fn, name, self.namespace))  # raises with the API's message
        return True

    def deployment(self, name: str) -> dict[str, Any]:
        """The Deployment as a plain dict (camelCase keys)."""
        return dict(self._call(f"get Deployment {name}", self.apps.read_namespaced_deployment, name, self.namespace))

    def config_map(self, name: str) -> dict[str, Any]:
        """The ConfigMap as a plain dict."""
        return dict(self._call(f"get ConfigMap {name}", self.core.read_namespaced_config_map, name, self.namespace))

    # --- model version -------------------------------------------------------------------------
    def model_version(self, deployment: str) -> str | None:
        """The version or alias the Deployment's pods follow (``None`` when it has no model)."""
        template = self.deployment(deployment)["spec"]["template"]
        value = ((template.get("metadata") or {}).get("annotations") or {}).get(VERSION_KEY)
        return None if value is None else str(value).removeprefix("alias:")

    def _config_with(self, config_map: dict[str, Any], version: str, where: str) -> str:
        text = (config_map.get("data") or {}).get("config-file.json")
        if text is None:
            raise DeployError(f"{where}: no config-file.json key; is this a ranml-xapp release?")
        try:
            descriptor = json.loads(text)
        except json.JSONDecodeError as exc:
            raise DeployError(f"{where}: config-file.json is not JSON: {exc}") from None
        controls = descriptor.setdefault("controls", {})
        if "model" not in controls:
            raise DeployError(f"{where}: the app has no model setting (controls.model); nothing to roll out")
        controls["model_alias"] = version
        return json.dumps(descriptor, indent=2, sort_keys=True)

    def _stamp(self, version: str, previous: str | None, reason: str) -> dict[str, str]:
        return {VERSION_KEY: version, PREVIOUS_KEY: previous or "", REASON_KEY: reason[:1000], BY_KEY: self.by,
                AT_KEY: datetime.now(UTC).isoformat(timespec="seconds")}

    def set_model_version(self, deployment: str, version: str, reason: str) -> dict[str, Any]:
        """Point the Deployment's app at ``version`` (ConfigMap, then pod template: pods roll).

        ``version`` is a registry version (``1.2.0``) or an alias to follow (``champion``,
        ``site/milan-01``). Returns the patched Deployment. The previous one is kept for
        :meth:`rollback`.
        """
        previous = self.model_version(deployment)
        cm_name = f"{deployment}-config"
        data = self._config_with(self.config_map(cm_name), version, f"ConfigMap {cm_name}")
        self._call(f"patch ConfigMap {cm_name}", self.core.patch_namespaced_config_map, cm_name, self.namespace,
                   {"data": {"config-file.json": data}}, _content_type=MERGE_PATCH)
        stamp = self._stamp(version, previous, reason)
        patch = {"metadata": {"labels": {VERSION_KEY: version}, "annotations": stamp},
                 "spec": {"template": {"metadata": {"annotations": {VERSION_KEY: version, AT_KEY: stamp[AT_KEY]}}}}}
        out = self._call(f"patch Deployment {deployment}", self.apps.patch_namespaced_deployment, deployment,
                         self.namespace, patch, _content_type=MERGE_PATCH)
        log.info("%s/%s: model %s -> %s (generation %s): %s", self.namespace, deployment, previous or "alias",
                 version, (out.get("metadata") or {}).get("generation"), reason)
        return dict(out)

    def rollback(self, deployment: str, reason: str) -> str:
        """Go back to the version before the last change; returns it."""
        annotations = (self.deployment(deployment).get("metadata") or {}).get("annotations") or {}
        previous = annotations.get(PREVIOUS_KEY)
        if not previous:
            raise DeployError(f"Deployment {deployment}: no previous model version recorded ({PREVIOUS_KEY}); "
                              f"set one with set_model_version")
        self.set_model_version(deployment, previous, f"rollback: {reason}")
        return str(previous)

    # --- canary track --------------------------------------------------------------------------
    def _canary_from(self, stable: dict[str, Any], name: str, replicas: int) -> dict[str, Any]:
        body = copy.deepcopy(stable)
        body.pop("status", None)
        meta = body["metadata"]
        for key in _DROP_METADATA:
            meta.pop(key, None)
        meta["name"] = name
        meta.setdefault("labels", {})[TRACK_KEY] = "canary"
        spec = body["spec"]
        spec["replicas"] = replicas
        spec["selector"].setdefault("matchLabels", {})[TRACK_KEY] = "canary"
        spec["template"].setdefault("metadata", {}).setdefault("labels", {})[TRACK_KEY] = "canary"
        for volume in spec["template"]["spec"].get("volumes") or []:
            cm = volume.get("configMap")
            if cm and cm.get("name") == f"{stable['metadata']['name']}-config":
                cm["name"] = f"{name}-config"
        return dict(body)

    def start_canary(self, deployment: str, version: str, reason: str, replicas: int = 1) -> dict[str, Any]:
        """Run ``version`` on ``replicas`` canary pods beside the stable Deployment."""
        name = f"{deployment}-canary"
        cm_name = f"{name}-config"
        stable_cm = self.config_map(f"{deployment}-config")
        data = self._config_with(stable_cm, version, f"ConfigMap {deployment}-config")
        if self._exists(f"get ConfigMap {cm_name}", self.core.read_namespaced_config_map, cm_name):
            self._call(f"patch ConfigMap {cm_name}", self.core.patch_namespaced_config_map, cm_name,
                       self.namespace, {"data": {"config-file.json": data}}, _content_type=MERGE_PATCH)
        else:
            body = {"apiVersion": "v1", "kind": "ConfigMap",
                    "metadata": {"name": cm_name, "labels": {**(stable_cm["metadata"].get("labels") or {}),
                                                             TRACK_KEY: "canary"}},
                    "data": {**(stable_cm.get("data") or {}), "config-file.json": data}}
            self._call(f"create ConfigMap {cm_name}", self.core.create_namespaced_config_map, self.namespace, body)
        stamp = self._stamp(version, None, reason)
        if not self._exists(f"get Deployment {name}", self.apps.read_namespaced_deployment, name):
            body = self._canary_from(self.deployment(deployment), name, 0)
            self._call(f"create Deployment {name}", self.apps.create_namespaced_deployment, self.namespace, body)
        patch = {"metadata": {"labels": {VERSION_KEY: version}, "annotations": stamp},
                 "spec": {"replicas": replicas,
                          "template": {"metadata": {"annotations": {VERSION_KEY: version, AT_KEY: stamp[AT_KEY]}}}}}
        out = self._call(f"patch Deployment {name}", self.apps.patch_namespaced_deployment, name, self.namespace,
                         patch, _content_type=MERGE_PATCH)
        log.info("%s/%s: canary %s on %d pod(s): %s", self.namespace, name, version, replicas, reason)
        return dict(out)

    def stop_canary(self, deployment: str, reason: str) -> None:
        """Scale the canary track to zero (kept for the next canary)."""
        name = f"{deployment}-canary"
        patch = {"metadata": {"annotations": {REASON_KEY: reason[:1000], BY_KEY: self.by}}, "spec": {"replicas": 0}}
        self._call(f"scale Deployment {name}", self.apps.patch_namespaced_deployment, name, self.namespace, patch,
                   _content_type=MERGE_PATCH)
        log.info("%s/%s: canary stopped: %s", self.namespace, name, reason)

    def promote_canary(self, deployment: str, reason: str) -> str:
        """Move the stable track to the canary's version, then stop the canary; returns the version."""
        version = self.model_version(f"{deployment}-canary")
        if version is None:
            raise DeployError(f"Deployment {deployment}-canary: no model version to promote")
        self.set_model_version(deployment, version, f"promote canary: {reason}")
        self.stop_canary(deployment, f"promoted to stable: {reason}")
        return version

    # --- rollout status ------------------------------------------------------------------------
    @staticmethod
    def _progress(d: dict[str, Any]) -> tuple[int, int, int, int, int, bool, str | None]:
        meta, spec, status = d.get("metadata") or {}, d.get("spec") or {}, d.get("status") or {}
        generation, observed = int(meta.get("generation") or 0), int(status.get("observedGeneration") or 0)
        replicas = int(spec.get("replicas", 1))
        updated, available = int(status.get("updatedReplicas") or 0), int(status.get("availableReplicas") or 0)
        total = int(status.get("replicas") or 0)
        stalled = next((c.get("message") or c.get("reason") for c in status.get("conditions") or []
                        if c.get("type") == "Progressing" and c.get("reason") == "ProgressDeadlineExceeded"), None)
        done = observed >= generation and updated == replicas and available == replicas and total == replicas
        return generation, replicas, updated, available, total, done, stalled

    def wait_rollout(self, deployment: str, timeout_s: float = 300.0) -> RolloutStatus:
        """Watch the Deployment until its rollout completes.

        Raises
        ------
        DeployError
            The rollout stalled (``ProgressDeadlineExceeded``) or did not finish in ``timeout_s``.
        """
        k = _kube()
        start = time.monotonic()
        d = self.deployment(deployment)
        generation, replicas, updated, available, _, done, stalled = self._progress(d)
        while not done:
            if stalled:
                raise DeployError(f"Deployment {deployment}: rollout stalled: {stalled}; roll back")
            left = timeout_s - (time.monotonic() - start)
            if left <= 0:
                raise DeployError(f"Deployment {deployment}: rollout not complete after {timeout_s:.0f} s "
                                  f"({updated}/{replicas} updated, {available} available)")
            watch = k.watch.Watch()
            try:
                for event in watch.stream(self.apps.list_namespaced_deployment, self.namespace,
                                          field_selector=f"metadata.name={deployment}",
                                          timeout_seconds=max(1, int(left))):
                    d = self.api_client.sanitize_for_serialization(event["object"])
                    generation, replicas, updated, available, _, done, stalled = self._progress(d)
                    if done or stalled or time.monotonic() - start > timeout_s:
                        break
            except k.client.ApiException as exc:
                raise DeployError(f"watch Deployment {deployment}: HTTP {exc.status}: {exc.reason}") from None
            finally:
                watch.stop()
        log.info("%s/%s: rollout of generation %d complete (%d/%d available)", self.namespace, deployment,
                 generation, available, replicas)
        return RolloutStatus(deployment, generation, replicas, updated, available, True, time.monotonic() - start)
