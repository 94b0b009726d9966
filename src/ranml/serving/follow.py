"""Follow a registry model from a running app: a model reference, an alias follower, a served model.

Every runtime (xApp, rApp, dApp) serves a registry model the same way:

* :class:`ModelRef` — ``name@ref`` parsed once, at the edge (``ref`` an alias or a version);
* :class:`AliasFollower` — what the aliases point at now, and a thread that learns of every move
  (Redis pub/sub when the registry has it, else polling) and reports it off the hot path;
* :class:`ServedModel` — the champion in a :class:`~ranml.serving.swap.ModelSlot` (hot swap, no
  call dropped), the challenger in another while the challenger alias points elsewhere, and a
  :class:`~ranml.serving.canary.CanaryController` over both whose promote/rollback decisions are
  written back to the registry (where every follower of the model sees them).

A move of the champion alias is prepared by the follower thread and swapped in by the slot; a new
challenger (or the end of a canary) is handed to the serving thread, which takes it before its
next call, so the controller only ever changes on the thread that calls it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from ranml.errors import ConfigError, RanmlError
from ranml.serving.artefact import ModelManifest
from ranml.serving.canary import CanaryController, CanaryPolicy, Decision, RegistryAliases
from ranml.serving.registry import BaseRegistry
from ranml.serving.runtime import Forecast, Predictor
from ranml.serving.swap import ModelSlot

__all__ = ["AliasFollower", "ModelRef", "ServedModel", "SwapRecord"]

log = logging.getLogger("ranml.serving.follow")


@dataclass(frozen=True)
class ModelRef:
    """A registry model as an app names it: ``name`` and an alias or version (``ref``)."""

    name: str
    ref: str = "champion"

    @classmethod
    def parse(cls, text: str, default_ref: str = "champion") -> ModelRef:
        """``"load"`` or ``"load@champion"`` or ``"load@1.2.0"``.

        Raises
        ------
        ConfigError
            Empty name or reference, or more than one ``@``.
        """
        name, at, ref = text.strip().partition("@")
        if not name or (at and not ref) or "@" in ref:
            raise ConfigError(f"model reference {text!r}: write NAME, NAME@ALIAS or NAME@VERSION "
                              f"(e.g. load@champion)")
        return cls(name, ref or default_ref)

    def __str__(self) -> str:
        return f"{self.name}@{self.ref}"


class _Listener(Protocol):
    def get_message(self, timeout: float) -> Any: ...


class AliasFollower:
    """What a model's champion (and challenger) alias point at, now and after every move.

    Parameters
    ----------
    registry
        Local folder or Redis registry.
    model
        The followed reference: its ``ref`` is the champion alias (a version never moves).
    challenger_alias
        Alias of a canary challenger; ``None``: no canary.
    poll_s
        Polling period when the registry has no pub/sub (also the pub/sub wait).
    """

    def __init__(self, registry: BaseRegistry, model: ModelRef, challenger_alias: str | None = "challenger",
                 poll_s: float = 1.0) -> None:
        self.registry, self.model = registry, model
        self.challenger_alias, self.poll_s = challenger_alias, poll_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def resolve(self) -> tuple[str, str | None]:
        """``(champion version, challenger version or None)``; the challenger is ``None`` when it is the champion.

        Raises
        ------
        RegistryError
            The model or its champion alias does not exist.
        """
        champion = self.registry.resolve(self.model.name, self.model.ref)
        challenger = None
        if self.challenger_alias is not None:
            try:
                challenger = self.registry.resolve(self.model.name, self.challenger_alias)
            except RanmlError:
                challenger = None
        return champion, (challenger if challenger != champion else None)

    def start(self, on_move: Callable[[str, str | None], None]) -> AliasFollower:
        """Call ``on_move(champion, challenger)`` on a helper thread after each check (it compares itself)."""
        self._thread = threading.Thread(target=self._follow, args=(on_move,), name=f"alias-{self.model.name}",
                                        daemon=True)
        self._thread.start()
        return self

    def close(self) -> None:
        """Stop following."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def _listener(self) -> _Listener | None:
        subscribe = getattr(self.registry, "subscribe", None)
        if subscribe is None:
            return None
        try:
            listener: _Listener = subscribe(self.model.name)
        except Exception as exc:  # no pub/sub on this server: poll
            log.info("alias pub/sub unavailable (%s); polling every %.1fs", exc, self.poll_s)
            return None
        return listener

    def _follow(self, on_move: Callable[[str, str | None], None]) -> None:
        listener = self._listener()
        while not self._stop.is_set():
            if listener is not None:
                try:
                    listener.get_message(timeout=self.poll_s)
                except Exception as exc:  # the connection went: poll from now on
                    log.info("alias pub/sub lost (%s); polling every %.1fs", exc, self.poll_s)
                    listener = None
            else:
                self._stop.wait(self.poll_s)
            if self._stop.is_set():
                return
            try:
                champion, challenger = self.resolve()
            except RanmlError as exc:
                log.warning("cannot resolve %s aliases: %s", self.model.name, exc)
                continue
            try:
                on_move(champion, challenger)
            except Exception:  # a failed swap keeps the current versions; following goes on
                log.exception("model %s: handling the alias move failed", self.model.name)


@dataclass(frozen=True)
class SwapRecord:
    """One reaction to an alias move: what was swapped in, or what could not be loaded and why."""

    champion: str | None
    challenger: str | None
    ok: bool
    reason: str = ""
    at: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready (the apps' status and stop summaries)."""
        return {"champion": self.champion, "challenger": self.challenger, "ok": self.ok, "reason": self.reason,
                "at": self.at}


class ServedModel:
    """A registry model served by an app: hot-swapped on alias moves, canaried against a challenger.

    Parameters
    ----------
    registry
        Where the model lives.
    model
        Name and champion alias (or a fixed version).
    challenger_alias
        The canary challenger's alias; ``None`` serves the champion only.
    canary_policy
        When to promote or roll back (default :class:`~ranml.serving.canary.CanaryPolicy`).
    follow
        Follow alias moves on a helper thread (``False``: the versions found at start stay). A
        model pinned to a version (``name@1.2.0``) is never followed and runs no canary: a version
        does not move, and a polling thread would only take the serving thread's time.
    poll_s
        Alias polling period without pub/sub.
    by
        Who the registry's alias history names for this app's decisions.
    predictor_options
        Passed to each :class:`~ranml.serving.runtime.Predictor` (``threads``, ``engine``, ...).
    """

    def __init__(self, registry: BaseRegistry, model: ModelRef, challenger_alias: str | None = "challenger",
                 canary_policy: CanaryPolicy | None = None, follow: bool = True, poll_s: float = 1.0,
                 by: str = "app", **predictor_options: Any) -> None:
        self.registry, self.model = registry, model
        self.canary_policy = canary_policy or CanaryPolicy()
        self.follow, self.by = follow, by
        self.predictor_options = predictor_options
        self.follower = AliasFollower(registry, model, challenger_alias, poll_s)
        self._aliases = RegistryAliases(registry, model.name, model.ref, challenger_alias or "challenger", by=by)
        self._controller: CanaryController[ModelSlot] | None = None
        self._lock = threading.Lock()
        self._next_challenger: tuple[ModelSlot | None] | None = None  # handed to the serving thread
        self.swaps: list[SwapRecord] = []
        self.decisions: list[Decision] = []
        self.misses = 0

    # -- lifecycle ----------------------------------------------------------------------------
    def start(self) -> ServedModel:
        """Load and start the champion (and the challenger), then follow alias moves.

        Raises
        ------
        RegistryError
            The model, its alias or its files are missing or corrupt.
        """
        champion_ref, challenger_ref = self.follower.resolve()
        if self.pinned:
            challenger_ref = None  # a pinned version is served as it is: no canary that could move it
        champion = ModelSlot(self._predictor(champion_ref)).start()
        challenger = self._challenger_slot(challenger_ref) if challenger_ref else None
        self._controller = CanaryController(champion, challenger, self.canary_policy, on_decision=self._decided,
                                            salt=self.model.name)
        if self.follow and not self.pinned:
            self.follower.start(self._moved)
        log.info("model %s: serving %s%s", self.model, champion_ref,
                 f", canary challenger {challenger_ref}" if challenger is not None else "")
        return self

    def close(self) -> None:
        """Stop following alias moves."""
        self.follower.close()

    @property
    def started(self) -> bool:
        """Whether :meth:`start` has loaded the versions."""
        return self._controller is not None

    @property
    def pinned(self) -> bool:
        """Whether the reference names a version rather than an alias."""
        return self.model.ref in self.registry.versions(self.model.name)

    def _predictor(self, version: str) -> Predictor:
        return Predictor.from_registry(self.registry, self.model.name, version, **self.predictor_options)

    def _challenger_slot(self, version: str) -> ModelSlot | None:
        try:
            return ModelSlot(self._predictor(version)).start()
        except RanmlError as exc:
            self._failed(None, version, exc)
            return None

    def _failed(self, champion: str | None, challenger: str | None, exc: Exception) -> None:
        log.warning("model %s: keeping the current version, %s cannot be loaded (%s)", self.model.name,
                    champion or challenger, exc)
        self.swaps.append(SwapRecord(champion, challenger, False, str(exc), time.time()))

    # -- alias moves (follower thread) ------------------------------------------------------------
    @property
    def controller(self) -> CanaryController[ModelSlot]:
        """The canary controller (champion and challenger slots); after :meth:`start`."""
        if self._controller is None:
            raise RanmlError(f"model {self.model}: start() it before serving")
        return self._controller

    @property
    def champion(self) -> ModelSlot:
        """The champion's slot."""
        return self.controller.champion

    @property
    def challenger(self) -> ModelSlot | None:
        """The challenger's slot while a canary runs."""
        return self.controller.challenger

    def _moved(self, champion_ref: str, challenger_ref: str | None) -> None:
        """The aliases point at ``champion_ref`` / ``challenger_ref``: bring the served versions there.

        As a changed pair of versions is a new comparison, the serving thread then restarts the
        canary's scoring (:meth:`~ranml.serving.canary.CanaryController.start_canary`).
        """
        champion, challenger = self.champion, self.challenger
        pending = self._next_challenger
        current = pending[0] if pending is not None else challenger
        current_version = current.version if current is not None else None
        if (champion_ref, challenger_ref) == (champion.version, current_version):
            return
        if champion_ref != champion.version:
            reuse = current.active if current is not None and current.version == champion_ref else None
            try:
                self.replace_champion(reuse if reuse is not None else self._predictor(champion_ref), wait=True)
            except RanmlError as exc:
                self._failed(champion_ref, challenger_ref, exc)
                return
        slot = current if challenger_ref == current_version else None
        if challenger_ref is not None and slot is None:
            slot = self._challenger_slot(challenger_ref)
            if slot is None:
                return
        with self._lock:
            self._next_challenger = (slot,)
        self.swaps.append(SwapRecord(champion_ref, challenger_ref, True, "", time.time()))
        log.info("model %s: champion %s, challenger %s", self.model.name, champion_ref, challenger_ref)

    def replace_champion(self, new: Predictor, wait: bool = False) -> None:
        """Swap ``new`` in as the champion (prepared in the serving loop's idle time where it gives one).

        With ``wait`` this returns once ``new`` answers; otherwise a version the serving loop can
        prepare itself is submitted and this returns at once (the dApp's way: no thread waits).

        Raises
        ------
        RanmlError
            A swap is already in progress (``wait=False`` only).
        """
        slot = self.champion
        if not wait and not new.started and new.builds_off_thread():
            slot.submit(new)
        else:
            slot.swap(new)

    def reload(self, wait: bool = False) -> None:
        """Swap in a fresh session of the champion's own version (measures a hot swap's cost)."""
        self.replace_champion(self._predictor(self.champion.version), wait=wait)

    def _decided(self, decision: Decision) -> None:
        self.decisions.append(decision)
        try:
            self._aliases(decision)
        except RanmlError as exc:
            log.warning("could not record the canary decision in the registry: %s", exc)

    # -- serving thread -------------------------------------------------------------------------
    def _take_challenger(self) -> CanaryController[ModelSlot]:
        controller = self.controller
        if self._next_challenger is not None:
            with self._lock:
                (challenger,) = self._next_challenger
                self._next_challenger = None
            controller.start_canary(challenger)
        return controller

    @property
    def manifest(self) -> ModelManifest:
        """The champion's manifest (input steps, features, horizon, scaling)."""
        return self.champion.active.manifest

    @property
    def version(self) -> str:
        """The champion version answering now."""
        return self.champion.version if self.started else "?"

    def predict(self, cells: Sequence[str], windows: np.ndarray, issued_at: float,
                deadline_s: float | None = None) -> np.ndarray:
        """Forecasts ``[n, horizon]`` (original units), through the canary when a challenger runs."""
        controller = self._take_challenger()
        before = self._missed(controller)
        out = controller.predict(cells, windows, issued_at, deadline_s)
        self.misses += self._missed(controller) - before
        return out

    def forecast(self, cells: Sequence[str], windows: np.ndarray, deadline_s: float | None = None) -> Forecast:
        """The champion's forecast alone (no canary routing, no scoring): the dApp's per-slot call."""
        return self.champion.predict(cells, windows, deadline_s)

    def idle(self, until: float) -> None:
        """Hand the serving loop's slack (until ``perf_counter() == until``) to a swap in preparation."""
        self.champion.idle(until)

    def observe(self, cells: Sequence[str], at: float, actuals: np.ndarray) -> Decision:
        """Score earlier forecasts with actuals; the canary may decide (written to the registry)."""
        decision = self._take_challenger().observe(list(cells), at, actuals)
        if decision.action != "wait":
            log.info("canary %s: %s", decision.action, decision.reason)
        return decision

    @staticmethod
    def _missed(controller: CanaryController[ModelSlot]) -> int:
        total = int(controller.champion.metrics.misses)
        if controller.challenger is not None:
            total += int(controller.challenger.metrics.misses)
        return total

    def status(self) -> dict[str, Any]:
        """Versions, swaps, canary decisions and deadline misses (JSON-ready)."""
        challenger = self.challenger if self._controller is not None else None
        return {"model": self.model.name, "version": self.version,
                "challenger": challenger.version if challenger is not None else None,
                "swaps": [s.as_dict() for s in self.swaps], "deadline_misses": self.misses,
                "canary_decisions": [{"action": d.action, "reason": d.reason} for d in self.decisions]}
