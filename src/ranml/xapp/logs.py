"""MDC-format log lines as mdclogpy writes them: one JSON object per line.

``{"ts": <epoch ms>, "crit": "INFO", "id": "<xapp>", "mdc": {...}, "msg": "..."}``; the MDC carries
the logger name and any ``extra={"mdc": {...}}`` values. A ``logging.Formatter``, so library code
keeps logging through named loggers.
"""

from __future__ import annotations

import json
import logging

__all__ = ["MdcFormatter", "setup_mdc_logging"]

_CRIT = {"DEBUG": "DEBUG", "INFO": "INFO", "WARNING": "WARNING", "ERROR": "ERROR", "CRITICAL": "ERROR"}


class MdcFormatter(logging.Formatter):
    """Format records as mdclogpy JSON lines."""

    def __init__(self, app: str, mdc: dict[str, str] | None = None) -> None:
        super().__init__()
        self.app = app
        self.mdc = dict(mdc or {})

    def format(self, record: logging.LogRecord) -> str:
        """One JSON line."""
        mdc = {**self.mdc, "logger": record.name}
        extra = getattr(record, "mdc", None)
        if isinstance(extra, dict):
            mdc.update({str(k): str(v) for k, v in extra.items()})
        msg = record.getMessage()
        if record.exc_info:
            msg = f"{msg}\n{self.formatException(record.exc_info)}"
        return json.dumps({"ts": int(record.created * 1000), "crit": _CRIT.get(record.levelname, record.levelname),
                           "id": self.app, "mdc": mdc, "msg": msg})


def setup_mdc_logging(app: str, level: int = logging.INFO, mdc: dict[str, str] | None = None) -> None:
    """Send the root logger's output to stderr in MDC format (called by the runner, not at import)."""
    handler = logging.StreamHandler()
    handler.setFormatter(MdcFormatter(app, mdc))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
