"""A Flower federation on one machine: one SuperLink, one SuperNode per site, ``flwr run``.

Each is a separate process talking over real sockets (Flower's HTTP Fleet, Control and Runtime
APIs on 127.0.0.1), exactly as they would across machines; only the addresses differ. The Flower
App handed to ``flwr run`` is a folder with a ``pyproject.toml`` naming ranml's ``ServerApp`` and
``ClientApp``: they come from the installed ``ranml`` package, so every process must run in the
FL environment (``.venv-fl``, README: Federated learning).
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

from ranml.errors import DependencyError, FederationError
from ranml.federated.config import FederationConfig
from ranml.federated.outputs import RunFiles

__all__ = ["LocalFederation", "free_port", "wait_port"]

log = logging.getLogger("ranml.federated.deployment")

APP_PYPROJECT = """[build-system]
requires = ["setuptools>=68"]
build-backend = "setuptools.build_meta"

[project]
name = "ranml-federated"
version = "1.0.0"
description = "ranml's forecaster training across sites (the apps live in the installed ranml package)"
license = "Apache-2.0"
dependencies = []

[tool.flwr.app]
publisher = "ranml"

[tool.flwr.app.components]
serverapp = "ranml.federated.flower_server:server_app"
clientapp = "ranml.federated.flower_client:client_app"

[tool.flwr.app.config]
out = ""
spec = ""
"""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _listening(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.2)
        return s.connect_ex(("127.0.0.1", port)) == 0


def wait_port(proc: subprocess.Popen[bytes], port: int, what: str, timeout: float = 60.0) -> None:
    """Wait until ``proc`` listens on ``port``.

    Raises
    ------
    FederationError
        The process exited first, or did not listen within ``timeout``.
    """
    deadline = time.monotonic() + timeout
    while not _listening(port):
        if proc.poll() is not None:
            raise FederationError(f"{what} exited with code {proc.returncode} before listening on {port}")
        if time.monotonic() > deadline:
            raise FederationError(f"{what} did not listen on port {port} within {timeout:.0f} s")
        time.sleep(0.2)


class LocalFederation:
    """Flower's SuperLink and one SuperNode per site as local processes.

    Parameters
    ----------
    cfg
        The run's configuration (its sites name the SuperNodes).
    out
        The run's output folder (``run.json``, progress, result, model, ``logs/``).

    Construction only sets paths; :meth:`start` starts the processes and :meth:`stop` ends them.
    """

    def __init__(self, cfg: FederationConfig, out: Path) -> None:
        self.cfg = cfg
        self.files = RunFiles(out.resolve())
        self.home = self.files.root / ".flwr"
        self.link_port = 0
        self._procs: dict[str, subprocess.Popen[bytes]] = {}
        self._link_ports: dict[str, int] = {}
        self._logs: list[IO[bytes]] = []
        self._bin = Path(sys.executable).parent

    def _env(self, home: Path) -> dict[str, str]:
        env = dict(os.environ)
        env["FLWR_HOME"] = str(home)
        env["PATH"] = f"{self._bin}{os.pathsep}{env.get('PATH', '')}"
        env.setdefault("OMP_NUM_THREADS", "1")
        return env

    def _spawn(self, name: str, argv: list[str], home: Path) -> subprocess.Popen[bytes]:
        exe = self._bin / argv[0]
        if not exe.exists():
            raise DependencyError(f"{argv[0]} is not installed next to {sys.executable}; federated runs need the FL "
                                  "environment: pip install -c constraints-fl.txt -e '.[benchmark,fl]'")
        home.mkdir(parents=True, exist_ok=True)
        self.files.logs.mkdir(parents=True, exist_ok=True)
        fh = (self.files.logs / f"{name}.log").open("ab")
        self._logs.append(fh)
        proc = subprocess.Popen([str(exe), *argv[1:]], stdout=fh, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                env=self._env(home), start_new_session=True)
        self._procs[name] = proc
        return proc

    def _wait_port(self, name: str, port: int) -> None:
        try:
            wait_port(self._procs[name], port, name)
        except FederationError as exc:
            raise FederationError(f"{exc}; see {self.files.logs / (name + '.log')}") from None

    def start(self) -> LocalFederation:
        """Write the run's files and start the SuperLink and every site's SuperNode."""
        self.files.root.mkdir(parents=True, exist_ok=True)
        for stale in (self.files.progress, self.files.result, self.files.checkpoint,
                      self.home / "superlink" / "state.db"):
            stale.unlink(missing_ok=True)
        self.files.write_spec(self.cfg)
        app = self.home / "app"
        app.mkdir(parents=True, exist_ok=True)
        (app / "pyproject.toml").write_text(APP_PYPROJECT)
        self.link_port = free_port()
        link_home = self.home / "superlink"
        link_home.mkdir(parents=True, exist_ok=True)
        (link_home / "config.toml").write_text(
            f'[superlink]\ndefault = "ranml"\n\n[superlink.ranml]\naddress = "127.0.0.1:{self.link_port}"\n'
            "insecure = true\n")
        self.start_server()
        for site in self.cfg.sites:
            self.start_site(site.name)
        return self

    def start_site(self, site: str) -> None:
        """Start (or restart) the SuperNode of ``site``, behind a degraded link if its faults say so."""
        link = self.cfg.site(site).faults.link
        if link.active and f"link-{site}" not in self._procs:
            proxy = free_port()
            self._spawn(f"link-{site}", [
                "python", "-m", "ranml.federated.netem", "--listen", str(proxy), "--target", str(self.link_port),
                "--delay-ms", str(link.delay_ms), "--bandwidth-kbps", str(link.bandwidth_kbps),
                "--loss", str(link.loss), "--seed", str(self.cfg.seed)], self.home / "links")
            self._wait_port(f"link-{site}", proxy)
            self._link_ports[site] = proxy
        target = self._link_ports.get(site, self.link_port)
        port = free_port()
        self._spawn(f"site-{site}", [
            "flower-supernode", "--insecure", "--superlink", f"127.0.0.1:{target}",
            "--node-config", f'site="{site}"', "--port", str(port)], self.home / "sites" / site)
        self._wait_port(f"site-{site}", port)

    def start_server(self) -> None:
        """Start the SuperLink on the run's port (again, after :meth:`kill`)."""
        # State in SQLite, not in memory: registered SuperNodes survive a SuperLink restart
        self._spawn("superlink", ["flower-superlink", "--insecure", "--disable-runtime-dependency-installation",
                                  "--database", str(self.home / "superlink" / "state.db"),
                                  "--port", str(self.link_port)], self.home / "superlink")
        self._wait_port("superlink", self.link_port)

    def submit(self) -> subprocess.Popen[bytes]:
        """Submit the run with ``flwr run`` (the ServerApp resumes from the checkpoint if there is one).

        The configuration travels in Flower's run config (``spec``, JSON), so a SuperNode on another
        machine needs no shared file; ``out`` is where the ServerApp writes.
        """
        import tomli_w

        run_config = self.home / "run-config.toml"
        run_config.write_text(tomli_w.dumps({"out": str(self.files.root), "spec": self.files.spec.read_text()}))
        return self._spawn("flwr-run", ["flwr", "run", str(self.home / "app"), "ranml", "--stream",
                                        "--run-config", str(run_config)], self.home / "superlink")

    def kill(self, name: str) -> None:
        """Kill a process and its children at once (``superlink`` or ``site-NAME``), as a crash would."""
        proc = self._procs.pop(name, None)
        if proc is not None and proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()

    def run(self, on_round: Callable[[dict[str, Any]], None] | None = None, poll_s: float = 0.5) -> dict[str, Any]:
        """Submit the run with ``flwr run``, play the configured faults, and wait for the record.

        Parameters
        ----------
        on_round
            Called with each round's record as it lands in ``progress.jsonl``.

        Raises
        ------
        FederationError
            The run ended without a result; the message points at the logs.
        """
        import json

        faults = _FaultPlayer(self)
        submit = self.submit()
        seen = 0
        while True:
            rounds = self.files.read_progress()
            for record in rounds[seen:]:
                if on_round is not None:
                    on_round(record)
            seen = len(rounds)
            if self.files.result.exists():
                return dict(json.loads(self.files.result.read_text()))
            replaced = faults.play(seen)
            if replaced is not None:
                submit = replaced
                continue
            if submit.poll() is not None:
                time.sleep(poll_s)
                if self.files.result.exists():
                    continue
                raise FederationError(f"the federated run ended without a result (flwr run exit code "
                                      f"{submit.returncode}); see {self.files.logs}/flwr-run.log")
            time.sleep(poll_s)

    def stop(self) -> None:
        """Stop every process (SIGTERM, then SIGKILL after 10 s) and close the logs."""
        for proc in self._procs.values():
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + 10.0
        for proc in self._procs.values():
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        self._procs.clear()
        for fh in self._logs:
            fh.close()
        self._logs.clear()
        shutil.rmtree(self.home / "sites", ignore_errors=True)

    def __enter__(self) -> LocalFederation:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class _FaultPlayer:
    """Plays the run's faults (``faults.kill_site``, ``faults.restart_server``) as the rounds go by."""

    def __init__(self, federation: LocalFederation) -> None:
        self.fed = federation
        self.faults = federation.cfg.faults
        self.killed_at: float | None = None
        self.kill_done = self.restart_done = False

    def play(self, finished: int) -> subprocess.Popen[bytes] | None:
        """Act on ``finished`` rounds done; returns the new ``flwr run`` process after a server restart."""
        kill = self.faults.kill_site
        if kill is not None and not self.kill_done:
            if self.killed_at is None and finished == kill.round - 1:
                self.killed_at = time.monotonic()
            if self.killed_at is not None and f"site-{kill.site}" in self.fed._procs \
                    and time.monotonic() - self.killed_at >= kill.after_s:
                log.warning("fault: killing site %s %.1f s into round %d", kill.site, kill.after_s, kill.round)
                self.fed.kill(f"site-{kill.site}")
            if finished >= kill.round + kill.down_rounds - 1 and f"site-{kill.site}" not in self.fed._procs:
                log.warning("fault: restarting site %s after round %d", kill.site, finished)
                self.fed.start_site(kill.site)
                self.kill_done = True
        restart = self.faults.restart_server
        if restart is not None and not self.restart_done and finished >= restart.after_round:
            log.warning("fault: killing the SuperLink and the ServerApp after round %d", finished)
            self.restart_done = True
            self.fed.kill("flwr-run")
            self.fed.kill("superlink")
            self.fed.start_server()
            return self.fed.submit()
        return None
