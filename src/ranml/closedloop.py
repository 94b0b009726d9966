"""Closed-loop evaluation: e2sim and an xApp as separate processes over RMR on 127.0.0.1.

For each policy the scenario runs once from the same start (e2sim holds its clock until the
xApp has subscribed), and the outcome is read from e2sim's ground truth: energy, unserved
traffic, overload minutes, handovers and controls; the xApp contributes its deadline misses and
the indications it received (``dropped_indications`` = sent by e2sim − received by the xApp).
The ``none`` policy (the app observes, never acts) is the baseline for the energy saving.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from ranml.errors import RanmlError

__all__ = ["POLICIES", "run_closed_loop", "run_policy"]

log = logging.getLogger("ranml.closedloop")
POLICIES = ("none", "reactive", "forecast")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "ranml.cli.app", *args]


def run_policy(scenario: Path, app: str, policy: str, workdir: Path, *, speed: float | None = None,
               duration: str | None = None, model: str | None = None, registry: str | None = None,
               settings: dict[str, Any] | None = None, timeout_s: float = 1800.0,
               xapp_args: tuple[str, ...] = ()) -> dict[str, Any]:
    """Run one policy; returns the result row (see :data:`POLICIES`)."""
    sim_port, state_port, xapp_port, http_port = (_free_port() for _ in range(4))
    routes = workdir / f"routes-{policy}.rt"
    routes.write_text("newrt|start\n" + "".join(f"rte|{mt}|127.0.0.1:{sim_port}\n" for mt in (12010, 12020, 12040))
                      + "newrt|end\n", encoding="utf-8")
    config = {"policy": policy, **(settings or {})}
    if model:
        name, _, version = model.partition("@")
        config.update({"model": name, "model_alias": version or "champion", "registry": registry})
    config_file = workdir / f"config-{policy}.json"
    config_file.write_text(json.dumps(config), encoding="utf-8")
    summary_file = workdir / f"e2sim-{policy}.json"
    env = {**os.environ, "RMR_SRC_ID": "127.0.0.1", "RMR_SEED_RT": str(routes)}
    sim_args = ["e2sim", "run", str(scenario), "--rmr-port", str(sim_port), "--state-port", str(state_port),
                "--json-summary", str(summary_file), "--hold", "60"]
    if speed:
        sim_args += ["--speed", str(speed)]
    if duration:
        sim_args += ["--duration", duration]
    sim = subprocess.Popen(_cli(*sim_args), env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    xapp = None
    try:
        assert sim.stderr is not None
        first = sim.stderr.readline()
        if "state_port" not in first:
            raise RanmlError(f"e2sim did not start: {first}{sim.stderr.read()[-2000:]}")
        xapp = subprocess.Popen(_cli("xapp", "run", app, "--rmr-port", str(xapp_port), "--http-port", str(http_port),
                                     "--state", "memory", "--e2mgr-url", f"http://127.0.0.1:{state_port}",
                                     "--config", str(config_file), "--name", "127.0.0.1", *xapp_args),
                                env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        started = time.monotonic()
        while sim.poll() is None:
            if xapp.poll() is not None:
                raise RanmlError(f"the xApp exited early: {(xapp.stderr.read() if xapp.stderr else '')[-3000:]}")
            if time.monotonic() - started > timeout_s:
                raise RanmlError(f"policy {policy}: e2sim still running after {timeout_s:.0f}s")
            time.sleep(0.2)
        if sim.returncode != 0:
            raise RanmlError(f"e2sim failed ({sim.returncode}): {(sim.stderr.read())[-3000:]}")
        xapp.send_signal(signal.SIGTERM)
        out, err = xapp.communicate(timeout=60)
        if xapp.returncode != 0:
            raise RanmlError(f"the xApp did not stop cleanly ({xapp.returncode}): {err[-3000:]}")
        counters = json.loads(out.strip().splitlines()[-1])
    finally:
        for proc in (xapp, sim):
            if proc is not None and proc.poll() is None:
                proc.kill()
                proc.wait(timeout=10)
    truth = json.loads(summary_file.read_text(encoding="utf-8"))
    totals, e2 = truth["totals"], truth["e2"]
    sent = int(e2["indications_sent"])
    return {"policy": policy, "app": app, "energy_j": totals["energy_j"], "energy_kwh": totals["energy_kwh"],
            "energy_saving_pct": None, "unserved": totals["unserved_mbit"], "unserved_unit": "Mbit",
            "overload_minutes": totals["overload_minutes"], "sleep_minutes": totals["sleep_minutes"],
            "handovers_ok": totals["handovers_ok"], "handovers_failed": totals["handovers_failed"],
            "controls_ok": e2["controls_ok"], "controls_failed": e2["controls_failed"],
            "deadline_misses": counters.get("deadline_misses", 0), "indications": counters.get("indications", 0),
            "dropped_indications": max(0, sent - int(counters.get("indications", 0))),
            "simulated_s": totals["simulated_s"], "speed_achieved": truth.get("speed_achieved"),
            "model_version": counters.get("model_version"), "subscriptions_deleted":
                counters.get("subscriptions_deleted", 0), "xapp": counters}


def run_closed_loop(scenario: str | Path, app: str, policies: tuple[str, ...] = POLICIES, **kwargs: Any,
                    ) -> list[dict[str, Any]]:
    """Run the policies (adding ``none`` as the baseline); energy saving is relative to ``none``."""
    unknown = [p for p in policies if p not in POLICIES]
    if unknown:
        raise RanmlError(f"unknown policies {unknown}; use {list(POLICIES)}")
    wanted = tuple(dict.fromkeys(("none", *policies)))
    rows = []
    with tempfile.TemporaryDirectory(prefix="ranml-closedloop-") as tmp:
        for policy in wanted:
            log.info("closed loop: %s with policy %s", app, policy)
            rows.append(run_policy(Path(scenario), app, policy, Path(tmp), **kwargs))
    base = rows[0]["energy_j"]
    for row in rows:
        row["energy_saving_pct"] = round(100.0 * (base - row["energy_j"]) / base, 3) if base else None
    return [r for r in rows if r["policy"] in policies]
