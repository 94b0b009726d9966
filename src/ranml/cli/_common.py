"""Shared CLI plumbing: turning ranml errors into a clean message and exit code, logging setup."""

from __future__ import annotations

import functools
import logging
import sys
from collections.abc import Callable
from typing import Any, TypeVar

from rich.console import Console

from ranml.errors import RanmlError

__all__ = ["console", "err_console", "handle_errors", "setup_logging"]

F = TypeVar("F", bound=Callable[..., Any])

console = Console()
err_console = Console(stderr=True)


def setup_logging(verbose: bool) -> None:
    """Configure the root logger once, for the process the CLI runs in."""
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)


def handle_errors(fn: F) -> F:
    """Print a :class:`RanmlError` as ``error: ...`` on stderr and exit with its code."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except RanmlError as exc:
            err_console.print(f"[bold red]error:[/] {exc}", highlight=False, markup=True, soft_wrap=True)
            raise SystemExit(exc.exit_code) from None

    return wrapper  # type: ignore[return-value]
