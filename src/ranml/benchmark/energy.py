"""Energy measurement with its source: RAPL, NVML, or an estimate from CPU time.

* ``rapl``: the package energy counters under ``/sys/class/powercap/intel-rapl:*/energy_uj``
  (whole package, so other load on the machine is included; wrap-around handled).
* ``nvml``: GPU board energy from NVML (``pynvml``), when a GPU is in use.
* ``estimate``: CPU seconds of this process × a per-core power (watts per busy core, configurable).
  Labelled ``estimate`` everywhere it appears.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

import psutil

__all__ = ["EnergyMeter", "EnergyReading", "rapl_available"]

log = logging.getLogger("ranml.benchmark.energy")
_RAPL = Path("/sys/class/powercap")


@dataclass(frozen=True)
class EnergyReading:
    """Energy in joules and where the number comes from."""

    joules: float
    source: str
    cpu_seconds: float
    wall_seconds: float


def _rapl_files() -> list[tuple[Path, int]]:
    out = []
    for zone in sorted(_RAPL.glob("intel-rapl:*")):
        if zone.name.count(":") != 1:
            continue  # sub-zones (core, dram) are inside the package zone
        energy, max_range = zone / "energy_uj", zone / "max_energy_range_uj"
        try:
            int(energy.read_text())
            out.append((energy, int(max_range.read_text())))
        except (OSError, ValueError):
            continue
    return out


def rapl_available() -> bool:
    """Whether RAPL package counters can be read by this process."""
    return bool(_rapl_files())


class EnergyMeter:
    """Context manager measuring the energy of the enclosed work.

    Parameters
    ----------
    watts_per_core
        Power of one busy core for the estimate (used when no counter is readable).
    prefer
        ``"auto"`` (RAPL if readable, else estimate) or ``"estimate"`` to force the estimate.
    """

    def __init__(self, watts_per_core: float = 12.0, prefer: str = "auto") -> None:
        self.watts_per_core = watts_per_core
        self.prefer = prefer
        self.reading: EnergyReading | None = None
        self._proc = psutil.Process()
        self._rapl: list[tuple[Path, int]] = []
        self._start: list[int] = []

    def _cpu(self) -> float:
        t = self._proc.cpu_times()
        return float(t.user + t.system)

    def __enter__(self) -> EnergyMeter:
        self._rapl = _rapl_files() if self.prefer == "auto" else []
        self._start = [int(p.read_text()) for p, _ in self._rapl]
        self._cpu0 = self._cpu()
        self._wall0 = time.perf_counter()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        cpu = self._cpu() - self._cpu0
        wall = time.perf_counter() - self._wall0
        if self._rapl:
            total = 0
            for (path, max_range), start in zip(self._rapl, self._start, strict=True):
                end = int(path.read_text())
                total += end - start if end >= start else end + max_range - start
            self.reading = EnergyReading(total / 1e6, "rapl", cpu, wall)
        else:
            self.reading = EnergyReading(cpu * self.watts_per_core, "estimate", cpu, wall)
