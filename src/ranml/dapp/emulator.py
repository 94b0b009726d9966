"""RAN-side emulator: publishes slot records at 1 kHz (1 ms slots) or 2 kHz (0.5 ms) over the E3 link.

The per-cell PRB usage follows the benchmark's synthetic generator (its diurnal profile mapped
onto the run: slot ``i`` is second ``i * seconds_per_slot`` of the simulated day) with
slot-level AR(1) fluctuation; buffer occupancy and active UEs follow from it. Each slot is
published on time (sleep, then spin for the last 200 µs); controls coming back are read and
counted. Everything is computed before the first slot.
"""

from __future__ import annotations

import os
import socket
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from ranml.dapp.e3 import RECORD_VERSION, ShmRing, control_dtype, slot_dtype
from ranml.errors import ConfigError

__all__ = ["EmulatorStats", "RanEmulator", "slot_load"]


def slot_load(n_cells: int, slots: int, seed: int = 1, seconds_per_slot: float = 1.0) -> np.ndarray:
    """PRB usage ``[slots, n_cells]`` (0..1): the synthetic diurnal load plus slot-level noise."""
    from ranml.telemetry import generate

    day = generate(cells=n_cells, days=1, step="1min", seed=seed).frame
    per_cell = day.pivot(index="timestamp", columns="cell_id", values="prb_util").to_numpy() / 100.0  # [1440, n]
    t_min = (np.arange(slots) * seconds_per_slot / 60.0) % per_cell.shape[0]
    base = np.empty((slots, n_cells), dtype=np.float32)
    for c in range(n_cells):
        base[:, c] = np.interp(t_min, np.arange(per_cell.shape[0]), per_cell[:, c], period=per_cell.shape[0])
    rng = np.random.default_rng(seed)
    noise = np.empty_like(base)
    noise[0] = 0.0
    shocks = rng.normal(0.0, 0.03, size=base.shape).astype(np.float32)
    for i in range(1, slots):
        noise[i] = 0.9 * noise[i - 1] + shocks[i]
    return np.clip(base + noise, 0.0, 1.0)


@dataclass
class EmulatorStats:
    """What the RAN side saw."""

    slots: int = 0
    controls: int = 0
    late_publish: int = 0  # slots published more than 100 µs after their time
    max_publish_lag_us: float = 0.0

    def summary(self) -> dict[str, Any]:
        """JSON-ready."""
        return {"slots": self.slots, "controls": self.controls, "late_publish": self.late_publish,
                "max_publish_lag_us": round(self.max_publish_lag_us, 1)}


class RanEmulator:
    """Publish slots for ``n_cells`` at ``rate_hz`` over ``transport`` (``shm`` or ``unix``) at ``path``."""

    def __init__(self, n_cells: int, rate_hz: float = 1000.0, transport: str = "shm", path: str = "ranml-e3",
                 seed: int = 1, capacity: int = 64) -> None:
        if transport not in ("shm", "unix"):
            raise ConfigError(f"transport {transport!r}: use shm or unix")
        if not 1 <= rate_hz <= 4000:
            raise ConfigError(f"rate_hz {rate_hz}: use 1..4000 (1000 for 1 ms slots, 2000 for 0.5 ms)")
        self.n, self.rate_hz, self.transport, self.path = n_cells, rate_hz, transport, path
        self.seed, self.capacity = seed, capacity
        self.stats = EmulatorStats()
        self._up: ShmRing | None = None
        self._down: ShmRing | None = None
        self._server: socket.socket | None = None
        self._pending = 0

    def open(self) -> RanEmulator:
        """Create the shared-memory rings, or listen on the Unix socket."""
        if self.transport == "shm":
            self._up = ShmRing.create(f"{self.path}-up", slot_dtype(self.n), self.capacity)
            self._down = ShmRing.create(f"{self.path}-down", control_dtype(self.n), self.capacity)
        else:
            if os.path.exists(self.path):
                os.unlink(self.path)
            self._server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self._server.bind(self.path)
            self._server.listen(1)
        return self

    def close(self) -> None:
        """Remove the rings or the socket."""
        for ring in (self._up, self._down):
            if ring is not None:
                ring.close()
        if self._server is not None:
            self._server.close()
            if os.path.exists(self.path):
                os.unlink(self.path)

    def run(self, duration_s: float, accept_timeout_s: float = 30.0) -> EmulatorStats:
        """Publish ``duration_s`` worth of slots (waiting for the dApp to connect over ``unix``)."""
        slots = int(duration_s * self.rate_hz)
        load = slot_load(self.n, slots, self.seed)
        record = np.zeros((), dtype=slot_dtype(self.n))
        record["version"], record["n_cells"] = RECORD_VERSION, self.n
        control = np.zeros((), dtype=control_dtype(self.n))
        period_ns = int(1e9 / self.rate_hz)
        conn: socket.socket | None = None
        ctrl_buf = bytearray(control.dtype.itemsize)
        if self._server is not None:
            self._server.settimeout(accept_timeout_s)
            try:
                conn, _ = self._server.accept()
            except TimeoutError:
                raise ConfigError(f"no dApp connected to {self.path} in {accept_timeout_s:.0f} s") from None
            conn.setblocking(False)
        elif self._down is not None:
            deadline = time.monotonic() + accept_timeout_s
            while not self._down.attached:
                if time.monotonic() > deadline:
                    raise ConfigError(f"no dApp attached to {self.path} in {accept_timeout_s:.0f} s")
                time.sleep(0.005)
        start = time.perf_counter_ns() + 10 * period_ns
        for i in range(slots):
            due = start + i * period_ns
            while True:
                left = due - time.perf_counter_ns()
                if left <= 0:
                    break
                if left > 300_000:
                    time.sleep((left - 200_000) / 1e9)
            record["seq"] = i
            cells = record["cells"]
            cells[:, 0] = load[i]
            cells[:, 1] = load[i] * load[i] * 1.5e5
            cells[:, 2] = np.round(load[i] * 40.0)
            now = time.perf_counter_ns()
            record["t_ns"] = now
            if self._up is not None:
                self._up.publish(record)
            elif conn is not None:
                try:
                    conn.sendall(record.data)
                except (BrokenPipeError, ConnectionResetError, BlockingIOError):
                    break
            lag_us = (now - due) / 1e3
            self.stats.late_publish += lag_us > 100
            self.stats.max_publish_lag_us = max(self.stats.max_publish_lag_us, lag_us)
            self.stats.slots += 1
            self._count_controls(control, conn, ctrl_buf)
        end = time.perf_counter_ns() + 50 * period_ns
        while time.perf_counter_ns() < end:  # the last controls
            self._count_controls(control, conn, ctrl_buf)
            time.sleep(period_ns / 1e9)
        if conn is not None:
            conn.close()
        return self.stats

    def _count_controls(self, control: np.ndarray, conn: socket.socket | None, buf: bytearray) -> None:
        if self._down is not None:
            while True:
                skipped = self._down.latest(control)
                if skipped < 0:
                    return
                self.stats.controls += 1 + skipped
        elif conn is not None:
            size = len(buf)
            while True:
                try:
                    data = conn.recv(size * 64)
                except (BlockingIOError, InterruptedError):
                    return
                except (ConnectionResetError, OSError):
                    return
                if not data:
                    return
                total = self._pending + len(data)
                self.stats.controls += total // size
                self._pending = total % size
