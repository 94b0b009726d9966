"""The Helm charts rendered with the real Helm engine for every site, and broken site files refused.

``helm-python-sdk`` runs Helm v4's Go SDK in-process; manifests are validated against the
Kubernetes OpenAPI schemas by ``kubernetes-validate``.
"""

from __future__ import annotations

import copy
import json
import shutil
from pathlib import Path

import pytest
import yaml

pytest.importorskip("helm_python", reason="the Helm engine is missing: pip install 'ranml[deploy]'")
pytest.importorskip("kubernetes_validate", reason="kubernetes-validate is missing: pip install 'ranml[deploy]'")

from typer.testing import CliRunner

from ranml.cli.app import app as cli
from ranml.deploy.helm import _pod_problems, chart_schema, check_all, render_release
from ranml.deploy.sites import load_site
from ranml.deploy.values import CHART_VALUES
from ranml.errors import DeployError
from ranml.xapp.descriptor import validate_descriptor

HELM = Path(__file__).resolve().parents[3] / "helm"


def _docs(rendered: dict[str, str]) -> list[dict]:
    return [d for text in rendered.values() for d in yaml.safe_load_all(text) if d]


def _site_copy(tmp_path: Path, name: str, edit) -> Path:
    data = yaml.safe_load((HELM / "sites" / f"{name}.yaml").read_text())
    edit(data)
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_every_chart_and_site_checks_clean():
    report = check_all(HELM)
    assert report.problems == []
    assert set(report.charts) == set(CHART_VALUES)
    assert len(report.sites) >= 3 and report.releases >= 10 and report.manifests >= 40


def test_committed_schemas_are_the_generated_ones():
    for chart in CHART_VALUES:
        committed = json.loads((HELM / chart / "values.schema.json").read_text())
        assert committed == json.loads(json.dumps(chart_schema(chart))), chart


def test_xapp_release_carries_a_valid_descriptor_probes_and_security():
    site = load_site(HELM / "sites" / "milan-urban-gpu.yaml")
    ts = next(r for r in site.releases if r.name == "traffic-steering")
    docs = _docs(render_release(HELM, ts))
    kinds = sorted(d["kind"] for d in docs)
    assert kinds == ["ConfigMap", "ConfigMap", "Deployment", "Deployment", "PodDisruptionBudget", "Service",
                     "Service"]  # stable + canary tracks
    stable = next(d for d in docs if d["kind"] == "ConfigMap" and d["metadata"]["labels"]["ranml.io/track"] == "stable")
    descriptor = json.loads(stable["data"]["config-file.json"])
    assert validate_descriptor(descriptor) == []
    assert descriptor["controls"]["high"] == 0.8 and descriptor["controls"]["model_alias"] == "site/milan-urban-gpu"
    canary = next(d for d in docs if d["kind"] == "Deployment" and d["metadata"]["name"].endswith("-canary"))
    assert canary["spec"]["template"]["metadata"]["annotations"]["ranml.io/model-version"] == "1.1.0"
    assert canary["spec"]["selector"]["matchLabels"]["ranml.io/track"] == "canary"
    for d in (x for x in docs if x["kind"] == "Deployment"):
        pod = d["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True and pod["securityContext"]["runAsUser"] > 0
        c = pod["containers"][0]
        assert c["securityContext"]["readOnlyRootFilesystem"] is True
        assert c["securityContext"]["allowPrivilegeEscalation"] is False
        assert c["livenessProbe"]["httpGet"]["path"] == "/ric/v1/health/alive"
        assert c["readinessProbe"]["httpGet"]["path"] == "/ric/v1/health/ready"
        assert d["spec"]["template"]["metadata"]["annotations"]["prometheus.io/scrape"] == "true"
        assert {"DBAAS_SERVICE_HOST", "RMR_SEED_RT", "RMR_SRC_ID"} <= {e["name"] for e in c["env"]}


def test_gpu_site_puts_the_model_server_on_gpus_and_edge_site_on_edge_nodes():
    gpu = load_site(HELM / "sites" / "milan-urban-gpu.yaml")
    server = next(d for d in _docs(render_release(HELM, gpu.releases_of("ranml-serving")[0]))
                  if d["kind"] == "Deployment")
    pod = server["spec"]["template"]["spec"]
    assert pod["containers"][0]["resources"]["limits"]["nvidia.com/gpu"] == 1
    assert "--provider=CUDAExecutionProvider" in pod["containers"][0]["args"]
    assert {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"} in pod["tolerations"]
    edge = load_site(HELM / "sites" / "aosta-edge.yaml")
    for release in edge.releases:
        for d in _docs(render_release(HELM, release)):
            if d["kind"] == "Deployment":
                pod = d["spec"]["template"]["spec"]
                assert pod["nodeSelector"] == {"ranml.io/pool": "edge"}
                assert pod["initContainers"][0]["name"] == "model-artefacts"  # artefacts from an image
    dapp = next(d for d in _docs(render_release(HELM, edge.releases_of("ranml-dapp")[0])) if d["kind"] == "Deployment")
    affinity = dapp["spec"]["template"]["spec"]["affinity"]["podAffinity"]
    assert affinity["requiredDuringSchedulingIgnoredDuringExecution"][0]["topologyKey"] == "kubernetes.io/hostname"


@pytest.mark.parametrize(("edit", "expected"), [
    (lambda d: d["releases"][1]["values"].update(replicas="two"), "at '/replicas': got string, want integer"),
    (lambda d: d["releases"][1]["values"].update(resources={"limits": {"cpu": "lots"}}),
     "/resources/limits/cpu"),
    (lambda d: d["releases"][1]["values"].update(replica=2), "additional properties 'replica' not allowed"),
    (lambda d: d["releases"][1]["values"].update(securityContext={"runAsUser": 0}), "/securityContext/runAsUser"),
    (lambda d: d["releases"][1]["values"].update(transport="zeromq"), "/transport"),
    (lambda d: d["releases"][1]["values"].update(canary={"enabled": True}),
     "canary.modelVersion is required when canary.enabled is true"),
    (lambda d: d["releases"][1]["values"].update(config={"high": 7}), "config.high: Input should be less"),
])
def test_broken_site_values_fail_at_render_with_the_field_named(tmp_path, edit, expected):
    path = _site_copy(tmp_path, "lab", edit)
    release = load_site(path).releases[1]
    with pytest.raises(DeployError) as err:
        render_release(HELM, release)
    assert expected in str(err.value) and str(path) in str(err.value)


@pytest.mark.parametrize(("edit", "expected"), [
    (lambda d: d.update(sites="x"), "unknown key(s) ['sites']"),
    (lambda d: d["site"].pop("name"), "site.name: required"),
    (lambda d: d["site"].update(name="Milan 01!"), "site.name: 'Milan 01!' is not a valid label value"),
    (lambda d: d["releases"][0].update(chart="ranml-xap"), "releases[0].chart: unknown chart 'ranml-xap'"),
    (lambda d: d["releases"][2].update(name="Traffic_Steering"), "releases[2].name"),
    (lambda d: d["releases"].append(copy.deepcopy(d["releases"][1])), "releases[6].name: release traffic-steering "
                                                                      "is defined twice"),
])
def test_broken_site_structure_is_refused_with_the_key_named(tmp_path, edit, expected):
    with pytest.raises(DeployError, match=None) as err:
        load_site(_site_copy(tmp_path, "lab", edit))
    assert expected in str(err.value)


def test_pod_checks_catch_a_missing_security_context_and_probe():
    site = load_site(HELM / "sites" / "lab.yaml")
    d = next(x for x in _docs(render_release(HELM, site.releases[1])) if x["kind"] == "Deployment")
    assert _pod_problems("d", d) == []
    c = d["spec"]["template"]["spec"]["containers"][0]
    del c["securityContext"]["readOnlyRootFilesystem"], c["readinessProbe"]
    problems = _pod_problems("d", d)
    assert any("readOnlyRootFilesystem" in p for p in problems) and any("readinessProbe" in p for p in problems)


def test_cli_render_and_check(tmp_path):
    runner = CliRunner()
    out = tmp_path / "out"
    result = runner.invoke(cli, ["helm", "render", "--chart", "ranml-xapp", "--site", "lab", "--out", str(out),
                                 "--charts", str(HELM)])
    assert result.exit_code == 0, result.output
    assert (out / "lab" / "energy-saving" / "ranml-xapp" / "templates" / "deployment.yaml").is_file()
    result = runner.invoke(cli, ["helm", "render", "--chart", "ranml-serving", "--site", "lab", "--charts", str(HELM)])
    assert result.exit_code == 8 and "runs no release of ranml-serving" in result.output

    sites = tmp_path / "sites"
    shutil.copytree(HELM / "sites", sites)
    data = yaml.safe_load((sites / "lab.yaml").read_text())
    data["releases"][0]["values"]["rmrPort"] = 99999
    (sites / "lab.yaml").write_text(yaml.safe_dump(data))
    result = runner.invoke(cli, ["helm", "check", "--charts", str(HELM), "--sites", str(sites),
                                 "--json", str(tmp_path / "r.json")])
    assert result.exit_code == 1
    assert "at '/rmrPort': maximum: got 99,999, want 65,535" in result.output
    assert json.loads((tmp_path / "r.json").read_text())["problems"]


def test_federated_learning_runs_as_a_superlink_and_one_supernode_per_site():
    lab = load_site(HELM / "sites" / "lab.yaml")
    pods = {}
    for release in lab.releases_of("ranml-fl"):
        deployment = next(d for d in _docs(render_release(HELM, release)) if d["kind"] == "Deployment")
        container = deployment["spec"]["template"]["spec"]["containers"][0]
        pods[release.name] = container["args"]
        assert container["livenessProbe"]["httpGet"]["path"] == "/health"
    assert pods["fl-superlink"][:2] == ["fl", "superlink"]
    assert pods["fl-north"][:2] == ["fl", "supernode"] and "--site=north" in pods["fl-north"]
    assert "--site=south" in pods["fl-south"]
    assert all("--superlink=fl-superlink-ranml-fl.ranml:9092" in pods[n] for n in ("fl-north", "fl-south"))
    # a real site's SuperNode is named after the site's federated name, and the site's model values stay out
    milan = load_site(HELM / "sites" / "milan-urban-gpu.yaml").releases_of("ranml-fl")[0]
    assert "model" not in milan.values
    args = next(d for d in _docs(render_release(HELM, milan)) if d["kind"] == "Deployment")
    assert "--site=milan" in args["spec"]["template"]["spec"]["containers"][0]["args"]


def test_a_supernode_without_its_superlink_fails_at_render_naming_it(tmp_path):
    def edit(data):
        data["releases"].append({"name": "fl-lost", "chart": "ranml-fl", "values": {"role": "supernode"}})

    site = load_site(_site_copy(tmp_path, "lab", edit))
    with pytest.raises(DeployError, match="superlink is required for role supernode"):
        render_release(HELM, site.releases_of("ranml-fl")[-1])
