"""ONNX Runtime sessions through its C API (ctypes): built and run without holding the GIL.

The Python binding of ONNX Runtime holds the GIL while it builds a session (measured here: 1–2 ms
for a small LSTM, in one piece), so a hot swap prepared on a background thread stalls the serving
thread for that long. The same ``onnxruntime`` wheel ships the C library (``libonnxruntime.so``)
whose ``OrtApi`` function table is ABI-stable (entries are only ever appended). Calling it through
ctypes releases the GIL for the whole native call, so a session is built on a helper thread while
the serving thread keeps answering, and each run also leaves the GIL to other threads.

Only what the runtime needs is bound: environment, session options (threads, optimisation level),
a session from bytes, tensors over caller-owned numpy buffers, and ``Run`` into pre-bound outputs.
CPU only; other execution providers go through the Python binding.

Two compiled helpers (``ranml.serving._native``, built by ``pip install``; see ``_native.c``) use
the same function table: a one-row forecast in one native call
(:meth:`NativeBinding.one_row_call`) and a session build on a native thread that never takes the
GIL (:meth:`NativeRuntime.start_build`). Where they are not built, the ctypes paths serve.

The library is loaded lazily, once per process (ONNX Runtime allows one environment per process
and library copy); :func:`native_runtime` returns ``None`` where it is not available.
"""

from __future__ import annotations

import ctypes
import functools
import importlib
import logging
import sys
import threading
import weakref
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from ranml.errors import RanmlError

__all__ = ["OPTIMIZATION_LEVELS", "NativeBinding", "NativeRuntime", "NativeSession", "PendingSession",
           "compiled_helpers", "native_runtime"]

log = logging.getLogger("ranml.serving.ort_capi")

#: ``GraphOptimizationLevel`` values of the C API.
OPTIMIZATION_LEVELS = {"off": 0, "basic": 1, "extended": 2, "all": 99}

_API_VERSION = 17  # the oldest table with everything used here is far older; 17 = ORT 1.17
_P = ctypes.c_void_p
_PP = ctypes.POINTER(ctypes.c_void_p)
_STR = ctypes.c_char_p
_SIZE = ctypes.c_size_t
_INT = ctypes.c_int
_FLOAT_TENSOR = 1  # ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT
_LOG_ERROR = 3  # ORT_LOGGING_LEVEL_ERROR

# Index in the OrtApi table, result type and argument types of each function used.
_FUNCTIONS: dict[str, tuple[int, Any, tuple[Any, ...]]] = {
    "GetErrorMessage": (2, _STR, (_P,)),
    "CreateEnv": (3, _P, (_INT, _STR, _PP)),
    "CreateSessionFromArray": (8, _P, (_P, _STR, _SIZE, _P, _PP)),
    "Run": (9, _P, (_P, _P, ctypes.POINTER(_STR), _PP, _SIZE, ctypes.POINTER(_STR), _SIZE, _PP)),
    "CreateSessionOptions": (10, _P, (_PP,)),
    "SetSessionExecutionMode": (13, _P, (_P, _INT)),
    "SetSessionLogSeverityLevel": (22, _P, (_P, _INT)),
    "SetSessionGraphOptimizationLevel": (23, _P, (_P, _INT)),
    "SetIntraOpNumThreads": (24, _P, (_P, _INT)),
    "SetInterOpNumThreads": (25, _P, (_P, _INT)),
    "CreateTensorWithDataAsOrtValue": (49, _P, (_P, _P, _SIZE, ctypes.POINTER(ctypes.c_int64), _SIZE, _INT, _PP)),
    "CreateCpuMemoryInfo": (69, _P, (_INT, _INT, _PP)),
    "ReleaseStatus": (93, None, (_P,)),
    "ReleaseSession": (95, None, (_P,)),
    "ReleaseValue": (96, None, (_P,)),
    "ReleaseSessionOptions": (100, None, (_P,)),
}


class _ApiBase(ctypes.Structure):
    _fields_ = [("GetApi", ctypes.CFUNCTYPE(_P, ctypes.c_uint32)), ("GetVersionString", ctypes.CFUNCTYPE(_STR))]


def _library_path() -> Path | None:
    try:
        import onnxruntime
    except ImportError:
        return None
    folder = Path(onnxruntime.__file__).parent / "capi"
    pattern = {"win32": "onnxruntime.dll", "darwin": "libonnxruntime*.dylib"}.get(sys.platform, "libonnxruntime.so*")
    found = sorted(folder.glob(pattern))
    return found[0] if found else None


@functools.cache
def native_runtime() -> NativeRuntime | None:
    """The process's C-API runtime, loaded on first use; ``None`` where the library is missing."""
    path = _library_path()
    if path is None:
        log.info("no ONNX Runtime C library next to the Python package; using the Python binding")
        return None
    try:
        return NativeRuntime(path)
    except (OSError, AttributeError, RanmlError) as exc:
        log.warning("cannot use the ONNX Runtime C library at %s (%s); using the Python binding", path, exc)
        return None


class NativeRuntime:
    """The loaded C library, its function table, one environment and the CPU memory description.

    Parameters
    ----------
    path
        ``libonnxruntime`` of the installed ``onnxruntime`` package.
    """

    def __init__(self, path: Path) -> None:
        lib = ctypes.CDLL(str(path))
        lib.OrtGetApiBase.restype = ctypes.POINTER(_ApiBase)
        base = lib.OrtGetApiBase().contents
        self.version = (base.GetVersionString() or b"?").decode()
        table = base.GetApi(_API_VERSION)
        if not table:
            raise RanmlError(f"ONNX Runtime {self.version} does not offer C API version {_API_VERSION}")
        entries = ctypes.cast(table, _PP)
        self.api_address: int = table  # the OrtApi table (the compiled helpers index it too)
        self._lib = lib  # keeps the library loaded as long as the functions are used
        self.fn: dict[str, Any] = {
            name: ctypes.CFUNCTYPE(res, *args)(entries[index]) for name, (index, res, args) in _FUNCTIONS.items()
        }
        env, memory = _P(), _P()
        self.check(self.fn["CreateEnv"](_LOG_ERROR, b"ranml", ctypes.byref(env)))
        self.check(self.fn["CreateCpuMemoryInfo"](0, 0, ctypes.byref(memory)))  # device allocator, default memory
        self.env, self.cpu_memory = env, memory  # process lifetime: never released
        self._session_options: dict[tuple[int, str], ctypes.c_void_p] = {}  # process lifetime, like env
        self._options_lock = threading.Lock()
        log.info("ONNX Runtime %s C API loaded from %s", self.version, path)

    def _options(self, threads: int, optimization: str) -> ctypes.c_void_p:
        """Session options for ``(threads, optimization)``, made once and kept for the process."""
        key = (threads, optimization)
        with self._options_lock:
            opts = self._session_options.get(key)
            if opts is None:
                fn, opts = self.fn, _P()
                self.check(fn["CreateSessionOptions"](ctypes.byref(opts)))
                try:
                    self.check(fn["SetIntraOpNumThreads"](opts, threads))
                    self.check(fn["SetInterOpNumThreads"](opts, 1))
                    self.check(fn["SetSessionExecutionMode"](opts, 0))  # sequential
                    self.check(fn["SetSessionLogSeverityLevel"](opts, _LOG_ERROR))
                    self.check(fn["SetSessionGraphOptimizationLevel"](opts, OPTIMIZATION_LEVELS[optimization]))
                except RanmlError:
                    fn["ReleaseSessionOptions"](opts)
                    raise
                self._session_options[key] = opts
            return opts

    def check(self, status: int | None, what: str = "ONNX Runtime") -> None:
        """Raise :class:`RanmlError` with ONNX Runtime's message when ``status`` is an error."""
        if status:
            message = (self.fn["GetErrorMessage"](status) or b"").decode(errors="replace")
            self.fn["ReleaseStatus"](status)
            raise RanmlError(f"{what}: {message}")

    def create_session(self, model: bytes, threads: int = 1, optimization: str = "off") -> NativeSession:
        """Build a session from ONNX bytes (the GIL is released while ONNX Runtime works).

        Parameters
        ----------
        model
            The serialised ONNX model (weights inside: no external data).
        threads
            Intra-op threads.
        optimization
            ``off``, ``basic``, ``extended`` or ``all`` (see :data:`OPTIMIZATION_LEVELS`).
        """
        if optimization not in OPTIMIZATION_LEVELS:
            raise RanmlError(f"optimization must be one of {sorted(OPTIMIZATION_LEVELS)}; got {optimization!r}")
        handle = _P()
        # One foreign call per build: every call releases and retakes the GIL, and each retake
        # while a serving thread runs can cost that thread a wake-up (slow on a busy VM).
        self.check(self.fn["CreateSessionFromArray"](self.env, model, len(model), self._options(threads, optimization),
                                                     ctypes.byref(handle)), "cannot create a session")
        return NativeSession(self, handle)

    def start_build(self, model: bytes, threads: int = 1, optimization: str = "off") -> PendingSession | None:
        """Start building a session on a native thread that never takes the GIL; returns at once.

        ``None`` where the compiled helper module is not built (then use :meth:`create_session`).
        Poll :meth:`PendingSession.done` and collect with :meth:`PendingSession.session`.
        """
        if optimization not in OPTIMIZATION_LEVELS:
            raise RanmlError(f"optimization must be one of {sorted(OPTIMIZATION_LEVELS)}; got {optimization!r}")
        native = compiled_helpers()
        if native is None:
            return None
        options = self._options(threads, optimization)
        build = native.NativeBuild(self.api_address, self.env.value or 0, options.value or 0, model)
        build.start()
        return PendingSession(self, build)


class PendingSession:
    """A session being built on a native thread (see :meth:`NativeRuntime.start_build`)."""

    def __init__(self, runtime: NativeRuntime, build: Any) -> None:
        self.runtime = runtime
        self._build = build

    def done(self) -> bool:
        """Whether the build has finished (never blocks)."""
        return bool(self._build.done())

    def session(self) -> NativeSession:
        """The built session (waits for the build, with the GIL released, if it is not done).

        Raises
        ------
        RanmlError
            The build failed (ONNX Runtime's message), or the session was already collected.
        """
        try:
            address = self._build.result()
        except RuntimeError as exc:
            raise RanmlError(f"cannot create a session: {exc}") from exc
        return NativeSession(self.runtime, _P(address))


@functools.cache
def compiled_helpers() -> Any:
    """The compiled module ``ranml.serving._native``, or ``None`` where it was not built."""
    try:
        native = importlib.import_module("ranml.serving._native")  # a C extension, not a sibling .py file
    except ImportError as exc:  # built by `pip install`; missing where there was no C compiler
        log.info("the compiled helpers are not available (%s); using the ctypes and numpy paths", exc)
        return None
    return native


class NativeSession:
    """One C-API session; released when closed or garbage-collected."""

    def __init__(self, runtime: NativeRuntime, handle: ctypes.c_void_p) -> None:
        self.runtime = runtime
        self.handle = handle
        self._finalizer = weakref.finalize(self, runtime.fn["ReleaseSession"], handle)

    def bind(self, input_name: str, x: np.ndarray, output_name: str, y: np.ndarray) -> NativeBinding:
        """Tensors over ``x`` and ``y`` (float32, C-contiguous, kept alive by the binding)."""
        return NativeBinding(self, input_name, x, output_name, y)

    def close(self) -> None:
        """Release the native session (bindings made from it must not be run afterwards)."""
        self._finalizer()


class NativeBinding:
    """One input and one output tensor over caller-owned buffers, ready for :meth:`run`."""

    def __init__(self, session: NativeSession, input_name: str, x: np.ndarray, output_name: str,
                 y: np.ndarray) -> None:
        for label, a in (("input", x), ("output", y)):
            if a.dtype != np.float32 or not a.flags.c_contiguous:
                raise RanmlError(f"the {label} buffer must be C-contiguous float32; got {a.dtype}")
        rt = session.runtime
        self.session, self.x, self.y = session, x, y
        self._values = [self._tensor(rt, x), self._tensor(rt, y)]
        self._finalizer = weakref.finalize(self, _release_values, rt.fn["ReleaseValue"], list(self._values))
        self._names = (input_name.encode(), output_name.encode())
        self._input_names = (_STR * 1)(self._names[0])
        self._output_names = (_STR * 1)(self._names[1])
        self._inputs = (_P * 1)(self._values[0])
        self._outputs = (_P * 1)(self._values[1])
        self._check = rt.check
        # Bound once: a run is one foreign call with pre-converted arguments.
        self._call = functools.partial(rt.fn["Run"], session.handle, None, self._input_names, self._inputs, 1,
                                       self._output_names, 1, self._outputs)

    @staticmethod
    def _tensor(rt: NativeRuntime, a: np.ndarray) -> ctypes.c_void_p:
        shape = (ctypes.c_int64 * a.ndim)(*a.shape)
        value = _P()
        rt.check(rt.fn["CreateTensorWithDataAsOrtValue"](rt.cpu_memory, a.ctypes.data, a.nbytes, shape, a.ndim,
                                                         _FLOAT_TENSOR, ctypes.byref(value)))
        return value

    def one_row_call(self) -> Callable[[np.ndarray, np.ndarray], np.ndarray | int] | None:
        """The compiled one-row call over this binding (see ``_native.c``); ``None`` if not built.

        ``call(window, maps)`` scales ``window`` into ``x`` with ``maps = [A, B, S, T]`` (flat,
        float32), runs the session and returns ``y * S + T`` as a new array, or an int: 1 =
        non-finite input (not run), 2 = non-finite output, 3 = ``window`` is not a C-contiguous
        float32 array of ``x``'s size. Raises ``RuntimeError`` with ONNX Runtime's message when the
        run fails.
        """
        native = compiled_helpers()
        if native is None:
            return None
        session, (x_value, y_value) = self.session, self._values
        call = native.OneRowCall(session.runtime.api_address, session.handle.value or 0, self._names[0],
                                   x_value.value or 0, self._names[1], y_value.value or 0, self.x, self.y, self)
        return call.run

    def run(self) -> None:
        """Run the model on the input buffer; the output buffer holds the result afterwards."""
        status = self._call()
        if status:
            self._check(status, "run failed")


def _release_values(release: Any, values: list[ctypes.c_void_p]) -> None:
    for v in values:
        release(v)
