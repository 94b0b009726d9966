"""Forecasters an xApp can use: a registry model (ONNX, hot-swapped, canaried) or a built-in one.

Both answer ``predict(cells, windows, times) -> [n, horizon]`` in the units of the target
measurement and take actuals back through ``observe`` (the registry forecaster scores its
versions with them and lets the canary decide).

* :class:`HoltForecaster`: double exponential smoothing over the window (level + trend), no model
  file; the default when an app is not given a registry model.
* :class:`RegistryForecaster`: a ``ranml.serving`` predictor resolved from a registry alias. It maps
  KPM measurements to the model's input features (calendar features are computed from the window
  times), follows alias moves (Redis pub/sub when the registry is Redis, else polling) and swaps
  the new version in between two calls, so no report is dropped; when the ``challenger`` alias
  points elsewhere, a canary by cell runs and its promote/rollback decision is written back to
  the registry.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

import numpy as np

from ranml.errors import ConfigError, RanmlError

__all__ = ["Forecaster", "HoltForecaster", "RegistryForecaster"]

log = logging.getLogger("ranml.xapp.forecast")
_CALENDAR = ("hour_sin", "hour_cos", "dow_sin", "dow_cos")


class Forecaster(Protocol):
    """What the apps need from a forecaster."""

    input_steps: int
    horizon: int
    version: str

    def predict(self, cells: Sequence[str], windows: np.ndarray, times: np.ndarray) -> np.ndarray:
        """Forecasts ``[n, horizon]`` from target windows ``[n, input_steps]`` ending at ``times``."""

    def observe(self, cells: Sequence[str], at: float, actuals: np.ndarray) -> None:
        """Actual target values of ``cells`` at ``at``."""


class HoltForecaster:
    """Level + trend smoothing over each window (vectorised over cells)."""

    def __init__(self, input_steps: int = 12, horizon: int = 4, alpha: float = 0.3, beta: float = 0.05,
                 damping: float = 0.9) -> None:
        self.input_steps, self.horizon = input_steps, horizon
        self.alpha, self.beta, self.damping = alpha, beta, damping
        self.version = "holt"
        self._steps = np.cumsum(damping ** np.arange(1, horizon + 1))

    def predict(self, cells: Sequence[str], windows: np.ndarray, times: np.ndarray) -> np.ndarray:
        """Damped-trend forecasts, never negative."""
        level = windows[:, 0].astype(np.float64).copy()
        trend = np.zeros_like(level)
        for i in range(1, windows.shape[1]):
            x = windows[:, i]
            prev = level
            level = self.alpha * x + (1 - self.alpha) * (level + trend)
            trend = self.beta * (level - prev) + (1 - self.beta) * trend
        out: np.ndarray = np.maximum(level[:, None] + trend[:, None] * self._steps[None, :], 0.0)
        return out

    def observe(self, cells: Sequence[str], at: float, actuals: np.ndarray) -> None:
        """Nothing to learn online."""


def _calendar(times: np.ndarray) -> np.ndarray:
    """hour/day-of-week sin/cos for Unix times (as the benchmark's windows compute them)."""
    hours = (times % 86400) / 3600.0
    dow = ((times // 86400 + 3) % 7) + hours / 24.0  # 1970-01-01 was a Thursday: Monday = 0
    return np.stack([np.sin(2 * np.pi * hours / 24), np.cos(2 * np.pi * hours / 24),
                     np.sin(2 * np.pi * dow / 7), np.cos(2 * np.pi * dow / 7)], axis=-1)


class RegistryForecaster:
    """A registry model behind an alias, with hot swap and canary.

    Parameters
    ----------
    registry
        A :class:`~ranml.serving.registry.BaseRegistry` (local folder or Redis).
    name
        Model name in the registry.
    feature_map
        Model feature name -> position in the app's window columns (calendar features excluded).
    alias, challenger_alias
        The aliases followed.
    poll_s
        Alias polling period when the registry has no pub/sub.
    deadline_s
        Per-call deadline handed to the predictor (its fallback answers a missed deadline).
    """

    def __init__(self, registry: Any, name: str, feature_map: Mapping[str, int], alias: str = "champion",
                 challenger_alias: str = "challenger", poll_s: float = 1.0, deadline_s: float | None = 0.05,
                 canary_policy: Any = None) -> None:
        self.registry, self.name = registry, name
        self.feature_map = dict(feature_map)
        self.alias, self.challenger_alias = alias, challenger_alias
        self.poll_s, self.deadline_s = poll_s, deadline_s
        self.canary_policy = canary_policy
        self._controller: Any = None
        self._pending: Any = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.swaps: list[dict[str, Any]] = []
        self.decisions: list[Any] = []
        self.misses = 0
        self._buf: np.ndarray | None = None

    # -- lifecycle ----------------------------------------------------------------------------
    def _load(self, ref: str) -> Any:
        from ranml.serving.runtime import Predictor

        return Predictor.from_registry(self.registry, self.name, ref).start()

    def _controller_for(self, champion: Any, challenger: Any | None) -> Any:
        from ranml.serving.canary import CanaryController, CanaryPolicy, RegistryAliases

        ctrl = CanaryController(champion, challenger if challenger is not None else champion,
                                self.canary_policy or CanaryPolicy(),
                                on_decision=self._decided, salt=self.name)
        if challenger is None:
            ctrl.challenger = None
        self._aliases = RegistryAliases(self.registry, self.name, self.alias, self.challenger_alias, by="xapp")
        return ctrl

    def _decided(self, decision: Any) -> None:
        self.decisions.append(decision)
        try:
            self._aliases(decision)
        except RanmlError as exc:
            log.warning("could not record the canary decision in the registry: %s", exc)

    def _resolve(self) -> tuple[str, str | None]:
        champion = self.registry.resolve(self.name, self.alias)
        try:
            challenger = self.registry.resolve(self.name, self.challenger_alias)
        except RanmlError:
            challenger = None
        return champion, (challenger if challenger != champion else None)

    def start(self) -> RegistryForecaster:
        """Load the alias's version (and the challenger's), start following alias moves."""
        champion_ref, challenger_ref = self._resolve()
        champion = self._load(champion_ref)
        m = champion.manifest
        unknown = [f for f in m.feature_names if f not in _CALENDAR and f not in self.feature_map]
        if unknown:
            raise ConfigError(f"model {self.name} {champion_ref} needs features {unknown}; map them to KPM "
                              f"measurements in the app config (feature_map)")
        self.input_steps, self.horizon = m.input_steps, m.horizon
        self.step_seconds = m.step_seconds
        challenger = self._try_load(challenger_ref) if challenger_ref else None
        self._controller = self._controller_for(champion, challenger)
        self._thread = threading.Thread(target=self._follow, name=f"alias-{self.name}", daemon=True)
        self._thread.start()
        return self

    def close(self) -> None:
        """Stop following aliases."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _try_load(self, ref: str) -> Any:
        try:
            return self._load(ref)
        except RanmlError as exc:
            log.warning("keeping the current model: %s@%s cannot be loaded (%s)", self.name, ref, exc)
            self.swaps.append({"ref": ref, "ok": False, "reason": str(exc), "at": time.time()})
            return None

    def _follow(self) -> None:
        """Background thread: poll (or wait on pub/sub) and prepare new versions off the hot path."""
        listener = None
        if hasattr(self.registry, "subscribe"):
            try:
                listener = self.registry.subscribe(self.name)
            except Exception as exc:  # no pub/sub: fall back to polling
                log.info("alias pub/sub unavailable (%s); polling every %.1fs", exc, self.poll_s)
        while not self._stop.is_set():
            if listener is not None:
                try:
                    listener.get_message(timeout=self.poll_s)
                except Exception:
                    listener = None
            else:
                self._stop.wait(self.poll_s)
            try:
                champion_ref, challenger_ref = self._resolve()
            except RanmlError as exc:
                log.warning("cannot resolve %s aliases: %s", self.name, exc)
                continue
            ctrl = self._controller
            cur_champion = ctrl.champion.version
            cur_challenger = ctrl.challenger.version if ctrl.challenger is not None else None
            if (champion_ref, challenger_ref) == (cur_champion, cur_challenger):
                continue
            champion = ctrl.champion if champion_ref == cur_champion else self._try_load(champion_ref)
            if champion is None:
                continue
            challenger = None
            if challenger_ref is not None:
                challenger = ctrl.challenger if challenger_ref == cur_challenger else self._try_load(challenger_ref)
            with self._lock:
                self._pending = (champion, challenger)
            self.swaps.append({"champion": champion_ref, "challenger": challenger_ref, "ok": True, "at": time.time()})
            log.info("model %s: champion %s, challenger %s ready; swapping in", self.name, champion_ref,
                     challenger_ref)

    @property
    def version(self) -> str:
        """The champion version in use."""
        return str(self._controller.champion.version) if self._controller is not None else "?"

    # -- hot path -----------------------------------------------------------------------------
    def _swap_if_ready(self) -> None:
        if self._pending is None:
            return
        with self._lock:
            champion, challenger = self._pending
            self._pending = None
        self._controller = self._controller_for(champion, challenger)

    def predict(self, cells: Sequence[str], windows: np.ndarray, times: np.ndarray) -> np.ndarray:
        """Forecasts from app windows ``[n, input_steps, columns]`` (columns as in ``feature_map``)."""
        self._swap_if_ready()
        ctrl = self._controller
        m = ctrl.champion.manifest
        n, steps = windows.shape[0], m.input_steps
        if self._buf is None or self._buf.shape[0] < n:
            self._buf = np.empty((max(n, 16), steps, len(m.feature_names)), dtype=np.float32)
        x = self._buf[:n]
        cal = None
        for j, feature in enumerate(m.feature_names):
            if feature in _CALENDAR:
                if cal is None:
                    stamps = times[:, None] - m.step_seconds * np.arange(steps - 1, -1, -1)[None, :]
                    cal = _calendar(stamps)
                x[:, :, j] = cal[:, :, _CALENDAR.index(feature)]
            else:
                x[:, :, j] = windows[:, -steps:, self.feature_map[feature]]
        before = self._missed(ctrl)
        out: np.ndarray = ctrl.predict(list(cells), x, float(times.max()) if n else 0.0, self.deadline_s)
        self.misses += self._missed(ctrl) - before
        return out

    @staticmethod
    def _missed(ctrl: Any) -> int:
        total = int(ctrl.champion.metrics.misses)
        if ctrl.challenger is not None:
            total += int(ctrl.challenger.metrics.misses)
        return total

    def observe(self, cells: Sequence[str], at: float, actuals: np.ndarray) -> None:
        """Score pending forecasts; the canary may decide (and write the decision to the registry)."""
        if self._controller is not None:
            decision = self._controller.observe(list(cells), at, actuals)
            if decision.action != "wait":
                log.info("canary %s: %s", decision.action, decision.reason)

