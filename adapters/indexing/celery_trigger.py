"""Production indexing trigger: after a write, ask the Celery workers to drain the outbox (deduplicated)."""
from __future__ import annotations

import logging
import threading

log = logging.getLogger("tessera.indexing")

INDEX_TASK = "tessera.index.drain"  # stable task name shared with workers/ (never imported here)
INDEX_QUEUE = "index"
NUDGE_KEY = "tessera:index:nudge"


class CeleryIndexTrigger:
    """Sends one drain task per burst of writes: a short-lived Redis key marks a drain as already queued.

    A failed send never fails the write; the workers' periodic sweep picks the events up anyway.
    """

    def __init__(self, broker_url: str, *, dedupe_s: int = 2):
        from celery import Celery
        import redis

        self.app = Celery("tessera-client", broker=broker_url)
        self.app.conf.broker_connection_retry_on_startup = True
        self.app.conf.broker_connection_max_retries = 1
        self.redis = redis.Redis.from_url(broker_url, socket_timeout=1.0, socket_connect_timeout=1.0)
        self.dedupe_s = dedupe_s
        self._lock = threading.Lock()

    def nudge(self) -> None:
        """Queue a drain task unless one was queued moments ago."""
        try:
            if not self.redis.set(NUDGE_KEY, b"1", nx=True, ex=self.dedupe_s):
                return
            with self._lock:
                self.app.send_task(INDEX_TASK, queue=INDEX_QUEUE, retry=False)
        except Exception as exc:  # noqa: BLE001 - the write is durable; the sweep catches up
            log.warning("could not queue search indexing (%s); the periodic sweep will catch up",
                        type(exc).__name__)

    def close(self) -> None:
        """Release broker connections."""
        try:
            self.redis.close()
        except Exception:  # noqa: BLE001
            pass
