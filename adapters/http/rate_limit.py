"""Per-client token buckets: in one process's memory, or in a file the API processes of one server share.

`per_minute` requests a minute with a burst of a tenth of that (at least 10). With `tessera serve
--processes N` the buckets live in a memory-mapped file, so a client gets the configured rate from the
server as a whole, not N times it from N processes.
"""
from __future__ import annotations

import fcntl
import mmap
import os
import struct
import threading
import time
from collections.abc import Callable
from pathlib import Path

SLOTS = 16_384
PROBES = 8
_SLOT = struct.Struct("<Qdd")  # client fingerprint, tokens, monotonic stamp of the last change


class RateLimiter:
    """Token buckets per client key, in this process."""

    def __init__(self, per_minute: int, clock: Callable[[], float] = time.monotonic):
        self.clock = clock
        self.rate = per_minute / 60.0
        self.capacity = max(10.0, per_minute / 10.0)
        self.buckets: dict[str, tuple[float, float]] = {}
        self.lock = threading.Lock()

    def take(self, key: str) -> float:
        """0 when the request may proceed, else the seconds to wait."""
        now = self.clock()
        with self.lock:
            tokens, stamp = self.buckets.get(key, (self.capacity, now))
            tokens, wait = _spend(min(self.capacity, tokens + (now - stamp) * self.rate), self.rate)
            self.buckets[key] = (tokens, now)
            return wait


class SharedRateLimiter:
    """Token buckets per client key in a memory-mapped file under an exclusive file lock (several processes).

    A key is kept in one of a few slots found from its fingerprint; a slot whose bucket refilled completely
    is free for another key. When all of them are busy the key shares the first one, which can only make
    the limit stricter.
    """

    def __init__(self, per_minute: int, path: Path, clock: Callable[[], float] = time.monotonic):
        self.clock = clock  # CLOCK_MONOTONIC is one clock for every process of the machine
        self.rate = per_minute / 60.0
        self.capacity = max(10.0, per_minute / 10.0)
        self.lock = threading.Lock()
        self._fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        size = SLOTS * _SLOT.size
        if os.fstat(self._fd).st_size < size:
            os.ftruncate(self._fd, size)  # zero-filled: every slot free
        self._map = mmap.mmap(self._fd, size)

    def take(self, key: str) -> float:
        """0 when the request may proceed, else the seconds to wait."""
        fingerprint = int(key[:16], 16) | 1  # keys are hex digests; 0 marks a free slot
        now = self.clock()
        with self.lock:
            fcntl.flock(self._fd, fcntl.LOCK_EX)
            try:
                offset, tokens = self._find(fingerprint, now)
                tokens, wait = _spend(tokens, self.rate)
                _SLOT.pack_into(self._map, offset, fingerprint, tokens, now)
                return wait
            finally:
                fcntl.flock(self._fd, fcntl.LOCK_UN)

    def _find(self, fingerprint: int, now: float) -> tuple[int, float]:
        """The slot offset for `fingerprint` and its bucket's tokens now."""
        first = fingerprint % SLOTS
        free = None
        for probe in range(PROBES):
            offset = ((first + probe) % SLOTS) * _SLOT.size
            owner, tokens, stamp = _SLOT.unpack_from(self._map, offset)
            refilled = min(self.capacity, tokens + max(0.0, now - stamp) * self.rate)
            if owner == fingerprint:
                return offset, refilled
            if free is None and (owner == 0 or refilled >= self.capacity):
                free = offset
        if free is not None:
            return free, self.capacity
        owner, tokens, stamp = _SLOT.unpack_from(self._map, first * _SLOT.size)
        return first * _SLOT.size, min(self.capacity, tokens + max(0.0, now - stamp) * self.rate)

    def close(self) -> None:
        """Release the mapping and the file."""
        self._map.close()
        os.close(self._fd)


def _spend(tokens: float, rate: float) -> tuple[float, float]:
    """Take one token if there is one: (tokens left, 0), else (tokens, seconds until one is there)."""
    if tokens >= 1:
        return tokens - 1, 0.0
    return tokens, (1 - tokens) / rate
