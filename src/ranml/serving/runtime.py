"""The in-process runtime: a deadline-aware ``Predictor`` around an ONNX Runtime session.

The apps (xApp, rApp, dApp runtimes) embed it; they never see ONNX Runtime directly. A call takes
raw windows (original units, ``[n, input_steps, features]``) and the cell of each row, applies the
per-cell scaler from the manifest, runs the model on pre-bound buffers and returns forecasts in
original units. If the model raises, returns non-finite values or takes longer than the call's
deadline, the caller gets a fallback forecast (seasonal naive from the window it passed, or
persistence when the window is shorter than a day) and the event is counted for that version.

The deadline is checked when the call returns (ONNX Runtime cannot be pre-empted cheaply at kHz
rates); a miss therefore still costs the call's time, and is reported so that the control loop and
the canary policy can act on it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ranml.errors import RanmlError
from ranml.serving.artefact import ModelManifest

__all__ = ["Forecast", "Predictor", "VersionMetrics"]

log = logging.getLogger("ranml.serving.runtime")

_LATENCY_WINDOW = 4096


@dataclass
class VersionMetrics:
    """Counters and a rolling latency window for one model version."""

    calls: int = 0
    errors: int = 0
    nonfinite: int = 0
    misses: int = 0
    fallbacks: int = 0
    unknown_cells: int = 0
    latencies_us: np.ndarray = field(default_factory=lambda: np.zeros(_LATENCY_WINDOW))

    def record(self, latency_us: float) -> None:
        """Add one call's latency to the rolling window."""
        self.latencies_us[self.calls % _LATENCY_WINDOW] = latency_us
        self.calls += 1

    def percentile(self, q: float) -> float:
        """Latency percentile over the last calls (µs); NaN before the first call."""
        n = min(self.calls, _LATENCY_WINDOW)
        return float(np.percentile(self.latencies_us[:n], q)) if n else float("nan")

    def snapshot(self) -> dict[str, float]:
        """Plain numbers for logs and ``/metrics``."""
        return {"calls": self.calls, "errors": self.errors, "nonfinite": self.nonfinite, "misses": self.misses,
                "fallbacks": self.fallbacks, "unknown_cells": self.unknown_cells,
                "p50_us": self.percentile(50), "p99_us": self.percentile(99)}


@dataclass(frozen=True)
class Forecast:
    """The answer to one call."""

    values: np.ndarray
    version: str
    fallback: bool
    reason: str | None
    latency_us: float


class _PauseBetweenSteps(set[str]):
    """An empty optimiser deny-list that runs ``hook`` when ONNX Runtime reads it."""

    def __init__(self, hook: Callable[[], None] | None) -> None:
        super().__init__()
        self._hook = hook

    def __iter__(self) -> Iterator[str]:
        if self._hook is not None:
            self._hook()
        return super().__iter__()


class Predictor:
    """A model version ready to answer within a deadline.

    Construction is cheap; :meth:`start` creates the session, binds buffers and warms it up.

    Parameters
    ----------
    model
        ONNX bytes (``files["model"]`` of a registry version).
    manifest
        The version's manifest.
    version
        The version string (metrics and answers are labelled with it).
    threads
        ONNX Runtime intra-op threads.
    providers
        Execution providers in order of preference; the one actually used is in :attr:`provider`.
    warmup
        Calls made by :meth:`start` before the predictor takes traffic.
    """

    def __init__(self, model: bytes, manifest: ModelManifest, version: str, threads: int = 1,
                 providers: Sequence[str] = ("CPUExecutionProvider",), warmup: int = 20) -> None:
        if not manifest.format.startswith("onnx"):
            raise RanmlError(f"the runtime serves ONNX models; {manifest.name} {version} is {manifest.format}")
        self.manifest = manifest
        self.version = version
        self.threads = threads
        self.providers = tuple(providers)
        self.warmup = warmup
        self.metrics = VersionMetrics()
        self._between_steps: Callable[[], None] | None = None
        self._model = model
        self._session: Any = None
        self._bindings: dict[int, tuple[Any, np.ndarray, np.ndarray]] = {}
        self._lock = threading.Lock()
        s = manifest.scaler
        self._cell_index = {c: i for i, c in enumerate(s.cells)}
        # Per-cell affine maps precomputed for the hot path: z = x·A + B over every input feature
        # (calendar features: A = 1, B = 0), forecast = y·S + T for the target. The last row is the
        # average cell, used for cells the model was not fitted on.
        shift = np.asarray(s.shift, dtype=np.float64)
        scale = np.asarray(s.scale, dtype=np.float64)
        shift = np.vstack([shift, shift.mean(axis=0)])
        scale = np.vstack([scale, scale.mean(axis=0)])
        n_in = manifest.input_shape[-1] if manifest.kind == "series" else 1
        k = min(shift.shape[1], n_in)
        a = np.ones((len(shift), n_in))
        b = np.zeros((len(shift), n_in))
        a[:, :k] = 1.0 / scale[:, :k]
        b[:, :k] = -shift[:, :k] / scale[:, :k]
        t = s.target_index
        self._A = a.astype(np.float32)[:, None, :]
        self._B = b.astype(np.float32)[:, None, :]
        self._S = scale[:, t : t + 1].astype(np.float32)
        self._T = shift[:, t : t + 1].astype(np.float32)
        self._season = max(1, round(86400 / manifest.step_seconds))

    @classmethod
    def from_registry(cls, registry: Any, name: str, ref: str, **kwargs: Any) -> Predictor:
        """Load ``name@ref`` from a registry (sha256 verified) without starting it."""
        data, record = registry.load(name, ref)
        return cls(data, ModelManifest.model_validate(record.manifest), record.version, **kwargs)

    @property
    def provider(self) -> str | None:
        """The execution provider in use (after :meth:`start`)."""
        return self._session.get_providers()[0] if self._session is not None else None

    @property
    def started(self) -> bool:
        """Whether the session exists and has been warmed up."""
        return self._session is not None

    def start(self) -> Predictor:
        """Create the ONNX Runtime session, bind batch-1 buffers and warm up."""
        for _ in self.start_steps():
            pass
        return self

    def start_steps(self, between: Callable[[], None] | None = None) -> Iterator[str]:
        """:meth:`start` in steps, yielding between them.

        Creating a session holds the GIL for about a millisecond (measured: 1.0–1.5 ms for a small
        LSTM); a hot swap runs each step right after the serving thread finished a call, so the
        step uses the loop's slack instead of stalling a call in flight. ``between`` is also called
        inside session creation, between its two native steps.
        """
        import onnxruntime as ort

        self._between_steps = between
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = self.threads
        opts.inter_op_num_threads = 1
        opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        opts.log_severity_level = 3
        runtime = self.manifest.runtime
        # The registry stores a graph already optimised at the level export measured as fastest.
        level = ort.GraphOptimizationLevel
        opts.graph_optimization_level = (level.ORT_DISABLE_ALL if runtime and runtime.optimized_file
                                         else level.ORT_ENABLE_ALL)
        available = set(ort.get_available_providers())
        providers = [p for p in self.providers if p in available] or ["CPUExecutionProvider"]
        # ONNX Runtime builds a session in two native calls (parse, then initialise), each holding
        # the GIL for ~0.7 ms here. The optimiser deny-list is read between them; reading it is our
        # chance to let the caller's pacing hook run, so each call lands in the serving loop's slack.
        pause = _PauseBetweenSteps(self._between_steps)
        try:
            session = ort.InferenceSession(self._model, opts, providers=providers, disabled_optimizers=pause)
        except Exception as exc:
            raise RanmlError(f"{self.manifest.name} {self.version}: cannot create a session: {exc}") from exc
        yield "session"
        self._session = session
        self._binding(1)
        yield "bound"
        x = np.zeros([1, *self.manifest.input_shape], dtype=np.float32)
        for _ in range(self.warmup):
            self._run_scaled(x)
            yield "warmup"
        log.info("started %s %s on %s (%d threads)", self.manifest.name, self.version, self.provider, self.threads)

    def _binding(self, n: int) -> tuple[Any, np.ndarray, np.ndarray]:
        bound = self._bindings.get(n)
        if bound is None:
            m = self.manifest
            x = np.zeros([n, *m.input_shape], dtype=np.float32)
            y = np.zeros([n, *m.output_shape], dtype=np.float32)
            io = self._session.io_binding()
            io.bind_cpu_input(m.input_name, x)
            io.bind_output(m.output_name, "cpu", 0, np.float32, list(y.shape), y.ctypes.data)
            bound = (io, x, y)
            if len(self._bindings) < 8:  # keep buffers for the few batch sizes a loop uses
                self._bindings[n] = bound
        return bound

    def _run_scaled(self, z: np.ndarray) -> np.ndarray:
        io, x, y = self._binding(len(z))
        np.copyto(x, z, casting="same_kind")
        return self._execute(io, y)

    def _execute(self, io: Any, y: np.ndarray) -> np.ndarray:
        """Run the session on bound buffers; returns the bound output buffer (reused next call)."""
        self._session.run_with_iobinding(io)
        return y

    def _rows(self, cells: Sequence[str]) -> slice | np.ndarray:
        """Scaler rows for ``cells`` (a slice for one cell: no copy); unknown cells use the average."""
        unknown = len(self._A) - 1
        if len(cells) == 1:
            j = self._cell_index.get(cells[0])
            if j is None:
                self.metrics.unknown_cells += 1
                j = unknown
            return slice(j, j + 1)
        idx = np.empty(len(cells), dtype=np.int64)
        for i, c in enumerate(cells):
            j = self._cell_index.get(c)
            if j is None:
                self.metrics.unknown_cells += 1
                j = unknown
            idx[i] = j
        return idx

    def fallback(self, windows: np.ndarray) -> np.ndarray:
        """Seasonal-naive forecast from raw windows (persistence when shorter than a season).

        Gaps (NaN) in the seasonal values are filled with the last finite value of the window.
        """
        h = self.manifest.horizon
        t = self.manifest.scaler.target_index
        series = windows[:, :, t].astype(np.float32)
        steps = series.shape[1]
        finite = np.isfinite(series)
        last_idx = np.where(finite.any(axis=1), steps - 1 - np.argmax(finite[:, ::-1], axis=1), 0)
        last = np.nan_to_num(series[np.arange(len(series)), last_idx])
        if steps >= self._season:
            idx = [steps - self._season + (k % self._season) for k in range(h)]
            out = series[:, idx]
            return np.where(np.isfinite(out), out, last[:, None]).astype(np.float32)
        return np.repeat(last[:, None], h, axis=1).astype(np.float32)

    def _model_forecast(self, cells: Sequence[str], windows: np.ndarray) -> tuple[np.ndarray | None, str | None]:
        """Run the model; ``(values, None)`` on success, ``(None, reason)`` when it cannot be used."""
        try:
            rows = self._rows(cells)
            io, x, y = self._binding(len(windows))
            # Scale straight into the bound input buffer: two ufuncs, no temporaries.
            np.multiply(windows, self._A[rows], out=x)
            np.add(x, self._B[rows], out=x)
            out = self._execute(io, y)
            values = out * self._S[rows]
            values += self._T[rows]
        except Exception as exc:  # a failing model must not take the loop down
            self.metrics.errors += 1
            return None, f"model error: {type(exc).__name__}: {exc}"
        if not np.isfinite(values).all():
            self.metrics.nonfinite += 1
            return None, "non-finite output"
        return values, None

    def predict(self, cells: Sequence[str], windows: np.ndarray, deadline_s: float | None = None) -> Forecast:
        """Forecast ``horizon`` steps for each row of ``windows`` (raw units) of ``cells``.

        ``windows[n, input_steps, features]`` holds the features named in the manifest, in that
        order: the KPIs in original units (the target first), then calendar features as computed by
        ``ranml.benchmark.data.windows`` (they are not scaled).

        Never raises for a model problem: errors, non-finite outputs and deadline misses return the
        fallback forecast with ``fallback=True`` and the reason.
        """
        if self._session is None:
            raise RanmlError(f"{self.manifest.name} {self.version}: call start() before predict()")
        if self.manifest.kind != "series":
            raise RanmlError("the runtime serves series models; grid models are served per grid")
        if windows.ndim != 3 or list(windows.shape[1:]) != self.manifest.input_shape or len(cells) != len(windows):
            raise RanmlError(f"windows must be [n, {', '.join(map(str, self.manifest.input_shape))}] with one cell "
                             f"per row; got {list(windows.shape)} and {len(cells)} cells")
        t0 = time.perf_counter_ns()
        reason = None
        values: np.ndarray | None = None
        with self._lock:
            if np.isfinite(windows).all():
                values, reason = self._model_forecast(cells, windows)
            else:
                self.metrics.nonfinite += 1
                reason = "non-finite input (a gap in the window)"
            elapsed_us = (time.perf_counter_ns() - t0) / 1e3
            if values is not None and deadline_s is not None and elapsed_us > deadline_s * 1e6:
                self.metrics.misses += 1
                reason, values = f"deadline missed ({elapsed_us:.0f} us > {deadline_s * 1e6:.0f} us)", None
            if values is None:
                self.metrics.fallbacks += 1
                values = self.fallback(windows)
            self.metrics.record(elapsed_us)
        return Forecast(values=values, version=self.version, fallback=reason is not None, reason=reason,
                        latency_us=elapsed_us)
