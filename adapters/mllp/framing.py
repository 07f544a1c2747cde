"""MLLP framing: <VT> message <FS><CR>; tolerant of partial reads, several frames per read, stray bytes."""
from __future__ import annotations

from dataclasses import dataclass, field

START = b"\x0b"
END = b"\x1c\x0d"


class FrameTooLarge(Exception):
    """A frame exceeds the configured maximum size."""


@dataclass
class FrameReader:
    """Accumulates bytes and yields complete frames."""

    max_bytes: int
    buffer: bytearray = field(default_factory=bytearray)
    discarded: int = 0  # bytes outside any frame (garbage between frames)

    def feed(self, data: bytes) -> list[bytes]:
        """Add received bytes; return the frames completed by them."""
        self.buffer += data
        frames: list[bytes] = []
        while True:
            start = self.buffer.find(START)
            if start < 0:
                self.discarded += len(self.buffer)
                self.buffer.clear()
                return frames
            if start:
                self.discarded += start
                del self.buffer[:start]
            end = self.buffer.find(END, 1)
            restart = self.buffer.find(START, 1)
            if restart > 0 and (end < 0 or restart < end):  # an unfinished frame abandoned by the sender
                self.discarded += restart
                del self.buffer[:restart]
                continue
            if end < 0:
                if len(self.buffer) > self.max_bytes + 1:
                    self.buffer.clear()
                    raise FrameTooLarge(f"message exceeds {self.max_bytes} bytes")
                return frames
            if end - 1 > self.max_bytes:
                del self.buffer[:end + 2]
                raise FrameTooLarge(f"message exceeds {self.max_bytes} bytes")
            frames.append(bytes(self.buffer[1:end]))
            del self.buffer[:end + 2]

    @staticmethod
    def frame(payload: bytes) -> bytes:
        """Wrap a payload in MLLP start and end blocks."""
        return START + payload + END
