"""The dApp and the RAN-side emulator as separate processes over the E3 link.

Shared memory: every slot gets a decision within a generous budget (no misses); at an impossible
budget every slot is a miss, answered with the fallback decision. The same loop over the Unix
socket transport.
"""

from __future__ import annotations

import json
import subprocess
import sys
import uuid

import pytest

pytestmark = pytest.mark.integration

CLI = [sys.executable, "-m", "ranml.cli.app", "dapp"]


def run_pair(tmp_path, transport, path, budget_us, rate_hz=250, duration=2.0, extra=()):
    emu = subprocess.Popen([*CLI, "emulate", "--cells", "6", "--rate-hz", str(rate_hz), "--duration", str(duration),
                            "--transport", transport, "--path", path, "--json", str(tmp_path / "emu.json")],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert '"ready": true' in emu.stderr.readline()
        dapp = subprocess.run([*CLI, "run", "prb-reservation", "--cells", "6", "--transport", transport, "--path", path,
                               "--budget-us", str(budget_us), "--json", str(tmp_path / "dapp.json"), *extra],
                              capture_output=True, text=True, timeout=120, check=False)
        assert dapp.returncode == 0, dapp.stderr[-2000:]
        assert emu.wait(timeout=60) == 0
    finally:
        if emu.poll() is None:
            emu.kill()
    return json.loads((tmp_path / "dapp.json").read_text()), json.loads((tmp_path / "emu.json").read_text())


def test_shared_memory_generous_budget_no_misses(tmp_path):
    dapp, emu = run_pair(tmp_path, "shm", f"t-{uuid.uuid4().hex[:8]}", budget_us=50_000,
                         extra=("--swap-every-s", "0.5"))
    assert emu["slots"] == 500 and dapp["slots"] == 500 and emu["controls"] == 500
    assert dapp["misses"] == 0 and dapp["fallbacks"] == 0 and dapp["swaps"] >= 2  # hot swaps missed nothing
    assert dapp["p99_us"] < 50_000


def test_shared_memory_impossible_budget_counts_misses(tmp_path):
    dapp, emu = run_pair(tmp_path, "shm", f"t-{uuid.uuid4().hex[:8]}", budget_us=0.001, duration=1.0)
    assert dapp["slots"] + dapp["skipped"] == emu["slots"] == 250
    assert dapp["misses"] == emu["slots"] and dapp["fallbacks"] == dapp["slots"]


def test_unix_socket_transport(tmp_path):
    dapp, emu = run_pair(tmp_path, "unix", str(tmp_path / "e3.sock"), budget_us=50_000)
    assert dapp["slots"] == emu["controls"] == 500 and dapp["misses"] == 0
