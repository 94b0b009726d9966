"""Fault injection on e2sim's RMR side, scheduled in simulated time by the scenario."""

from __future__ import annotations

import random
from dataclasses import dataclass

from ranml.e2sim.scenario import FaultSpec, seconds

__all__ = ["FaultInjector", "Outgoing", "Transition"]


@dataclass(frozen=True)
class Transition:
    """A restart or disconnect fault starting or ending."""

    fault: FaultSpec
    starting: bool


@dataclass(frozen=True)
class Outgoing:
    """What to do with one outgoing payload: copies to send (0 = dropped) and their delay (s)."""

    payloads: tuple[bytes, ...]
    delay_s: float


class FaultInjector:
    """Answers "which faults are active at simulated time t" and applies them to payloads."""

    def __init__(self, faults: list[FaultSpec], seed: int = 0) -> None:
        self.windows = [(f, seconds(f.at), seconds(f.at) + seconds(f.duration)) for f in faults]
        self.rng = random.Random(seed)
        self.dropped = self.duplicated = self.corrupted = self.delayed = 0

    def active(self, t: float, kind: str) -> list[FaultSpec]:
        """Faults of ``kind`` active at ``t``."""
        return [f for f, a, b in self.windows if f.kind == kind and a <= t < b]

    def transitions(self, t0: float, t1: float) -> list[Transition]:
        """Restart/disconnect faults that start or end in ``(t0, t1]``, in time order."""
        out = []
        for f, a, b in self.windows:
            if f.kind not in ("restart", "disconnect"):
                continue
            if t0 < a <= t1:
                out.append((a, Transition(f, True)))
            if t0 < b <= t1:
                out.append((b, Transition(f, False)))
        return [t for _, t in sorted(out, key=lambda x: x[0])]

    def disconnected(self, t: float) -> bool:
        """Whether a disconnect fault is active."""
        return bool(self.active(t, "disconnect"))

    def outgoing(self, t: float, payload: bytes) -> Outgoing:
        """Apply drop / corrupt / duplicate / delay faults active at ``t`` to one payload."""
        rng = self.rng
        if self.disconnected(t) or any(rng.random() * 100 < f.percent for f in self.active(t, "drop")):
            self.dropped += 1
            return Outgoing((), 0.0)
        for f in self.active(t, "corrupt"):
            if rng.random() * 100 < f.percent and payload:
                data = bytearray(payload)
                for _ in range(f.corrupt_bytes):
                    data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
                payload = bytes(data)
                self.corrupted += 1
        copies = 1
        for f in self.active(t, "duplicate"):
            if rng.random() * 100 < f.percent:
                copies += 1
                self.duplicated += 1
        delay = 0.0
        for f in self.active(t, "delay"):
            delay += max(0.0, (f.delay_ms + rng.uniform(-f.jitter_ms, f.jitter_ms)) / 1000.0)
        if delay:
            self.delayed += 1
        return Outgoing((payload,) * copies, delay)

    def counters(self) -> dict[str, int]:
        """How many messages each fault touched."""
        return {"dropped": self.dropped, "duplicated": self.duplicated, "corrupted": self.corrupted,
                "delayed": self.delayed}
