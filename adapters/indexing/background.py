"""In-process indexing: a background thread drains the outbox after writes and on a periodic sweep."""
from __future__ import annotations

import logging
import threading

from engine.errors import TesseraError
from engine.indexing.service import DrainReport, IndexingService

log = logging.getLogger("tessera.indexing")


class BackgroundIndexer:
    """Drains the outbox on a daemon thread: woken by `nudge`, and every `sweep_s` seconds regardless."""

    def __init__(self, service: IndexingService, *, sweep_s: float = 10.0, settle_s: float = 0.1,
                 max_backoff_s: float = 30.0):
        self.service = service
        self.sweep_s = sweep_s
        self.settle_s = settle_s
        self.max_backoff_s = max_backoff_s
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._idle = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self.failures = 0
        self.last_report = DrainReport()

    def nudge(self) -> None:
        """Something was written: drain soon (starts the thread on first use)."""
        self._idle.clear()
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._loop, name="search-indexing", daemon=True)
                self._thread.start()
        self._wake.set()

    def wait_idle(self, timeout_s: float = 60.0) -> bool:
        """Block until a drain found nothing pending (True) or `timeout_s` passed (False)."""
        self.nudge()
        return self._idle.wait(timeout_s)

    def _loop(self) -> None:
        delay = self.sweep_s
        while not self._stop.is_set():
            self._wake.wait(delay)
            if self._stop.is_set():
                break
            self._stop.wait(self.settle_s)  # let a burst of writes land, then index them together
            self._wake.clear()
            try:
                self.last_report = self.service.drain(max_seconds=5.0)
                self.failures = 0
                delay = self.sweep_s
                if self.last_report.events:
                    self._wake.set()  # more may be pending: go round again (checking for stop first)
                elif not self._wake.is_set():
                    self._idle.set()
            except TesseraError as exc:
                self.failures += 1
                delay = min(self.max_backoff_s, 0.5 * 2 ** min(self.failures, 8))
                log.warning("search indexing paused (%s); retrying in %.1f s", type(exc).__name__, delay)
            except Exception as exc:  # noqa: BLE001 - the thread must outlive one bad batch
                self.failures += 1
                delay = min(self.max_backoff_s, 0.5 * 2 ** min(self.failures, 8))
                log.error("search indexing failed (%s); retrying in %.1f s", type(exc).__name__, delay)

    def close(self, timeout_s: float = 30.0) -> None:
        """Stop the thread (pending events stay in the outbox for the next start)."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout_s)
