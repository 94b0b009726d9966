"""Cut RMR frames out of a TCP byte stream (data may arrive in any chunking)."""

from __future__ import annotations

from ranml.protocols.rmr.frame import RmrFrameError, RmrMessage, TextCache, decode_at, frame_length

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
        self._names = TextCache()

    def feed(self, data: bytes) -> list[RmrMessage]:
        """Add bytes; return the messages completed by them (malformed frames are counted and skipped)."""
        if self.poisoned:
            raise RmrFrameError(f"stream unusable after {self.poisoned}; close the connection")
        buf = self._buf
        buf += data
        out: list[RmrMessage] = []
        offset, size = 0, len(buf)
        while size - offset >= 9:
            try:
                total = frame_length(buf, offset)
            except RmrFrameError as exc:
                self.poisoned = str(exc)
                buf.clear()
                raise
            if size - offset < total:
                break
            try:
                out.append(decode_at(buf, offset, total, self._names))
                self.frames += 1
            except RmrFrameError:
                self.malformed += 1
            offset += total
        if offset:
            del buf[:offset]  # once per feed: the buffer is not shifted once per frame
        return out

    @property
    def buffered(self) -> int:
        """Bytes waiting for the rest of their frame."""
        return len(self._buf)
