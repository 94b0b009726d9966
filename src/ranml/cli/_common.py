"""Shared CLI plumbing: turning ranml errors into a clean message and exit code, logging setup."""

from __future__ import annotations

import functools
import logging
import os
import sys
from collections.abc import Callable
from typing import Any, TypeVar

from rich.console import Console

from ranml.errors import RanmlError

__all__ = ["console", "err_console", "handle_errors", "setup_logging"]

F = TypeVar("F", bound=Callable[..., Any])

# Tables are wide; when output is not a terminal (logs, CI) rich would wrap them at 80 columns.
console = Console(width=None if sys.stdout.isatty() else 160)
err_console = Console(stderr=True, width=None if sys.stderr.isatty() else 160)


def setup_logging(verbose: bool) -> None:
    """Configure the root logger once, for the process the CLI runs in."""
    level = logging.INFO if verbose else logging.WARNING
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    # dask.distributed configures its own loggers (INFO) when first imported, from dask's config;
    # the environment variable reaches that config in this process and in worker processes.
    os.environ.setdefault("DASK_LOGGING__DISTRIBUTED", "info" if verbose else "warning")


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
