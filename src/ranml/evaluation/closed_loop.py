"""Closed-loop evaluation: e2sim and an xApp as separate processes over RMR on 127.0.0.1.

For each policy the scenario runs once from the same start (e2sim holds its clock until the
xApp has subscribed), and the outcome is read from e2sim's ground truth: energy, unserved
traffic, overload minutes, handovers and controls; the xApp contributes its deadline misses and
the indications it received (``dropped_indications`` = sent by e2sim − received by the xApp).
The ``none`` policy (the app observes, never acts) is the baseline for the energy saving;
``oracle`` runs the same decisions on the true future that e2sim answers at ``/future`` (the
upper bound of what a forecast can bring).
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
import threading
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ranml.errors import RanmlError

__all__ = ["POLICIES", "AppRun", "Session", "policy_row", "run_closed_loop", "run_policy", "run_session"]

log = logging.getLogger("ranml.evaluation")
POLICIES = ("none", "reactive", "forecast", "oracle")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "ranml.cli.app", *args]


@dataclass
class AppRun:
    """One xApp of a session: the app reference, its settings, extra ``ranml xapp run`` arguments."""

    app: str
    config: dict[str, Any]
    xapp_args: tuple[str, ...] = ()
    name: str = ""  # a label (defaults to the app reference)


@dataclass
class Session:
    """A running session, handed to the ``during`` callback."""

    state_port: int
    http_ports: dict[str, int]
    stop: threading.Event = field(default_factory=threading.Event)

    def state(self) -> dict[str, Any]:
        """e2sim's ground truth now."""
        return _get_json(self.state_port, "/state")


def _get_json(port: int, path: str) -> Any:
    return json.loads(_get_text(port, path))


def _get_text(port: int, path: str) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as r:
        return str(r.read().decode())


def run_session(scenario: Path, apps: list[AppRun], workdir: Path, *, tag: str = "run", speed: float | None = None,
                duration: str | None = None, timeout_s: float = 1800.0,
                during: Callable[[Session], None] | None = None, a1: bool = False) -> dict[str, Any]:
    """e2sim and one or more xApps as processes over RMR until e2sim's scenario ends.

    ``during(session)`` runs on a helper thread while e2sim runs (alias moves, sampling the
    ground truth); ``session.stop`` is set when e2sim has finished. Returns e2sim's summary
    (``truth``), and per app its stop counters and its Prometheus text taken just before the stop.
    Every child process is stopped on the way out, on errors and on Ctrl-C too.
    """
    labels = [a.name or a.app for a in apps]
    if len(set(labels)) != len(labels):
        raise RanmlError(f"session apps need distinct names, got {labels}")
    sim_port, state_port = _free_port(), _free_port()
    routes = workdir / f"routes-{tag}.rt"
    mtypes = (12010, 12020, 12040, 20012) if a1 else (12010, 12020, 12040)
    routes.write_text("newrt|start\n" + "".join(f"rte|{mt}|127.0.0.1:{sim_port}\n" for mt in mtypes)
                      + "newrt|end\n", encoding="utf-8")
    summary_file = workdir / f"e2sim-{tag}.json"
    env = {**os.environ, "RMR_SRC_ID": "127.0.0.1", "RMR_SEED_RT": str(routes)}
    sim_args = ["e2sim", "run", str(scenario), "--rmr-port", str(sim_port), "--state-port", str(state_port),
                "--json-summary", str(summary_file), "--hold", "60"]
    if speed:
        sim_args += ["--speed", str(speed)]
    if duration:
        sim_args += ["--duration", duration]
    procs: dict[str, subprocess.Popen[str]] = {}
    session = Session(state_port, {})
    helper: threading.Thread | None = None
    sim = subprocess.Popen(_cli(*sim_args), env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert sim.stderr is not None
        first = sim.stderr.readline()
        if "state_port" not in first:
            raise RanmlError(f"e2sim did not start: {first}{sim.stderr.read()[-2000:]}")
        for label, spec in zip(labels, apps, strict=True):
            xapp_port, http_port = _free_port(), _free_port()
            config_file = workdir / f"config-{tag}-{label.replace(':', '_').replace('/', '_')}.json"
            config = dict(spec.config)
            if config.get("policy") == "oracle" and not config.get("oracle_url"):
                config["oracle_url"] = f"http://127.0.0.1:{state_port}"  # the true future, from e2sim
            config_file.write_text(json.dumps(config), encoding="utf-8")
            session.http_ports[label] = http_port
            procs[label] = subprocess.Popen(
                _cli("xapp", "run", spec.app, "--rmr-port", str(xapp_port), "--http-port", str(http_port), "--state",
                     "memory", "--e2mgr-url", f"http://127.0.0.1:{state_port}", "--config", str(config_file),
                     "--name", "127.0.0.1", *spec.xapp_args),
                env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        if during is not None:
            helper = threading.Thread(target=during, args=(session,), name="closedloop-during", daemon=True)
            helper.start()
        started = time.monotonic()
        while sim.poll() is None:
            for label, proc in procs.items():
                if proc.poll() is not None:
                    raise RanmlError(f"the xApp {label} exited early: "
                                     f"{(proc.stderr.read() if proc.stderr else '')[-3000:]}")
            if time.monotonic() - started > timeout_s:
                raise RanmlError(f"{tag}: e2sim still running after {timeout_s:.0f}s")
            time.sleep(0.2)
        session.stop.set()
        if sim.returncode != 0:
            raise RanmlError(f"e2sim failed ({sim.returncode}): {(sim.stderr.read())[-3000:]}")
        results: dict[str, Any] = {}
        for label, proc in procs.items():
            try:
                metrics_text = _get_text(session.http_ports[label], "/metrics")
            except OSError:
                metrics_text = ""
            proc.send_signal(signal.SIGTERM)
            out, err = proc.communicate(timeout=60)
            if proc.returncode != 0:
                raise RanmlError(f"the xApp {label} did not stop cleanly ({proc.returncode}): {err[-3000:]}")
            results[label] = {"counters": json.loads(out.strip().splitlines()[-1]), "metrics_text": metrics_text}
    finally:
        session.stop.set()
        for proc in (*procs.values(), sim):
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=10)
        if helper is not None:
            helper.join(timeout=10)
    return {"truth": json.loads(summary_file.read_text(encoding="utf-8")), "apps": results}


def run_policy(scenario: Path, app: str, policy: str, workdir: Path, *, speed: float | None = None,
               duration: str | None = None, model: str | None = None, registry: str | None = None,
               settings: dict[str, Any] | None = None, timeout_s: float = 1800.0,
               xapp_args: tuple[str, ...] = ()) -> dict[str, Any]:
    """Run one policy; returns the result row (see :data:`POLICIES`)."""
    config = {**_policy_setting(app, policy), **(settings or {})}
    if model:
        name, _, version = model.partition("@")
        config.update({"model": name, "model_alias": version or "champion", "registry": registry})
    result = run_session(scenario, [AppRun(app, config, xapp_args)], workdir, tag=policy, speed=speed,
                         duration=duration, timeout_s=timeout_s)
    return policy_row(policy, app, result["truth"], result["apps"][app]["counters"])


def _policy_setting(app: str, policy: str) -> dict[str, Any]:
    """``{"policy": policy}`` for an app whose settings have a ``policy`` field; ``{}`` for ``none`` otherwise.

    Raises
    ------
    RanmlError
        The app has no ``policy`` setting, so it cannot be told to act otherwise than it does.
    """
    from ranml.xapp import load_app

    xapp = load_app(app)
    if xapp.config is not None and "policy" in xapp.config.model_fields:
        return {"policy": policy}
    if policy == "none":
        return {}  # the app as it is: its own behaviour is the one measured
    raise RanmlError(f"{app} has no 'policy' setting: it can only be evaluated as it is (--policy none), "
                     f"not as {policy!r}; give its settings a policy field to compare policies")


def policy_row(policy: str, app: str, truth: dict[str, Any], counters: dict[str, Any]) -> dict[str, Any]:
    """The result row of a policy from e2sim's summary and the xApp's counters."""
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
