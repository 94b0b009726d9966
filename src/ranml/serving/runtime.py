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

Two engines run the session. On CPU the default is ONNX Runtime's C API through ctypes
(:mod:`ranml.serving.ort_capi`): the session is built without holding the GIL, so a hot swap
prepared on a helper thread does not stall the serving thread. Otherwise (another provider, or the
C library missing) the Python binding with IOBinding. Both run on pre-bound buffers.

The hot path of a one-row call works on buffers prepared in advance: the per-cell scaler is
expanded to the window's full shape once per cell (no broadcasting per call) and the latency goes
into a preallocated ring. With the C-API engine, scaling, the run, the finiteness checks and
unscaling are one call of the compiled ``ranml.serving._native`` (built by ``pip install``): for
models that run in a few µs, the numpy calls around the run cost as much as the run itself. Without
it (no C compiler at install time, a float64 window, another engine) a handful of numpy calls do
the same with identical results; finiteness is then checked with one dot product over the bound
buffer. ``benchmarks/serving.py`` measures both against a bare ``session.run``.
"""

from __future__ import annotations

import functools
import logging
import math
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

from ranml.errors import RanmlError, RegistryError
from ranml.serving.artefact import ModelManifest

if TYPE_CHECKING:
    from ranml.serving.ort_capi import NativeRuntime

__all__ = ["Forecast", "Predictor", "VersionMetrics"]

log = logging.getLogger("ranml.serving.runtime")

_LATENCY_WINDOW = 4096  # a power of two: the ring index is a mask
_RING_MASK = _LATENCY_WINDOW - 1
_CELL_CACHE_BYTES = 64 << 20  # full-shape scaler arrays kept per cell, at most this much


@functools.cache
def _available_providers() -> frozenset[str]:
    """The installed ONNX Runtime's execution providers (asked once: a hot swap should not call into it)."""
    import onnxruntime as ort

    return frozenset(ort.get_available_providers())


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
        self.latencies_us[self.calls & _RING_MASK] = latency_us
        self.calls += 1

    def percentile(self, q: float) -> float:
        """Latency percentile over the last calls (µs, linear interpolation); NaN before the first call.

        Computed from a sort rather than ``np.percentile``, whose first call in a process imports
        ``numpy.ma`` (measured: 15 ms holding the GIL, which stalled a 1 kHz serving thread).
        """
        n = min(self.calls, _LATENCY_WINDOW)
        if not n:
            return float("nan")
        ordered = np.sort(self.latencies_us[:n])
        pos = (n - 1) * q / 100.0
        lo = int(pos)
        hi = min(lo + 1, n - 1)
        return float(ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo))

    def recent_median(self, n: int = 64) -> float:
        """Median latency (µs) of the last ``n`` calls; NaN before the first call."""
        k = min(self.calls, n, _LATENCY_WINDOW)
        if not k:
            return float("nan")
        end = self.calls & _RING_MASK
        idx = (end - 1 - np.arange(k)) & _RING_MASK
        ordered = np.sort(self.latencies_us[idx])  # not np.median: its first call imports numpy.ma (15 ms)
        return float(ordered[(k - 1) // 2] + ordered[k // 2]) / 2.0

    def snapshot(self) -> dict[str, float]:
        """Plain numbers for logs and ``/metrics``."""
        return {"calls": self.calls, "errors": self.errors, "nonfinite": self.nonfinite, "misses": self.misses,
                "fallbacks": self.fallbacks, "unknown_cells": self.unknown_cells,
                "p50_us": self.percentile(50), "p99_us": self.percentile(99)}


class Forecast(NamedTuple):
    """The answer to one call (``values[n, horizon]`` in original units)."""

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


class _Bound:
    """Buffers of one batch size bound to the session, and the call that runs the model on them.

    ``run`` reads ``x`` and writes ``y``. Both are views of one array ``xy``, so that after a run
    a single dot product with ``ones`` tells whether either holds a NaN or an infinity (they
    propagate through the sum); ``x_flat``/``x_ones`` tell which.
    """

    __slots__ = ("fused", "keep", "ones", "run", "x", "x_flat", "x_ones", "xy", "y")

    def __init__(self, x_shape: Sequence[int], y_shape: Sequence[int]) -> None:
        nx, ny = math.prod(x_shape), math.prod(y_shape)
        self.xy = np.zeros(nx + ny, dtype=np.float32)
        self.x_flat = self.xy[:nx]
        self.x, self.y = self.x_flat.reshape(x_shape), self.xy[nx:].reshape(y_shape)
        self.ones = np.ones(nx + ny, dtype=np.float32)
        self.x_ones = self.ones[:nx]
        self.run: Callable[[], object] = _not_bound
        self.keep: object = None  # the native binding or IOBinding that must live as long as the buffers
        # The compiled one-row call (scale, run, check, unscale; see ort_capi.NativeBinding.one_row_call).
        self.fused: Callable[[np.ndarray, np.ndarray], np.ndarray | int] | None = None


def _not_bound() -> None:
    raise RanmlError("buffers used before they were bound to a session")


class _CellMaps(NamedTuple):
    """One cell's scaler expanded to full shape: ``z = x·a + b``, ``forecast = y·s + t``.

    The four arrays are views of ``packed`` (``[a, b, s, t]`` flat), which the compiled one-row
    call takes as one argument.
    """

    a: np.ndarray
    b: np.ndarray
    s: np.ndarray
    t: np.ndarray
    packed: np.ndarray


# Reasons for the compiled call's result codes (_native.c: 1 = non-finite input, 2 = output).
_FUSED_REASONS = {1: "non-finite input (a gap in the window)", 2: "non-finite output"}
_NOT_FAST = 3  # the window is not a C-contiguous float32 array: the numpy path takes it


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
        Calls made by :meth:`start` before the predictor takes traffic (the first runs of a new
        session are 2–3× slower; measured steady after 3–4).
    engine
        ``auto`` (the C API on CPU when available, else the Python binding), ``capi`` or
        ``python``; the one used is in :attr:`engine_used`.
    fused
        With the C-API engine, run one-row calls through the compiled one-row call when it is
        built (``False``: always the numpy path, e.g. to compare them); whether it is used is in
        :attr:`fused_used`.
    """

    def __init__(self, model: bytes, manifest: ModelManifest, version: str, threads: int = 1,
                 providers: Sequence[str] = ("CPUExecutionProvider",), warmup: int = 8,
                 engine: str = "auto", fused: bool = True) -> None:
        if not manifest.format.startswith("onnx"):
            raise RanmlError(f"the runtime serves ONNX models; {manifest.name} {version} is {manifest.format}")
        if engine not in ("auto", "capi", "python"):
            raise RanmlError(f"engine must be auto, capi or python; got {engine!r}")
        self.manifest = manifest
        self.version = version
        self.threads = threads
        self.providers = tuple(providers)
        self.warmup = warmup
        self.engine = engine
        self.engine_used: str | None = None
        self.fused = fused
        self.fused_used = False
        self.build_s: float | None = None  # how long creating the session took (set by start)
        self.metrics = VersionMetrics()
        self._model = model
        self._provider: str | None = None
        self._session: Any = None
        self._bindings: dict[int, _Bound] = {}
        self._bound1: _Bound | None = None
        self._lock = threading.Lock()
        if manifest.kind == "patch":
            raise RegistryError(
                f"{version}: a neighbourhood (patch) model is exported and parity-checked, but the online "
                "runtime does not assemble neighbourhood inputs yet; serve a series or grid model")
        self._window_dims = tuple(manifest.input_shape)
        self._grid = manifest.kind != "series"
        s = manifest.scaler
        self._cell_index = {c: i for i, c in enumerate(s.cells)}
        # Per-cell affine maps: z = x·A + B over every input feature (calendar features: A = 1,
        # B = 0), forecast = y·S + T for the target. The last row is the average cell, used for
        # cells the model was not fitted on.
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
        # One-row calls use the maps expanded to the full window/forecast shape: a plain
        # element-wise ufunc is ~4× cheaper than a broadcasting one at these sizes.
        self._cell_maps: dict[str, _CellMaps] = {}
        self._average_maps: _CellMaps | None = None
        per_cell = 2 * 4 * (int(np.prod(self._window_dims)) + int(np.prod(manifest.output_shape)))
        self._cell_cache_size = max(1, _CELL_CACHE_BYTES // per_cell)
        self._season = max(1, round(86400 / manifest.step_seconds))

    @classmethod
    def from_registry(cls, registry: Any, name: str, ref: str, **kwargs: Any) -> Predictor:
        """Load ``name@ref`` from a registry (sha256 verified) without starting it."""
        data, record = registry.load(name, ref)
        return cls(data, ModelManifest.model_validate(record.manifest), record.version, **kwargs)

    @property
    def provider(self) -> str | None:
        """The execution provider in use (after :meth:`start`)."""
        return self._provider

    @property
    def started(self) -> bool:
        """Whether the session exists and has been warmed up."""
        return self._bound1 is not None

    def start(self) -> Predictor:
        """Create the ONNX Runtime session, bind batch-1 buffers and warm up."""
        for _ in self.start_steps():
            pass
        return self

    def measure_build(self) -> float:
        """Build one more session like this version's and discard it; returns its build time (s)."""
        fresh = Predictor(self._model, self.manifest, self.version, self.threads, self.providers, 0, self.engine,
                          self.fused)
        next(fresh.start_steps())
        assert fresh.build_s is not None  # set by the session step
        return fresh.build_s

    def _providers(self) -> list[str]:
        available = _available_providers()
        return [p for p in self.providers if p in available] or ["CPUExecutionProvider"]

    def _native_engine(self) -> NativeRuntime | None:
        """The C-API runtime this version is built with, or ``None`` for the Python binding."""
        native = None
        if self.engine != "python" and self._providers()[0] == "CPUExecutionProvider":
            from ranml.serving.ort_capi import native_runtime

            native = native_runtime()
        if self.engine == "capi" and native is None:
            raise RanmlError("engine='capi' needs ONNX Runtime's C library on CPU; use engine='auto'")
        return native

    def builds_off_thread(self) -> bool:
        """Whether ``start_steps(build_off_thread=True)`` builds on a native thread (else in its step)."""
        from ranml.serving.ort_capi import compiled_helpers

        return self._native_engine() is not None and compiled_helpers() is not None

    def start_steps(self, between: Callable[[], None] | None = None, cells: Sequence[str] = (),
                    build_off_thread: bool = False) -> Iterator[str]:
        """:meth:`start` in steps, yielding between them.

        With the C API the session is built without the GIL. The Python binding holds it while it
        builds (1–2 ms for a small LSTM); there ``between`` is also called inside session creation,
        between its two native steps, so that a hot swap can place each step in the serving loop's
        slack. ``cells``: cells whose scaling maps are prepared too, one step each (a hot swap
        passes the ones the old version served: its first call on each would otherwise build them,
        measured 3× a steady call).

        ``build_off_thread`` (where :meth:`builds_off_thread`): the session is built on a native
        thread that never takes the GIL; the steps yield ``"building"`` (a cheap poll) until it is
        done, so a serving loop can step through them without ever waiting for the build.
        """
        import onnxruntime as ort

        # The registry stores a graph already optimised at the level export measured as fastest.
        runtime = self.manifest.runtime
        optimised = bool(runtime and runtime.optimized_file)
        native = self._native_engine()
        t0 = time.perf_counter()
        if native is not None:
            level = "off" if optimised else "all"
            try:
                pending = native.start_build(self._model, self.threads, level) if build_off_thread else None
                if pending is not None:
                    yield "building"
                    while not pending.done():
                        yield "building"
                    session: Any = pending.session()
                else:
                    session = native.create_session(self._model, self.threads, level)
            except RanmlError as exc:
                raise RanmlError(f"{self.manifest.name} {self.version}: {exc}") from exc
            self._provider, self.engine_used = "CPUExecutionProvider", "capi"
        else:
            session = self._python_session(ort, self._providers(), optimised, between)
            self._provider, self.engine_used = session.get_providers()[0], "python"
        self.build_s = time.perf_counter() - t0
        yield "session"
        self._session = session
        self._bound1 = self._binding(1)
        yield "bound"
        x = np.zeros([1, *self.manifest.input_shape], dtype=np.float32)
        for _ in range(self.warmup):
            np.copyto(self._bound1.x, x)
            self._bound1.run()
            yield "warmup"
        for cell in cells:
            if len(self._cell_maps) >= self._cell_cache_size:
                break
            if cell not in self._cell_maps:
                self._maps_for(cell, serving=False)
            yield "cell"
        log.info("started %s %s on %s via %s (%d threads)", self.manifest.name, self.version, self._provider,
                 self.engine_used, self.threads)

    def _python_session(self, ort: Any, providers: list[str], optimised: bool,
                        between: Callable[[], None] | None) -> Any:
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = self.threads
        opts.inter_op_num_threads = 1
        opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        opts.log_severity_level = 3
        level = ort.GraphOptimizationLevel
        opts.graph_optimization_level = level.ORT_DISABLE_ALL if optimised else level.ORT_ENABLE_ALL
        # The binding builds a session in two native calls (parse, then initialise). The optimiser
        # deny-list is read between them; reading it is our chance to run the caller's pacing hook.
        try:
            return ort.InferenceSession(self._model, opts, providers=providers,
                                        disabled_optimizers=_PauseBetweenSteps(between))
        except Exception as exc:
            raise RanmlError(f"{self.manifest.name} {self.version}: cannot create a session: {exc}") from exc

    def _binding(self, n: int) -> _Bound:
        bound = self._bindings.get(n)
        if bound is None:
            m = self.manifest
            bound = _Bound([n, *m.input_shape], [n, *m.output_shape])
            x, y = bound.x, bound.y
            if self.engine_used == "capi":
                native = self._session.bind(m.input_name, x, m.output_name, y)
                bound.run, bound.keep = native.run, native
                if n == 1 and self.fused:
                    bound.fused = native.one_row_call()
                    self.fused_used = bound.fused is not None
            else:
                io = self._session.io_binding()
                io.bind_cpu_input(m.input_name, x)
                io.bind_output(m.output_name, "cpu", 0, np.float32, list(y.shape), y.ctypes.data)
                bound.run, bound.keep = functools.partial(self._session.run_with_iobinding, io), io
            if len(self._bindings) < 8:  # keep buffers for the few batch sizes a loop uses
                self._bindings[n] = bound
        return bound

    def _execute(self, bound: _Bound) -> None:
        """Run the model on ``bound.x`` into ``bound.y``."""
        bound.run()

    def _rows(self, cells: Sequence[str]) -> np.ndarray:
        """Scaler rows for ``cells``; unknown cells use the average row and are counted."""
        unknown = len(self._A) - 1
        idx = np.empty(len(cells), dtype=np.int64)
        for i, c in enumerate(cells):
            j = self._cell_index.get(c)
            if j is None:
                self.metrics.unknown_cells += 1
                j = unknown
            idx[i] = j
        return idx

    def _maps_for(self, cell: str, serving: bool = True) -> _CellMaps:
        """Full-shape scaling maps of one cell (cached for known cells, within a memory budget).

        ``serving=False``: prepared ahead of the cell's first call (an unknown cell is not counted).
        """
        j = self._cell_index.get(cell)
        if j is None:
            if serving:
                self.metrics.unknown_cells += 1
            if self._average_maps is None:
                self._average_maps = self._expanded(len(self._A) - 1)
            return self._average_maps
        maps = self._expanded(j)
        if len(self._cell_maps) < self._cell_cache_size:
            self._cell_maps[cell] = maps
        return maps

    def served_cells(self) -> list[str]:
        """The cells this version has served (those whose scaling maps it keeps)."""
        return list(self._cell_maps)

    def _expanded(self, j: int) -> _CellMaps:
        x_shape = (1, *self._window_dims)
        y_shape = (1, *self.manifest.output_shape)
        nx, ny = math.prod(x_shape), math.prod(y_shape)
        packed = np.empty(2 * (nx + ny), dtype=np.float32)
        a, b = packed[:nx].reshape(x_shape), packed[nx : 2 * nx].reshape(x_shape)
        s, t = packed[2 * nx : 2 * nx + ny].reshape(y_shape), packed[2 * nx + ny :].reshape(y_shape)
        for view, m in ((a, self._A), (b, self._B), (s, self._S), (t, self._T)):
            view[...] = m[j]
        return _CellMaps(a, b, s, t, packed)

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
            if len(windows) == 1:
                maps = self._cell_maps.get(cells[0])
                if maps is None:
                    maps = self._maps_for(cells[0])
                bound: _Bound = self._bound1  # type: ignore[assignment]  # started: checked by the caller
                if bound.fused is not None:
                    out = bound.fused(windows, maps.packed)
                    if not isinstance(out, int):
                        return out, None  # an array
                    if out != _NOT_FAST:
                        self.metrics.nonfinite += 1
                        return None, _FUSED_REASONS[out]
                a, b, s, t = maps.a, maps.b, maps.s, maps.t
            else:
                rows = self._rows(cells)
                a, b, s, t = self._A[rows], self._B[rows], self._S[rows], self._T[rows]
                bound = self._binding(len(windows))
            # Scale straight into the bound input buffer: two ufuncs, no temporaries.
            x = bound.x
            np.multiply(windows, a, out=x)
            np.add(x, b, out=x)
            self._execute(bound)
            # Input and output checked at once (a window with a gap runs the model for nothing,
            # which is cheaper than a second check on every call).
            if not math.isfinite(np.dot(bound.xy, bound.ones)):
                self.metrics.nonfinite += 1
                if not math.isfinite(np.dot(bound.x_flat, bound.x_ones)):
                    return None, "non-finite input (a gap in the window)"
                return None, "non-finite output"
            values = bound.y * s
            values += t
        except Exception as exc:  # a failing model must not take the loop down
            self.metrics.errors += 1
            return None, f"model error: {type(exc).__name__}: {exc}"
        return values, None

    def predict(self, cells: Sequence[str], windows: np.ndarray, deadline_s: float | None = None) -> Forecast:
        """Forecast ``horizon`` steps for each row of ``windows`` (raw units) of ``cells``.

        ``windows[n, input_steps, features]`` holds the features named in the manifest, in that
        order: the KPIs in original units (the target first), then calendar features as computed by
        ``ranml.benchmark.windows`` (they are not scaled).

        Never raises for a model problem: errors, non-finite inputs or outputs and deadline misses
        return the fallback forecast with ``fallback=True`` and the reason.
        """
        t0 = time.perf_counter_ns()
        if self._bound1 is None:
            raise RanmlError(f"{self.manifest.name} {self.version}: call start() before predict()")
        if self._grid or windows.shape[1:] != self._window_dims or len(cells) != len(windows) or not len(cells):
            if self._grid:
                raise RanmlError("the runtime serves series models; grid models are served per grid")
            raise RanmlError(f"windows must be [n, {', '.join(map(str, self.manifest.input_shape))}] with one cell "
                             f"per row (n ≥ 1); got {list(windows.shape)} and {len(cells)} cells")
        with self._lock:
            values, reason = self._model_forecast(cells, windows)
            elapsed_us = (time.perf_counter_ns() - t0) / 1e3
            if values is not None and deadline_s is not None and elapsed_us > deadline_s * 1e6:
                self.metrics.misses += 1
                reason, values = f"deadline missed ({elapsed_us:.0f} us > {deadline_s * 1e6:.0f} us)", None
            if values is None:
                self.metrics.fallbacks += 1
                values = self.fallback(windows)
            m = self.metrics
            m.latencies_us[m.calls & _RING_MASK] = elapsed_us
            m.calls += 1
        return Forecast(values, self.version, reason is not None, reason, elapsed_us)
