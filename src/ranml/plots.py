"""Plot helpers for the HTML reports of the offline side (matplotlib imported on use)."""

from __future__ import annotations

import io
from typing import Any

__all__ = ["svg"]


def svg(fig: Any) -> str:
    """The figure as inline SVG markup (the figure is closed)."""
    import matplotlib.pyplot as plt

    buf = io.StringIO()
    fig.savefig(buf, format="svg", bbox_inches="tight")
    plt.close(fig)
    text = buf.getvalue()
    return text[text.find("<svg"):]
