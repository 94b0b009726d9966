import json

import pytest
from typer.testing import CliRunner

from ranml.cli.app import app

runner = CliRunner()


def test_data_synth_writes_parquet(tmp_path):
    out = tmp_path / "s.parquet"
    res = runner.invoke(app, ["data", "synth", "--cells", "4", "--days", "2", "--step", "15min", "--seed", "3",
                              "--out", str(out)])
    assert res.exit_code == 0, res.output
    from ranml.telemetry import TelemetryTable

    t = TelemetryTable.read_parquet(out)
    assert len(t.cells) == 4 and str(t.step) == "0 days 00:15:00"


def test_data_load_milan(tmp_path):
    raw = tmp_path / "raw.txt"
    raw.write_text("5\t1383260400000\t39\t1\t\t\t\t2.5\n5\t1383261000000\t39\t\t\t\t\t1.0\n")
    out = tmp_path / "m.parquet"
    res = runner.invoke(app, ["data", "load-milan", str(raw), "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert "1 squares" in res.output


def test_config_error_is_clean_with_exit_code(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("datasets: []\nmodels: [{name: lstm}]\n")
    res = runner.invoke(app, ["benchmark", "run", str(bad), "--out", str(tmp_path / "o")])
    assert res.exit_code == 2
    assert "bad.yaml:1: datasets" in res.output and "Traceback" not in res.output


def test_benchmark_run_and_show(tmp_path):
    pytest.importorskip("torch", reason="the benchmark trains torch models")
    from conftest import tiny_config

    cfg = tiny_config(tmp_path, "  - name: persistence\n")
    out = tmp_path / "o"
    res = runner.invoke(app, ["benchmark", "run", str(cfg), "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert "Leaderboard" in res.output and "Selection per control loop" in res.output
    res = runner.invoke(app, ["benchmark", "show", str(out), "--json"])
    assert res.exit_code == 0
    assert json.loads(res.output)["leaderboard"][0]["model"] == "persistence"


def test_unknown_backend(tmp_path):
    from conftest import tiny_config

    res = runner.invoke(app, ["benchmark", "run", str(tiny_config(tmp_path)), "--out", str(tmp_path / "o"),
                              "--backend", "spark"])
    assert res.exit_code == 5 and "unknown backend 'spark'" in res.output


def test_e2sim_run_on_the_example_scenario(tmp_path):
    """The command docs/e2sim.md shows, on a short simulated window."""
    pytest.importorskip("asn1tools", reason="e2sim needs the E2SM codecs: pip install 'ranml[ric]'")
    from conftest import free_port

    summary = tmp_path / "summary.json"
    result = runner.invoke(app, ["e2sim", "run", "examples/scenarios/city-small.yaml", "--speed", "7200",
                                 "--duration", "20min", "--state-port", "0", "--rmr-port", str(free_port()),
                                 "--json-summary", str(summary)])
    assert result.exit_code == 0, result.output
    printed = json.loads(result.stdout.strip().splitlines()[-1])
    assert printed["totals"]["simulated_s"] == 1200 and printed["totals"]["energy_kwh"] > 0
    data = json.loads(summary.read_text())
    assert len(data["cells"]) == 9 and data["e2"]["setups"] == 3


def test_e2sim_bad_scenario_names_the_field(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("speed: fast\n")
    result = runner.invoke(app, ["e2sim", "run", str(bad)])
    assert result.exit_code == 2 and "bad.yaml:1: speed" in result.output


def test_an_interrupt_lost_in_a_finaliser_still_exits_non_zero():
    """Ctrl-C landing in a ``__del__`` is swallowed by Python; it is delivered again and the command stops (130)."""
    import subprocess
    import sys
    import textwrap

    code = textwrap.dedent("""
        import os, signal, sys, time
        import ranml.cli.app as cli

        class Swallow:
            def __del__(self):
                os.kill(os.getpid(), signal.SIGINT)
                for _ in range(100_000):  # the handler runs in here: its KeyboardInterrupt is "ignored"
                    pass

        @cli.app.command("probe-interrupt")
        def probe() -> None:
            Swallow()
            for _ in range(20):  # the rest of a long command
                time.sleep(0.05)
            print("finished anyway")

        sys.argv = ["ranml", "probe-interrupt"]
        cli.main()
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False)
    assert "Exception ignored" in out.stderr  # the interrupt was lost in the finaliser...
    assert "finished anyway" not in out.stdout and out.returncode == 130  # ...and delivered again
