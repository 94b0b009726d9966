"""``ranml demo --quick`` end to end: benchmark, registry, xApps against e2sim, a promotion and a
rollback, zero dropped indications, the three-policy comparison, and a screenshot of the report in
headless Chromium (kept in ``build/test-output/demo/`` for a person to look at)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("torch", reason="the demo trains models: pip install 'ranml[benchmark]'")
pytest.importorskip("asn1tools", reason="the demo's xApps need the E2SM codecs: pip install 'ranml[ric]'")

pytestmark = [pytest.mark.integration, pytest.mark.slow]

KEEP = Path(__file__).resolve().parents[2] / "build" / "test-output" / "demo"


@pytest.fixture(scope="module")
def demo_report(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo") / "demo-report"
    done = subprocess.run([sys.executable, "-m", "ranml.cli.app", "demo", "--quick", "--out", str(out)],
                          capture_output=True, text=True, timeout=900, check=False)
    assert done.returncode == 0, (done.stdout + done.stderr)[-4000:]
    KEEP.mkdir(parents=True, exist_ok=True)
    for name in ("index.html", "summary.json"):
        shutil.copy(out / name, KEEP / name)
    return out


def test_summary_shows_promotion_rollback_and_the_four_policies(demo_report):
    summary = json.loads((demo_report / "summary.json").read_text())
    assert {"leaderboard_models", "selection", "promotions", "rollbacks", "dropped_indications",
            "closed_loop"} <= set(summary)
    assert len(summary["leaderboard_models"]) >= 3
    assert [e["loop"] for e in summary["selection"]] == ["dapp", "xapp", "rapp"]
    assert [p["to"] for p in summary["promotions"]] == ["1.1.0"], summary["timeline"]
    assert summary["rollbacks"] and summary["rollbacks"][-1]["from"] == "1.2.0", summary["timeline"]
    assert summary["dropped_indications"] == 0
    rows = {r["policy"]: r for r in summary["closed_loop"]}
    assert set(rows) == {"none", "reactive", "forecast", "oracle"}
    assert rows["none"]["energy_saving_pct"] == 0 and rows["forecast"]["energy_saving_pct"] > 0
    assert rows["oracle"]["energy_saving_pct"] > 0  # the same planner on e2sim's true future
    for r in rows.values():
        assert {"policy", "energy_saving_pct", "overload_minutes"} <= set(r)
    page = (demo_report / "index.html").read_text()
    assert page.count("<svg") >= 5 and "Canary timeline" in page  # pareto, KPIs, timeline, latency, power


def test_report_screenshot_in_headless_chromium(demo_report):
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        pytest.skip("Chromium is not installed (apt-get install chromium); .ci/run installs it")
    shot = KEEP / "index.png"
    subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                    f"--screenshot={shot}", "--window-size=1280,3200", (demo_report / "index.html").as_uri()],
                   capture_output=True, timeout=120, check=True)
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 50_000  # a rendered page, not a blank one


def test_ctrl_c_stops_every_child(tmp_path):
    """SIGINT while the closed loop runs: the demo exits and no child process is left behind."""
    import signal
    import time

    psutil = pytest.importorskip("psutil", reason="process inspection needs psutil")
    proc = subprocess.Popen([sys.executable, "-m", "ranml.cli.app", "demo", "--quick", "--out", str(tmp_path / "r")],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    parent = psutil.Process(proc.pid)
    children: list = []
    deadline = time.monotonic() + 300
    def cmdline(p):  # short-lived helpers (e.g. the benchmark's probes) may be gone or zombies already
        try:
            return " ".join(p.cmdline())
        except psutil.Error:
            return ""

    while time.monotonic() < deadline and proc.poll() is None:
        children = [c for c in parent.children(recursive=True) if "xapp" in cmdline(c)]
        if children:
            break
        time.sleep(0.2)
    assert children, "the closed loop never started"
    everyone = parent.children(recursive=True)
    proc.send_signal(signal.SIGINT)
    proc.communicate(timeout=60)
    assert proc.returncode != 0  # interrupted
    _, alive = psutil.wait_procs(everyone, timeout=15)
    assert not alive, [cmdline(p) for p in alive]
