"""E3-style link between the RAN (DU) and a dApp: fixed-size records, shared memory or a Unix socket.

Records (numpy structured types, little-endian, fixed size for ``n_cells``):

* slot (RAN → dApp): ``version`` u16 (:data:`RECORD_VERSION`), ``n_cells`` u16, ``seq`` u64,
  ``t_ns`` u64 (CLOCK_MONOTONIC when the slot was published), ``cells`` f32[n_cells, 3] = PRB usage
  (0..1), buffer occupancy (bytes), active UEs; a record with another version or cell count is
  rejected and counted by the dApp;
* control (dApp → RAN): ``seq`` u64 (the slot it answers), ``t_ns`` u64 (that slot's time),
  ``done_ns`` u64 (when the decision was written), ``flags`` u32 (:data:`FALLBACK`),
  ``prb_reserve`` f32[n_cells] (share of PRBs to reserve per cell).

:class:`ShmRing` is a single-producer single-consumer ring in POSIX shared memory
(``multiprocessing.shared_memory``): a header of u64 words (magic, record size, capacity, write
sequence) then ``capacity`` records. The writer fills a record, then publishes it by advancing the
write sequence; the reader copies the newest record into a buffer it owns and checks the record's
own ``seq`` afterwards, so a record overwritten while being copied is detected (seqlock style).
Nothing is allocated per record on either side.

:class:`UnixLink` carries the same records over a Unix stream socket (``recv_into`` a
preallocated buffer) for deployments that cannot share memory.
"""

from __future__ import annotations

import contextlib
import os
import socket
import time
from multiprocessing import shared_memory
from typing import Any

import numpy as np

from ranml.errors import ConfigError

__all__ = ["FALLBACK", "RECORD_VERSION", "ShmLink", "ShmRing", "UnixLink", "control_dtype", "slot_dtype"]

FALLBACK = 1
RECORD_VERSION = 1
_MAGIC = 0x45335249  # "E3RI"
_HEADER_WORDS = 8
_W_SEQ = 3  # header word holding the number of records published
_ATTACHED = 4  # header word the consumer sets when it has attached


def slot_dtype(n_cells: int) -> np.dtype[Any]:
    """The slot record for ``n_cells`` cells."""
    return np.dtype([("version", "<u2"), ("n_cells", "<u2"), ("pad", "<u4"), ("seq", "<u8"), ("t_ns", "<u8"),
                     ("cells", "<f4", (n_cells, 3))])


def control_dtype(n_cells: int) -> np.dtype[Any]:
    """The control record for ``n_cells`` cells."""
    return np.dtype([("seq", "<u8"), ("t_ns", "<u8"), ("done_ns", "<u8"), ("flags", "<u4"), ("pad", "<u4"),
                     ("prb_reserve", "<f4", (n_cells,))])


class ShmRing:
    """One direction of the link: a SPSC ring of fixed-size records in shared memory."""

    def __init__(self, shm: shared_memory.SharedMemory, dtype: np.dtype[Any], owner: bool) -> None:
        self.shm, self.dtype, self.owner = shm, dtype, owner
        buf = shm.buf
        assert buf is not None
        self.header = np.ndarray((_HEADER_WORDS,), dtype="<u8", buffer=buf)
        if int(self.header[0]) != _MAGIC or int(self.header[1]) != dtype.itemsize:
            raise ConfigError(f"shared memory {shm.name}: not an E3 ring of {dtype.itemsize}-byte records "
                              f"(magic {int(self.header[0]):#x}, record size {int(self.header[1])})")
        self.capacity = int(self.header[2])
        self.records = np.ndarray((self.capacity,), dtype=dtype, buffer=buf, offset=_HEADER_WORDS * 8)
        self._read = int(self.header[_W_SEQ])  # the reader starts at what is published now

    @classmethod
    def create(cls, name: str, dtype: np.dtype[Any], capacity: int = 64) -> ShmRing:
        """Create the ring (the RAN side owns it and unlinks it at close)."""
        size = _HEADER_WORDS * 8 + capacity * dtype.itemsize
        try:
            shm = shared_memory.SharedMemory(name=name, create=True, size=size)
        except FileExistsError:
            stale = shared_memory.SharedMemory(name=name)
            stale.close()
            stale.unlink()
            shm = shared_memory.SharedMemory(name=name, create=True, size=size)
        header = np.ndarray((_HEADER_WORDS,), dtype="<u8", buffer=shm.buf)
        header[:] = 0
        header[1], header[2], header[0] = dtype.itemsize, capacity, _MAGIC
        return cls(shm, dtype, owner=True)

    @classmethod
    def attach(cls, name: str, dtype: np.dtype[Any], timeout_s: float = 10.0) -> ShmRing:
        """Attach to a ring another process created (waits for it up to ``timeout_s``)."""
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                shm = shared_memory.SharedMemory(name=name)
                break
            except FileNotFoundError:
                if time.monotonic() > deadline:
                    raise ConfigError(f"no E3 shared memory {name!r} after {timeout_s:.0f} s; "
                                      f"start the RAN side (ranml dapp emulate) first") from None
                time.sleep(0.01)
        _untrack(shm)
        return cls(shm, dtype, owner=False)

    def mark_attached(self) -> None:
        """Tell the other side this end is attached (the RAN waits for it before the first slot)."""
        self.header[_ATTACHED] = 1

    @property
    def attached(self) -> bool:
        """Whether the other end has attached."""
        return bool(self.header[_ATTACHED])

    def publish(self, record: np.ndarray) -> int:
        """Write ``record`` (a 0-d array of the ring's dtype) as the next one; returns its index."""
        w = int(self.header[_W_SEQ])
        self.records[w % self.capacity] = record
        self.header[_W_SEQ] = w + 1
        return w

    def next(self, out: np.ndarray) -> int:
        """Copy the oldest unread record into ``out`` (records in order).

        Returns how many records were lost to overwriting before it (the reader fell a whole ring
        behind), or -1 when none is new.
        """
        while True:
            w = int(self.header[_W_SEQ])
            if w <= self._read:
                return -1
            lost = 0
            if w - self._read > self.capacity:
                lost = w - self.capacity - self._read
                self._read = w - self.capacity
            out[...] = self.records[self._read % self.capacity]
            if int(self.header[_W_SEQ]) - self._read <= self.capacity:  # not overwritten while copying
                self._read += 1
                return lost
            self._read += 1  # it was: count it lost and take the next one

    def latest(self, out: np.ndarray) -> int:
        """Copy the newest unread record into ``out``; returns records skipped, or -1 when none is new."""
        w = int(self.header[_W_SEQ])
        if w <= self._read:
            return -1
        idx = (w - 1) % self.capacity
        out[...] = self.records[idx]
        if int(self.header[_W_SEQ]) - (w - 1) > self.capacity:  # overwritten while copying: take the next
            return -1
        skipped = w - 1 - self._read
        self._read = w
        return skipped

    def close(self) -> None:
        """Detach (and remove, on the owner's side)."""
        del self.records, self.header
        self.shm.close()
        if self.owner:
            with contextlib.suppress(FileNotFoundError):
                self.shm.unlink()


def _untrack(shm: shared_memory.SharedMemory) -> None:
    """Attaching must not make this process's resource tracker unlink the creator's memory."""
    try:
        from multiprocessing import resource_tracker

        resource_tracker.unregister(shm._name, "shared_memory")  # type: ignore[attr-defined]
    except (ImportError, AttributeError, KeyError):
        pass


class ShmLink:
    """The dApp's end over shared memory: slots in from ``<name>-up``, controls out to ``<name>-down``."""

    def __init__(self, name: str, n_cells: int) -> None:
        self.name, self.n_cells = name, n_cells
        self.up: ShmRing | None = None
        self.down: ShmRing | None = None

    def open(self, timeout_s: float = 10.0) -> ShmLink:
        """Attach both rings."""
        self.up = ShmRing.attach(f"{self.name}-up", slot_dtype(self.n_cells), timeout_s)
        self.down = ShmRing.attach(f"{self.name}-down", control_dtype(self.n_cells), timeout_s)
        self.down.mark_attached()
        return self

    def next_slot(self, out: np.ndarray, timeout_ns: int) -> int:
        """Poll until the next slot arrives (copied into ``out``); returns slots lost, -1 on timeout.

        Slots are handed over in order, so a slot that waited still gets a decision (a fallback one
        when its budget is spent); only slots overwritten in the ring are lost.
        """
        assert self.up is not None
        deadline = time.perf_counter_ns() + timeout_ns
        while True:
            skipped = self.up.next(out)
            if skipped >= 0:
                return skipped
            if time.perf_counter_ns() > deadline:
                return -1
            os.sched_yield()

    def send_control(self, record: np.ndarray) -> None:
        """Publish a control record."""
        assert self.down is not None
        self.down.publish(record)

    def close(self) -> None:
        """Detach."""
        for ring in (self.up, self.down):
            if ring is not None:
                ring.close()


class UnixLink:
    """The dApp's end over a Unix stream socket (fixed-size records both ways)."""

    def __init__(self, path: str, n_cells: int) -> None:
        self.path, self.n_cells = path, n_cells
        self.sock: socket.socket | None = None
        self._slot_size = slot_dtype(n_cells).itemsize
        self._buf = bytearray(self._slot_size)
        self._view = memoryview(self._buf)
        self._slot = np.ndarray((), dtype=slot_dtype(n_cells), buffer=self._buf)
        self._last = -1

    def open(self, timeout_s: float = 10.0) -> UnixLink:
        """Connect to the RAN side's socket (waits for it up to ``timeout_s``)."""
        deadline = time.monotonic() + timeout_s
        while True:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                sock.connect(self.path)
                break
            except (FileNotFoundError, ConnectionRefusedError):
                sock.close()
                if time.monotonic() > deadline:
                    raise ConfigError(f"no E3 socket at {self.path} after {timeout_s:.0f} s; "
                                      f"start the RAN side (ranml dapp emulate --transport unix) first") from None
                time.sleep(0.01)
        self.sock = sock
        return self

    def next_slot(self, out: np.ndarray, timeout_ns: int) -> int:
        """Read the next slot record into ``out``; -1 on timeout, -2 when the RAN side closed."""
        assert self.sock is not None
        self.sock.settimeout(timeout_ns / 1e9)
        got = 0
        try:
            while got < self._slot_size:
                n = self.sock.recv_into(self._view if got == 0 else self._view[got:], self._slot_size - got)
                if n == 0:
                    return -2
                got += n
        except TimeoutError:
            if got == 0:
                return -1
            raise
        out[...] = self._slot
        seq = int(out["seq"])
        skipped = max(0, seq - self._last - 1) if self._last >= 0 else 0
        self._last = seq
        return skipped

    def send_control(self, record: np.ndarray) -> None:
        """Send a control record."""
        assert self.sock is not None
        self.sock.sendall(record.data)

    def close(self) -> None:
        """Close the socket."""
        if self.sock is not None:
            self.sock.close()
