"""Cut RMR frames out of a TCP byte stream (data may arrive in any chunking)."""

from __future__ import annotations

from ranml.protocols.rmr.frame import RmrFrameError, RmrMessage, decode, frame_length

__all__ = ["FrameReader"]


class FrameReader:
    """Accumulates stream bytes and yields complete messages.

    After an implausible length the reader is *poisoned* (as librmr's stream reset): the caller
    must close the connection; further data raises.
    """

    def __init__(self) -> None:
        self._buf = bytearray()
        self.poisoned: str | None = None
        self.frames = 0
        self.malformed = 0

    def feed(self, data: bytes) -> list[RmrMessage]:
        """Add bytes; return the messages completed by them (malformed frames are counted and skipped)."""
        if self.poisoned:
            raise RmrFrameError(f"stream unusable after {self.poisoned}; close the connection")
        self._buf += data
        out: list[RmrMessage] = []
        while len(self._buf) >= 9:
            try:
                total = frame_length(bytes(self._buf[:9]))
            except RmrFrameError as exc:
                self.poisoned = str(exc)
                self._buf.clear()
                raise
            if len(self._buf) < total:
                break
            frame = bytes(self._buf[:total])
            del self._buf[:total]
            try:
                out.append(decode(frame))
                self.frames += 1
            except RmrFrameError:
                self.malformed += 1
        return out

    @property
    def buffered(self) -> int:
        """Bytes waiting for the rest of their frame."""
        return len(self._buf)
