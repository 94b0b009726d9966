"""Energy measurement with its source: RAPL, NVML, or an estimate from CPU time.

* ``rapl``: the package energy counters under ``/sys/class/powercap/intel-rapl:*/energy_uj``
  (whole package, so other load on the machine is included; wrap-around handled).
* ``nvml``: GPU board energy from NVML (``pynvml``), added when the work runs on a GPU.
* ``estimate``: CPU seconds of this process × a per-core power (watts per busy core, configurable).
  Labelled ``estimate`` everywhere it appears.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

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


def _nvml_handles() -> list[Any]:
    """NVML device handles whose total-energy counter is readable (empty without a GPU/pynvml)."""
    try:
        import pynvml  # type: ignore[import-not-found]
    except ImportError:
        return []
    try:
        pynvml.nvmlInit()
        handles = [pynvml.nvmlDeviceGetHandleByIndex(i) for i in range(pynvml.nvmlDeviceGetCount())]
        for h in handles:
            pynvml.nvmlDeviceGetTotalEnergyConsumption(h)
        return handles
    except Exception:  # any NVML error means: not readable here
        return []


def _nvml_millijoules(handles: list[Any]) -> int:
    import pynvml

    return sum(int(pynvml.nvmlDeviceGetTotalEnergyConsumption(h)) for h in handles)


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
    use_gpu
        Add the GPU board energy from NVML (when the work runs on a GPU and NVML is readable);
        the source then reads e.g. ``estimate+nvml``.
    """

    def __init__(self, watts_per_core: float = 12.0, prefer: str = "auto", use_gpu: bool = False) -> None:
        self.watts_per_core = watts_per_core
        self.prefer = prefer
        self.use_gpu = use_gpu
        self.reading: EnergyReading | None = None
        self._proc = psutil.Process()
        self._rapl: list[tuple[Path, int]] = []
        self._start: list[int] = []
        self._nvml: list[Any] = []
        self._nvml_start = 0

    def _cpu(self) -> float:
        t = self._proc.cpu_times()
        return float(t.user + t.system)

    def __enter__(self) -> EnergyMeter:
        self._rapl = _rapl_files() if self.prefer == "auto" else []
        self._start = [int(p.read_text()) for p, _ in self._rapl]
        self._nvml = _nvml_handles() if self.prefer == "auto" and self.use_gpu else []
        self._nvml_start = _nvml_millijoules(self._nvml) if self._nvml else 0
        self._cpu0 = self._cpu()
        self._wall0 = time.perf_counter()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        cpu = self._cpu() - self._cpu0
        wall = time.perf_counter() - self._wall0
        joules, sources = 0.0, []
        if self._rapl:
            total = 0
            for (path, max_range), start in zip(self._rapl, self._start, strict=True):
                end = int(path.read_text())
                total += end - start if end >= start else end + max_range - start
            joules += total / 1e6
            sources.append("rapl")
        else:
            joules += cpu * self.watts_per_core
            sources.append("estimate")
        if self._nvml:
            joules += (_nvml_millijoules(self._nvml) - self._nvml_start) / 1e3
            sources.append("nvml")
        self.reading = EnergyReading(joules, "+".join(sources), cpu, wall)
