"""The federated learning configuration (YAML): sites, model, strategy, rounds, local training."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, field_validator, model_validator

from ranml.benchmark import FileSource, SynthSource, WindowSpec
from ranml.config import RanmlModel

__all__ = [
    "STRATEGIES",
    "BaselineConfig",
    "FederationConfig",
    "KillSite",
    "LinkFaults",
    "LocalTrainConfig",
    "RestartServer",
    "RunFaults",
    "SiteConfig",
    "SiteFaults",
    "SplitConfig",
    "SplitFaults",
    "StrategyConfig",
]

PositiveInt = Annotated[int, Field(gt=0)]
STRATEGIES = ("fedavg", "fedprox", "fedtrimmedavg", "fedmedian")
"""Flower's server strategies that ranml configures (``flwr.serverapp.strategy``)."""


class LinkFaults(RanmlModel):
    """A degraded link between a site and the server (:mod:`ranml.federated.netem`); zero: none."""

    delay_ms: Annotated[float, Field(ge=0)] = 0.0
    bandwidth_kbps: Annotated[float, Field(ge=0)] = 0.0
    loss: Annotated[float, Field(ge=0, lt=1)] = 0.0

    @property
    def active(self) -> bool:
        """Whether anything is degraded."""
        return bool(self.delay_ms or self.bandwidth_kbps or self.loss)


class SiteFaults(RanmlModel):
    """Faults a site injects on purpose, to test the federation (empty: none).

    ``delay_s`` holds each answer back (a straggler once it exceeds the round timeout);
    ``malformed`` sends a broken update: ``nan`` (NaN weights), ``shape`` (a truncated array) or
    ``examples`` (a negative example count). ``rounds`` limits both to those rounds (empty: all).
    ``link`` degrades the site's connection to the server in every round.
    """

    link: LinkFaults = LinkFaults()
    delay_s: Annotated[float, Field(ge=0)] = 0.0
    malformed: Literal["nan", "shape", "examples"] | None = None
    rounds: list[PositiveInt] = []

    def rounds_or_all(self, total: int) -> set[int]:
        """The rounds the faults apply to."""
        return set(self.rounds) if self.rounds else set(range(1, total + 1))


class KillSite(RanmlModel):
    """A site's SuperNode is killed mid-round and started again later.

    SIGKILL (with its ClientApp) ``after_s`` into ``round``; it restarts once ``down_rounds``
    rounds have ended without it.
    """

    site: str
    round: PositiveInt
    down_rounds: PositiveInt = 1
    after_s: Annotated[float, Field(ge=0)] = 3.0


class RestartServer(RanmlModel):
    """The server is killed after a round and started again.

    The SuperLink (with the ServerApp) is killed after ``after_round``; it starts again, the run is
    resubmitted and resumes from the checkpoint of that round.
    """

    after_round: PositiveInt


class RunFaults(RanmlModel):
    """Faults of the federation as a whole (``faults:``); each is optional."""

    kill_site: KillSite | None = None
    restart_server: RestartServer | None = None


class SiteConfig(RanmlModel):
    """One site (an edge server next to its gNBs): its name and where its telemetry comes from.

    The data never leaves the site: only the site's own client reads ``source``.
    """

    name: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]{0,39}$")]
    source: Annotated[SynthSource | FileSource, Field(discriminator="kind")]
    faults: SiteFaults = SiteFaults()


class StrategyConfig(RanmlModel):
    """The server's aggregation strategy and round settings.

    ``fedavg`` (McMahan et al. 2017), ``fedprox`` (Li et al. 2020; the sites add
    ``proximal_mu/2 · ||w − w_global||²`` to their loss), and two robust ones, ``fedtrimmedavg``
    (the ``trim_fraction`` largest and smallest values of every weight are left out) and
    ``fedmedian`` (the element-wise median). ``fraction_train`` of the sites (at least
    ``min_train_sites``) are sampled each round; a site that has not answered within
    ``round_timeout_s`` is a straggler and the round goes on without it.
    """

    name: Literal["fedavg", "fedprox", "fedtrimmedavg", "fedmedian"] = "fedavg"
    proximal_mu: Annotated[float, Field(ge=0)] = 0.01
    trim_fraction: Annotated[float, Field(gt=0, lt=0.5)] = 0.2
    fraction_train: Annotated[float, Field(gt=0, le=1)] = 1.0
    min_train_sites: PositiveInt = 2
    round_timeout_s: Annotated[float, Field(gt=0)] = 300.0


class LocalTrainConfig(RanmlModel):
    """What each sampled site does with the global model in one round."""

    epochs: PositiveInt = 1
    batch_size: PositiveInt = 64
    lr: Annotated[float, Field(gt=0)] = 3e-3
    threads: PositiveInt = 1


class BaselineConfig(RanmlModel):
    """Centralised training on the union of the sites' data, for comparison (``epochs: 0``: none)."""

    epochs: Annotated[int, Field(ge=0)] = 20
    patience: PositiveInt = 4


class FederationConfig(RanmlModel):
    """A federated training run.

    ``personalise_epochs``: after the last round every site fine-tunes the global model for that
    many epochs on its own data and reports the error of its personalised model next to the
    global one (local adaptation, Yu et al. 2020, "Salvaging federated learning by local
    adaptation").
    """

    name: Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")]
    model: str = "mlp"
    params: dict[str, Any] = {}
    windows: WindowSpec = WindowSpec(input_steps=32, horizon=4)
    sites: list[SiteConfig]
    rounds: PositiveInt = 10
    strategy: StrategyConfig = StrategyConfig()
    local: LocalTrainConfig = LocalTrainConfig()
    personalise_epochs: Annotated[int, Field(ge=0)] = 0
    baseline: BaselineConfig = BaselineConfig()
    faults: RunFaults = RunFaults()
    seed: int = 0

    @field_validator("sites")
    @classmethod
    def _two_sites(cls, value: list[SiteConfig]) -> list[SiteConfig]:
        if len(value) < 2:
            raise ValueError("federated learning needs at least two sites; add sites")
        names = [s.name for s in value]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise ValueError(f"site names must be unique; repeated: {repeated}")
        return value

    @model_validator(mode="after")
    def _enough_sites(self) -> FederationConfig:
        if self.strategy.min_train_sites > len(self.sites):
            raise ValueError(f"strategy.min_train_sites={self.strategy.min_train_sites} is more than the "
                             f"{len(self.sites)} sites; lower it")
        kill = self.faults.kill_site
        if kill is not None:
            if kill.site not in {s.name for s in self.sites}:
                raise ValueError(f"faults.kill_site.site={kill.site!r} is not one of the sites "
                                 f"{[s.name for s in self.sites]}")
            if kill.round > self.rounds:
                raise ValueError(f"faults.kill_site.round={kill.round} is after the last round ({self.rounds})")
        restart = self.faults.restart_server
        if restart is not None and restart.after_round >= self.rounds:
            raise ValueError(f"faults.restart_server.after_round={restart.after_round} must be before the last "
                             f"round ({self.rounds})")
        if self.strategy.name == "fedtrimmedavg" and self.strategy.min_train_sites < 3:
            raise ValueError("strategy fedtrimmedavg trims the largest and smallest updates: set "
                             "strategy.min_train_sites to at least 3")
        return self

    def site(self, name: str) -> SiteConfig:
        """The site called ``name``.

        Raises
        ------
        KeyError
            No such site.
        """
        for s in self.sites:
            if s.name == name:
                return s
        raise KeyError(name)


class SplitFaults(RanmlModel):
    """Faults of a split learning run.

    ``restart_server_after_step``: the server is killed after that many steps and started again;
    the site resumes both parts from the last checkpoint.
    """

    restart_server_after_step: PositiveInt | None = None


class SplitConfig(RanmlModel):
    """A split learning run: one site holds the data and the first layers, the server the rest.

    ``cuts`` are the cut points to train and compare (the child module the site's part ends with;
    ``ranml sl cuts CONFIG`` lists them); empty: every valid one. The site's ``faults.link``
    degrades its link to the server. Both parts are checkpointed every ``checkpoint_every`` steps.
    """

    name: Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")]
    model: str = "mlp"
    params: dict[str, Any] = {}
    windows: WindowSpec = WindowSpec(input_steps=32, horizon=4)
    site: SiteConfig
    cuts: list[str] = []
    epochs: PositiveInt = 3
    batch_size: PositiveInt = 64
    lr: Annotated[float, Field(gt=0)] = 3e-3
    threads: PositiveInt = 1
    checkpoint_every: PositiveInt = 50
    step_timeout_s: Annotated[float, Field(gt=0)] = 60.0
    faults: SplitFaults = SplitFaults()
    seed: int = 0
