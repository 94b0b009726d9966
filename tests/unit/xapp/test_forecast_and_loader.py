"""Built-in forecaster, app loading errors, the librmr adapter's clear error without the library."""

import os
import subprocess
import sys

import numpy as np
import pytest

from ranml.errors import ConfigError
from ranml.xapp.forecast import HoltForecaster, _calendar
from ranml.xapp.loader import load_app


def test_holt_follows_a_trend_and_never_goes_negative():
    f = HoltForecaster(input_steps=8, horizon=3, alpha=0.8, beta=0.5, damping=1.0)
    rising = np.arange(8, dtype=float)[None, :] * 2.0
    falling = (20 - np.arange(8, dtype=float) * 5)[None, :]
    out = f.predict(["a", "b"], np.vstack([rising, falling]), np.array([0.0, 0.0]))
    assert out.shape == (2, 3)
    assert np.all(np.diff(out[0]) > 0) and out[0, 0] > 14
    assert np.all(out[1] >= 0)


def test_calendar_matches_the_benchmark_encoding():
    import pandas as pd

    from ranml.benchmark.windows import _calendar as bench_calendar

    times = pd.date_range("2026-03-02 07:15", periods=5, freq="5h")
    ours = _calendar(np.array([t.timestamp() for t in times]))
    assert np.allclose(ours, bench_calendar(times))


def test_load_app_errors_name_the_problem():
    assert load_app("traffic-steering").name == "traffic-steering"
    with pytest.raises(ConfigError, match="must look like"):
        load_app("nonsense")
    with pytest.raises(ConfigError, match="cannot import"):
        load_app("no_such_pkg.mod:app")
    with pytest.raises(ConfigError, match="not a ranml.xapp.XApp"):
        load_app("ranml.xapp.apps.traffic_steering:POLICY_TYPE")


def test_osc_adapter_without_librmr_is_a_clear_error():
    """In a process whose loader cannot find librmr_si.so (CI builds one and puts it on LD_LIBRARY_PATH)."""
    script = ("import asyncio\n"
              "from ranml.errors import DependencyError\n"
              "from ranml.xapp.osc_transport import OscRmrTransport, librmr_available\n"
              "if librmr_available() is None: raise SystemExit(3)\n"
              "try: asyncio.run(OscRmrTransport(4562).start())\n"
              "except DependencyError as e: print(e); raise SystemExit(0)\n"
              "raise SystemExit(1)\n")
    env = {k: v for k, v in os.environ.items() if k != "LD_LIBRARY_PATH"}
    done = subprocess.run([sys.executable, "-c", script], check=False, env=env, capture_output=True, text=True,
                          timeout=60)
    if done.returncode == 3:
        pytest.skip("librmr_si.so is installed in a system library folder: the adapter starts")
    assert done.returncode == 0, done.stderr
    assert "librmr_si.so" in done.stdout and "pure-Python" in done.stdout
