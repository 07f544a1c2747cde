"""Ask the Celery workers to run a task after a write, at most once per burst of writes (Redis-deduplicated)."""
from __future__ import annotations

import logging
import threading


class CeleryNudge:
    """Sends one task per burst of writes: a short-lived Redis key marks one as already queued.

    A failed send never fails the write; the workers' periodic sweep runs the task anyway.
    """

    def __init__(self, broker_url: str, *, task: str, queue: str, key: str, dedupe_s: int, what: str,
                 log: logging.Logger):
        from celery import Celery
        import redis

        self.app = Celery("tessera-client", broker=broker_url)
        self.app.conf.broker_connection_retry_on_startup = True
        self.app.conf.broker_connection_max_retries = 1
        self.redis = redis.Redis.from_url(broker_url, socket_timeout=1.0, socket_connect_timeout=1.0)
        self.task, self.queue, self.key, self.dedupe_s = task, queue, key, dedupe_s
        self.what, self.log = what, log
        self._lock = threading.Lock()

    def nudge(self) -> None:
        """Queue the task unless one was queued moments ago."""
        try:
            if not self.redis.set(self.key, b"1", nx=True, ex=self.dedupe_s):
                return
            with self._lock:
                self.app.send_task(self.task, queue=self.queue, retry=False)
        except Exception as exc:  # noqa: BLE001 - the write is durable; the sweep catches up
            self.log.warning("could not queue %s (%s); the periodic sweep will catch up", self.what,
                             type(exc).__name__)

    def close(self) -> None:
        """Release broker connections."""
        try:
            self.redis.close()
        except Exception:  # noqa: BLE001
            pass
