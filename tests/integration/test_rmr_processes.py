"""`ranml rmr echo` and `ranml rmr send` as separate processes over RMR on 127.0.0.1."""

import json
import os
import subprocess
import sys

import pytest

from conftest import free_port

pytestmark = pytest.mark.integration


def test_send_and_echo_processes_round_trip(tmp_path):
    echo_port, send_port = free_port(), free_port()
    seed = tmp_path / "routes.rt"
    seed.write_text(f"newrt|start\nrte|12050|127.0.0.1:{echo_port}\nnewrt|end\n")
    env = {**os.environ, "RMR_SEED_RT": str(seed), "RMR_SRC_ID": "127.0.0.1"}
    echo = subprocess.Popen([sys.executable, "-m", "ranml.cli.app", "rmr", "echo", "--port", str(echo_port)],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        assert "listening" in echo.stderr.readline()
        out = subprocess.run([sys.executable, "-m", "ranml.cli.app", "rmr", "send", "--mtype", "12050",
                              "--payload-hex", "deadbeef", "--count", "50", "--port", str(send_port)],
                             env=env, capture_output=True, text=True, timeout=60, check=True)
        result = json.loads(out.stdout)
        assert result["sent"] == 50 and result["replies"] == 50
        assert 0 < result["rtt_p50_us"] <= result["rtt_p99_us"]
    finally:
        echo.terminate()
        echo.wait(timeout=10)
    assert echo.returncode == 0  # SIGTERM: clean exit
