"""Typed values of the ranml Helm charts: the one source of each chart's ``values.schema.json``.

Every chart under ``helm/`` ships a ``values.schema.json`` generated from the model here
(``ranml helm schema`` writes them; a test checks the committed files match), so Helm itself
refuses a wrong site file at render time with the field's path, and Python code (the update
agent, ``ranml helm render``) validates the same values before anything reaches a cluster.

Keys are camelCase, as Helm values are by convention. Kubernetes structures that Kubernetes
validates itself (``affinity``) are passed through and checked after rendering against the
Kubernetes OpenAPI schemas.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

__all__ = ["CHART_VALUES", "DAppValues", "E2simValues", "FlValues", "RAppValues", "ServingValues", "XAppValues"]

QUANTITY = r"^[0-9]+(\.[0-9]+)?(m|k|M|G|T|Ki|Mi|Gi|Ti)?$"
HOST_PORT = r"^[A-Za-z0-9.-]+:[0-9]{1,5}$"
LABEL_VALUE = r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$"
VERSION = r"^$|^[0-9]+\.[0-9]+\.[0-9]+$"
Provider = Literal["CPUExecutionProvider", "CUDAExecutionProvider"]


class _Values(BaseModel):
    model_config = ConfigDict(extra="forbid", alias_generator=to_camel, populate_by_name=True)


class Image(_Values):
    """Container image."""

    repository: str = Field(min_length=1)
    tag: str = Field(min_length=1)
    pull_policy: Literal["Always", "IfNotPresent", "Never"] = "IfNotPresent"


class ResourceList(_Values):
    """CPU/memory (and GPU) amounts in Kubernetes quantity notation."""

    cpu: str | None = Field(default=None, pattern=QUANTITY)
    memory: str | None = Field(default=None, pattern=QUANTITY)
    gpu: int | None = Field(default=None, ge=0, alias="nvidia.com/gpu")


class Resources(_Values):
    """Requests and limits; set both on every site so that the scheduler can place the pod."""

    requests: ResourceList = Field(default_factory=lambda: ResourceList(cpu="100m", memory="256Mi"))
    limits: ResourceList = Field(default_factory=lambda: ResourceList(cpu="1", memory="1Gi"))


class Toleration(_Values):
    """A pod toleration (for dedicated edge or GPU nodes)."""

    key: str = ""
    operator: Literal["Exists", "Equal"] = "Equal"
    value: str = ""
    effect: Literal["", "NoSchedule", "PreferNoSchedule", "NoExecute"] = ""
    toleration_seconds: int | None = Field(default=None, ge=0)


class Metrics(_Values):
    """Prometheus scraping (annotations on the pod)."""

    enabled: bool = True
    path: str = "/metrics"


class Pdb(_Values):
    """PodDisruptionBudget."""

    enabled: bool = True
    min_available: int = Field(default=1, ge=0)


class SecurityContext(_Values):
    """The user the containers run as; root (0) is refused."""

    run_as_user: int = Field(default=10001, ge=1)
    run_as_group: int = Field(default=10001, ge=1)


class Artefacts(_Values):
    """Where the model registry's files come from inside the pod.

    ``pvc``: a PersistentVolumeClaim holding a registry folder, mounted read-only; ``image``: an
    init container copies the folder from an artefact image into a shared volume; ``none``: the
    registry is a Redis URL or the app runs without a model.
    """

    source: Literal["none", "pvc", "image"] = "none"
    claim_name: str = ""
    image: str = ""
    path: str = Field(default="/models", pattern=r"^/")


class Model(_Values):
    """Model the app serves: registry name, alias to follow, or a version pinned by the update agent."""

    name: str = ""
    alias: str = "champion"
    version: str = Field(default="", pattern=VERSION)
    registry: str = Field(default="", description="registry folder inside the pod, or redis://host:port/db")
    artefacts: Artefacts = Field(default_factory=Artefacts)


class Common(_Values):
    """Values every ranml chart takes."""

    site: str = Field(default="", pattern=LABEL_VALUE, description="site name (label ranml.io/site)")
    name_override: str = ""
    replicas: int = Field(default=1, ge=0)
    image: Image
    resources: Resources = Field(default_factory=Resources)
    node_selector: dict[str, str] = Field(default_factory=dict)
    tolerations: list[Toleration] = Field(default_factory=list)
    affinity: dict[str, Any] = Field(default_factory=dict)
    pod_annotations: dict[str, str] = Field(default_factory=dict)
    security_context: SecurityContext = Field(default_factory=SecurityContext)
    metrics: Metrics = Field(default_factory=Metrics)
    pdb: Pdb = Field(default_factory=Pdb)
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    ranml_common: dict[str, Any] = Field(default_factory=dict, alias="ranml-common",
                                         description="the library chart's (empty) values")
    global_: dict[str, Any] = Field(default_factory=dict, alias="global")


class RmrRoute(_Values):
    """One static route: message type to endpoint(s) (the Route Manager replaces them in a RIC)."""

    mtype: int = Field(ge=0, le=65535)
    endpoints: list[str] = Field(min_length=1, json_schema_extra={"items": {"type": "string", "pattern": HOST_PORT}})


class Rmr(_Values):
    """RMR ports and the seed route table."""

    data_port: int = Field(default=4560, ge=1, le=65535)
    route_port: int = Field(default=4561, ge=1, le=65535)
    routes: list[RmrRoute] = Field(default_factory=list)


class Sdl(_Values):
    """The RIC's DBaaS (Redis) for the SDL state store; empty host: in-memory state."""

    host: str = ""
    port: int = Field(default=6379, ge=1, le=65535)


class E2(_Values):
    """How the xApp finds nodes and subscribes."""

    e2mgr_url: str = Field(default="", alias="e2mgrUrl")
    submgr_url: str = Field(default="", alias="submgrUrl")
    nodes: list[str] = Field(default_factory=list)


class Canary(_Values):
    """A second Deployment running a candidate model version (a pod canary, not a cell subset)."""

    enabled: bool = False
    replicas: int = Field(default=1, ge=0)
    model_version: str = Field(default="", pattern=VERSION)


class XAppValues(Common):
    """``ranml-xapp``."""

    app: str = Field(min_length=1, description="built-in app name or module:app")
    transport: Literal["python", "librmr"] = "python"
    config: dict[str, Any] = Field(default_factory=dict, description="the app's settings (descriptor controls)")
    descriptor: dict[str, Any] = Field(default_factory=dict,
                                       description="OSC config-file.json; ranml helm render fills it from the app")
    http_port: int = Field(default=8080, ge=1, le=65535)
    rmr: Rmr = Field(default_factory=Rmr)
    sdl: Sdl = Field(default_factory=Sdl)
    e2: E2 = Field(default_factory=E2)
    model: Model = Field(default_factory=Model)
    canary: Canary = Field(default_factory=Canary)


class TokenSecret(_Values):
    """A Secret key holding the admin bearer token of the model server."""

    name: str = ""
    key: str = "token"


class ServingValues(Common):
    """``ranml-serving``: the FastAPI model server."""

    http_port: int = Field(default=8080, ge=1, le=65535)
    threads: int = Field(default=1, ge=1, le=64)
    providers: list[Provider] = Field(default_factory=lambda: list[Provider](["CPUExecutionProvider"]))
    model: Model = Field(default_factory=Model)
    token_secret: TokenSecret = Field(default_factory=TokenSecret)


class RAppValues(Common):
    """``ranml-rapp``: a Non-RT RIC app (VES/PM in, A1 policies out)."""

    app: str = Field(min_length=1)
    config: dict[str, Any] = Field(default_factory=dict)
    http_port: int = Field(default=8080, ge=1, le=65535)
    a1_url: str = Field(default="", description="A1-P base URL of the Near-RT RIC's A1 mediator")
    model: Model = Field(default_factory=Model)


class E3(_Values):
    """E3 link between the DU and the dApp.

    ``shm``: the host's shared-memory folder (``hostPath``, normally ``/dev/shm``) is mounted at
    ``/dev/shm`` and ``name`` is the ring's name; ``unix``: ``hostPath`` is mounted at ``/e3`` and
    ``name`` is the socket's file name there.
    """

    transport: Literal["shm", "unix"] = "shm"
    host_path: str = Field(default="/dev/shm", pattern=r"^/")
    name: str = Field(default="ranml-e3", pattern=r"^[A-Za-z0-9._-]+$")
    cells: int = Field(default=8, ge=1, le=1024, description="cells per slot record (as the DU sends)")
    budget_us: int = Field(default=1000, ge=50, description="per-slot budget, publication to control")


class DuAffinity(_Values):
    """Labels of the DU pod the dApp must sit next to (same node)."""

    match_labels: dict[str, str] = Field(default_factory=lambda: {"app": "du"})


class DAppValues(Common):
    """``ranml-dapp``: co-located with a DU, sharing memory with it."""

    app: str = Field(min_length=1)
    config: dict[str, Any] = Field(default_factory=dict)
    http_port: int = Field(default=8080, ge=1, le=65535)
    e3: E3 = Field(default_factory=E3)
    du: DuAffinity = Field(default_factory=DuAffinity)
    model: Model = Field(default_factory=Model)


class E2simValues(Common):
    """``ranml-e2sim``: the E2 node simulator, for lab clusters."""

    scenario: dict[str, Any] = Field(min_length=1, description="an e2sim scenario (the YAML file's mapping)")
    rmr_port: int = Field(default=38000, ge=1, le=65535)
    http_port: int = Field(default=8090, ge=1, le=65535, description="ground truth HTTP (/state, /healthz)")
    speed: float = Field(default=1.0, gt=0)


class FlValues(Common):
    """``ranml-fl``: one Flower role per release, in the FL training image (``.venv-fl``).

    ``superlink``: the federation's server side (cloud); ``supernode``: one site's client, next to
    its gNBs, which trains on that site's data (``site`` names it; ``superlink`` is where it
    connects). Both answer ``GET /health`` on ``httpPort``.
    """

    role: Literal["superlink", "supernode"]
    http_port: int = Field(default=9092, ge=1, le=65535, description="Flower's HTTP API (Fleet/Control/Runtime)")
    superlink: str = Field(default="", pattern=r"^$|" + HOST_PORT[1:], description="host:port (supernode role)")
    fl_site: str = Field(default="", pattern=r"^$|^[a-z0-9][a-z0-9-]{0,39}$",
                         description="the site's name in the federated run (default: the site's name)")


CHART_VALUES: dict[str, type[Common]] = {
    "ranml-xapp": XAppValues,
    "ranml-serving": ServingValues,
    "ranml-rapp": RAppValues,
    "ranml-dapp": DAppValues,
    "ranml-e2sim": E2simValues,
    "ranml-fl": FlValues,
}
