"""Keep freed memory inside the process while a job trains (glibc malloc tuning).

Why: glibc serves every allocation above its mmap threshold (at most 32 MiB) with a fresh
``mmap`` and gives it back with ``munmap`` when freed. Training allocates such blocks on every
batch (attention scores of a batch of 128 windows of 168 steps are 58 MB, say), so each batch
faults in and zeroes every page again: measured on a Transformer job, 15 million minor page faults
and 32 % of the CPU time in the kernel. With ``mmap`` off and a high trim threshold, freed blocks
stay in the heap and are reused: 0.4 million faults, 3 % system time (``benchmarks/scaleout.py``).

After the job the defaults come back and :c:func:`malloc_trim` returns the free memory to the
system. On a C library other than glibc this does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from typing import Any

__all__ = ["keep_freed_memory"]

log = logging.getLogger("ranml.benchmark.allocator")

_M_TRIM_THRESHOLD = -1
_M_MMAP_MAX = -4
_DEFAULT_TRIM_THRESHOLD = 128 * 1024
_DEFAULT_MMAP_MAX = 65536
_KEEP_TRIM_THRESHOLD = 2**31 - 1  # the largest int mallopt takes: keep the heap top during the job


@lru_cache(maxsize=1)
def _glibc() -> Any:
    """The process's glibc, or ``None`` (musl, macOS, Windows)."""
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        libc = ctypes.CDLL(name)
        libc.gnu_get_libc_version  # noqa: B018 (only glibc has it)
        libc.mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
        libc.malloc_trim.argtypes = [ctypes.c_size_t]
    except (OSError, AttributeError):
        return None
    return libc


@contextmanager
def keep_freed_memory(enabled: bool = True) -> Iterator[bool]:
    """Within the block, glibc reuses freed memory instead of unmapping it; yields whether it applied.

    Parameters
    ----------
    enabled
        ``False`` leaves the allocator as it is (the baseline of the benchmark).
    """
    libc = _glibc() if enabled else None
    if libc is None:
        yield False
        return
    applied = bool(libc.mallopt(_M_MMAP_MAX, 0)) and bool(libc.mallopt(_M_TRIM_THRESHOLD, _KEEP_TRIM_THRESHOLD))
    try:
        yield applied
    finally:
        libc.mallopt(_M_MMAP_MAX, _DEFAULT_MMAP_MAX)
        libc.mallopt(_M_TRIM_THRESHOLD, _DEFAULT_TRIM_THRESHOLD)
        libc.malloc_trim(0)
