"""Model rollouts through the Kubernetes API with the real ``kubernetes`` client.

No cluster runs on this machine: the client talks over HTTP on 127.0.0.1 to a small API-server
stand-in (``kube_api_stand_in.py``) that serves real Kubernetes JSON objects for the endpoints
used (get/create/merge-patch Deployment and ConfigMap, Deployment watch) and plays the
Deployment controller. The objects are the ``ranml-xapp`` chart's own rendered manifests (lab
site), authenticated with a kubeconfig file and a bearer token.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

pytest.importorskip("kubernetes", reason="the Kubernetes client is missing: pip install 'ranml[deploy]'")
pytest.importorskip("helm_python", reason="the Helm engine is missing: pip install 'ranml[deploy]'")

from kube_api_stand_in import KubeApiStandIn

from ranml.deploy.helm import render_release
from ranml.deploy.kube import KubeRollout
from ranml.deploy.sites import load_site
from ranml.errors import DeployError

pytestmark = pytest.mark.integration

HELM = Path(__file__).resolve().parents[2] / "helm"
NS = "ricxapp"
DEPLOYMENT = "energy-saving-ranml-xapp"


@pytest.fixture()
def api(tmp_path):
    site = load_site(HELM / "sites" / "lab.yaml")
    site.path = tmp_path / "lab.yaml"
    release = next(r for r in site.releases if r.name == "energy-saving")
    release.values["model"] = {"name": "load", "registry": "/models"}
    release.values["replicas"] = 3
    stand_in = KubeApiStandIn()
    for text in render_release(HELM, release).values():
        for doc in yaml.safe_load_all(text):
            if doc and doc["kind"] in ("Deployment", "ConfigMap"):
                stand_in.add(doc, NS)
    url = stand_in.start()
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "lab",
        "clusters": [{"name": "lab", "cluster": {"server": url}}],
        "users": [{"name": "agent", "user": {"token": stand_in.token}}],
        "contexts": [{"name": "lab", "context": {"cluster": "lab", "user": "agent", "namespace": NS}}]}))
    yield stand_in, kubeconfig
    stand_in.close()


def _controls(stand_in: KubeApiStandIn, name: str) -> dict:
    return json.loads(stand_in.get("ConfigMap", NS, name)["data"]["config-file.json"])["controls"]


def test_set_version_rolls_pods_and_rollback_restores(api):
    stand_in, kubeconfig = api
    kube = KubeRollout.connect(NS, kubeconfig=str(kubeconfig), by="test-agent")
    assert kube.model_version(DEPLOYMENT) == "champion"  # the chart follows the alias
    generation = stand_in.get("Deployment", NS, DEPLOYMENT)["metadata"]["generation"]

    kube.set_model_version(DEPLOYMENT, "1.1.0", "drift on cell 0x3a; challenger scored 12% lower MAE")
    d = stand_in.get("Deployment", NS, DEPLOYMENT)
    assert d["metadata"]["generation"] == generation + 1  # the pod template changed: new pods
    assert d["spec"]["template"]["metadata"]["annotations"]["ranml.io/model-version"] == "1.1.0"
    assert d["metadata"]["annotations"]["ranml.io/changed-by"] == "test-agent"
    assert "12% lower MAE" in d["metadata"]["annotations"]["ranml.io/change-reason"]
    assert _controls(stand_in, f"{DEPLOYMENT}-config")["model_alias"] == "1.1.0"
    status = kube.wait_rollout(DEPLOYMENT, timeout_s=20)
    assert status.complete and status.updated == status.available == 3

    kube.set_model_version(DEPLOYMENT, "1.2.0", "scheduled update")
    kube.wait_rollout(DEPLOYMENT, timeout_s=20)
    assert kube.rollback(DEPLOYMENT, "1.2.0 raised the forecast error") == "1.1.0"
    assert kube.model_version(DEPLOYMENT) == "1.1.0"
    assert _controls(stand_in, f"{DEPLOYMENT}-config")["model_alias"] == "1.1.0"
    annotations = stand_in.get("Deployment", NS, DEPLOYMENT)["metadata"]["annotations"]
    assert annotations["ranml.io/change-reason"] == "rollback: 1.2.0 raised the forecast error"
    # every patch went out as a merge patch (the client's default would be a JSON patch)
    assert all(ct == "application/merge-patch+json" for m, _, ct in stand_in.requests if m == "PATCH")


def test_canary_track_created_promoted_and_stopped(api):
    stand_in, kubeconfig = api
    kube = KubeRollout.connect(NS, kubeconfig=str(kubeconfig))
    kube.start_canary(DEPLOYMENT, "1.1.0", "canary before the site-wide update", replicas=1)
    canary = stand_in.get("Deployment", NS, f"{DEPLOYMENT}-canary")
    assert canary["spec"]["replicas"] == 1
    assert canary["spec"]["selector"]["matchLabels"]["ranml.io/track"] == "canary"
    assert canary["spec"]["template"]["metadata"]["labels"]["ranml.io/track"] == "canary"
    volumes = {v["name"]: v for v in canary["spec"]["template"]["spec"]["volumes"]}
    assert volumes["config"]["configMap"]["name"] == f"{DEPLOYMENT}-canary-config"
    assert _controls(stand_in, f"{DEPLOYMENT}-canary-config")["model_alias"] == "1.1.0"
    assert _controls(stand_in, f"{DEPLOYMENT}-config")["model_alias"] == "champion"  # stable untouched
    assert kube.wait_rollout(f"{DEPLOYMENT}-canary", timeout_s=20).complete

    assert kube.promote_canary(DEPLOYMENT, "canary error 8% below stable over 6 h") == "1.1.0"
    assert kube.model_version(DEPLOYMENT) == "1.1.0"
    assert stand_in.get("Deployment", NS, f"{DEPLOYMENT}-canary")["spec"]["replicas"] == 0
    # a second canary reuses the track
    kube.start_canary(DEPLOYMENT, "1.2.0", "next candidate", replicas=2)
    assert stand_in.get("Deployment", NS, f"{DEPLOYMENT}-canary")["spec"]["replicas"] == 2
    assert _controls(stand_in, f"{DEPLOYMENT}-canary-config")["model_alias"] == "1.2.0"


def test_stalled_rollout_and_api_errors_are_clear(api):
    stand_in, kubeconfig = api
    kube = KubeRollout.connect(NS, kubeconfig=str(kubeconfig))
    kube.set_model_version(DEPLOYMENT, "1.1.0", "update")
    stand_in.stall = True
    with pytest.raises(DeployError, match="rollout stalled: ReplicaSet"):
        kube.wait_rollout(DEPLOYMENT, timeout_s=20)
    with pytest.raises(DeployError, match=r"get Deployment nope in namespace ricxapp: HTTP 404"):
        kube.set_model_version("nope", "1.0.0", "x")
    assert kube.rollback(DEPLOYMENT, "stalled") == "champion"  # back to following the alias
    assert _controls(stand_in, f"{DEPLOYMENT}-config")["model_alias"] == "champion"
    stand_in.get("Deployment", NS, DEPLOYMENT)["metadata"]["annotations"].pop("ranml.io/previous-model-version")
    with pytest.raises(DeployError, match="no previous model version"):
        kube.rollback(DEPLOYMENT, "again")
    kubeconfig.write_text(kubeconfig.read_text().replace(stand_in.token, "wrong"))
    with pytest.raises(DeployError, match="HTTP 401"):
        KubeRollout.connect(NS, kubeconfig=str(kubeconfig)).model_version(DEPLOYMENT)
    with pytest.raises(DeployError, match="kubeconfig"):
        KubeRollout.connect(NS, kubeconfig=str(kubeconfig.parent / "missing"))


def test_update_agent_rolls_a_site_through_kubernetes(api, tmp_path):
    pytest.importorskip("river", reason="the agent's drift policy needs river: pip install 'ranml[lifecycle]'")
    from ranml.agent import UpdateAgent, make_policy
    from ranml.serving.registry import LocalRegistry

    stand_in, kubeconfig = api
    reg = LocalRegistry(tmp_path / "reg")
    for v in ("1.0.0", "1.1.0"):
        reg.register("load", {"model": v.encode()}, {"name": "load"}, version=v)
    reg.set_alias("load", "site/lab", "1.0.0", by="test")
    kube = KubeRollout.connect(NS, kubeconfig=str(kubeconfig), by="agent")
    agent = UpdateAgent(reg, "load", make_policy("always"), kube=kube, deployments={"lab": DEPLOYMENT},
                        rollout_timeout_s=20)
    decision = agent.step("lab", 0.1)
    assert decision.applied and kube.model_version(DEPLOYMENT) == "1.1.0" and agent.current("lab") == "1.1.0"
    # a rollout that stalls: the site alias goes back and the Deployment is rolled back
    reg.register("load", {"model": b"1.2.0"}, {"name": "load"}, version="1.2.0")
    stand_in.stall = True
    decision = agent.step("lab", 0.1)
    assert decision.update and not decision.applied
    assert agent.current("lab") == "1.1.0" and kube.model_version(DEPLOYMENT) == "1.1.0"
    assert "rollout failed" in reg.history("load")[-1]["reason"]
