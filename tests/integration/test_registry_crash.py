"""A process killed (SIGKILL) while registering leaves the registry consistent."""

import os
import signal
import subprocess
import sys
import time

import pytest

from ranml.serving import LocalRegistry

pytestmark = pytest.mark.integration

WRITER = """
import os, sys
from ranml.serving import LocalRegistry
reg = LocalRegistry(sys.argv[1])
i = 0
print("ready", flush=True)
while True:
    reg.register("m", {"model": os.urandom(200_000), "original": os.urandom(50_000)}, {"i": i})
    reg.set_alias("m", "champion", reg.versions("m")[-1], reason=f"step {i}")
    i += 1
"""


@pytest.mark.parametrize("delay", [0.05, 0.13, 0.21, 0.37])
def test_kill_mid_register_leaves_registry_consistent(tmp_path, delay):
    root = tmp_path / "reg"
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(root)], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
        time.sleep(delay)
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    reg = LocalRegistry(root)
    assert reg.check() == []
    versions = reg.versions("m")
    for v in versions:
        data, rec = reg.load("m", v)
        assert len(data) == 200_000 and rec.manifest["i"] >= 0
    if versions:
        assert reg.aliases("m").get("champion", versions[-1]) in versions
    # a new writer can carry on after the crash
    reg.register("m", {"model": b"after crash"}, {"i": -1})
    assert reg.load("m", reg.versions("m")[-1])[0] == b"after crash"
