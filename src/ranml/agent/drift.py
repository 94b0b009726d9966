"""Drift detection on live forecast residuals, with ``river``'s detectors (ADWIN, Page-Hinkley)."""

from __future__ import annotations

from typing import Any, Literal

from ranml.errors import DependencyError

__all__ = ["DriftMonitor"]

Kind = Literal["adwin", "page-hinkley"]


class DriftMonitor:
    """One detector per site over a forecast-error stream; :meth:`update` says when it fires.

    Feed a quantity whose mean moves when the data drifts (the absolute forecast error, or its
    excess over the expected error). The detectors' bounds assume values of order one, so each
    value is divided by ``scale`` (the error's usual spread) first.

    Parameters
    ----------
    kind
        ``adwin`` (adaptive window; ``delta`` is its confidence) or ``page-hinkley``
        (``threshold`` and ``delta`` as in river).
    scale
        Typical spread of the fed values.
    """

    def __init__(self, kind: Kind = "adwin", scale: float = 1.0, **params: Any) -> None:
        if scale <= 0:
            from ranml.errors import ConfigError

            raise ConfigError(f"drift monitor: scale={scale} must be positive")
        self.kind, self.scale, self.params = kind, scale, params
        self._detectors: dict[str, Any] = {}
        self.detections: dict[str, int] = {}

    def _new(self) -> Any:
        try:
            from river import drift
        except ImportError as exc:
            raise DependencyError("drift detection needs river: pip install 'ranml[lifecycle]'") from exc
        if self.kind == "adwin":
            return drift.ADWIN(**self.params)  # type: ignore[no-untyped-call]
        return drift.PageHinkley(**self.params)

    def update(self, site: str, residual: float) -> bool:
        """Feed one residual of ``site``; ``True`` when drift is detected now."""
        detector = self._detectors.get(site)
        if detector is None:
            detector = self._detectors[site] = self._new()
        detector.update(float(residual) / self.scale)
        if detector.drift_detected:
            self.detections[site] = self.detections.get(site, 0) + 1
            return True
        return False

    def reset(self, site: str) -> None:
        """Forget a site's history (after its model changed)."""
        self._detectors.pop(site, None)
