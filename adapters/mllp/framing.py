"""MLLP framing: <VT> message <FS><CR>; tolerant of partial reads, several frames per read, stray bytes."""
from __future__ import annotations

from dataclasses import dataclass, field

START = b"\x0b"
END = b"\x1c\x0d"


@dataclass(frozen=True)
class OversizedFrame:
    """A frame longer than the maximum: its first `max_bytes` bytes, the rest is skipped."""

    head: bytes
    limit: int

    @property
    def reason(self) -> str:
        """Why it was refused."""
        return f"message exceeds {self.limit} bytes; its first {self.limit} bytes are kept"


@dataclass(frozen=True)
class AbandonedFrame:
    """The bytes of a frame a new start block cut short (a 0x0B inside a message, or a sender that gave up
    and started again); the sender gets no answer for it, since its message was never completed."""

    head: bytes

    @property
    def reason(self) -> str:
        """Why it was not processed."""
        return "a new message started (0x0B) before this one ended; its first part is kept"


@dataclass
class FrameReader:
    """Accumulates bytes and yields complete frames, in order, and in their place an `OversizedFrame` for
    each frame longer than `max_bytes` (whose remaining bytes are skipped up to its end) and an
    `AbandonedFrame` for each one cut short by a new start block."""

    max_bytes: int
    buffer: bytearray = field(default_factory=bytearray)
    discarded: int = 0  # bytes outside any frame (garbage between frames, the skipped part of oversized ones)
    skipping: bool = False  # inside an oversized frame already reported

    def feed(self, data: bytes) -> list[bytes | OversizedFrame | AbandonedFrame]:
        """Add received bytes; return the frames completed by them."""
        self.buffer += data
        frames: list[bytes | OversizedFrame | AbandonedFrame] = []
        while True:
            if self.skipping and not self._skip():
                return frames
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
                head = bytes(self.buffer[1:min(restart, self.max_bytes + 1)])
                if head.strip(b" \t\r\n\x1c\x0b"):  # not just line breaks or a stray end byte
                    frames.append(AbandonedFrame(head))
                self.discarded += restart
                del self.buffer[:restart]
                continue
            if end < 0:
                held = len(self.buffer) - 1 - self.buffer.endswith(END[:1])  # a last 0x1C may begin the end block
                if held > self.max_bytes:  # too long already: report it, skip to its end
                    frames.append(OversizedFrame(bytes(self.buffer[1:self.max_bytes + 1]), self.max_bytes))
                    kept = 1 if self.buffer.endswith(END[:1]) else 0  # may begin the end block
                    self.discarded += len(self.buffer) - kept  # holds no other frame's start (checked above)
                    del self.buffer[:len(self.buffer) - kept]
                    self.skipping = True
                    return frames
                return frames
            if end - 1 > self.max_bytes:
                frames.append(OversizedFrame(bytes(self.buffer[1:self.max_bytes + 1]), self.max_bytes))
                self.discarded += end + 2
            else:
                frames.append(bytes(self.buffer[1:end]))
            del self.buffer[:end + 2]

    def _skip(self) -> bool:
        """Drop the rest of an oversized frame; True once past its end (or a new frame's start)."""
        end = self.buffer.find(END)
        restart = self.buffer.find(START)
        if restart >= 0 and (end < 0 or restart < end):  # the sender gave up on it and started another
            self.discarded += restart
            del self.buffer[:restart]
        elif end >= 0:
            self.discarded += end + 2
            del self.buffer[:end + 2]
        else:
            kept = 1 if self.buffer.endswith(END[:1]) else 0  # it may begin the end block the next read finishes
            self.discarded += len(self.buffer) - kept
            del self.buffer[:len(self.buffer) - kept]
            return False
        self.skipping = False
        return True

    @staticmethod
    def frame(payload: bytes) -> bytes:
        """Wrap a payload in MLLP start and end blocks."""
        return START + payload + END
