"""Production identity matching trigger: after a Patient write, ask the Celery workers to match (deduplicated)."""
from __future__ import annotations

import logging
import threading

log = logging.getLogger("tessera.identity")

IDENTITY_TASK = "tessera.identity.sync"  # stable task name shared with workers/ (never imported here)
IDENTITY_QUEUE = "index"  # the queue of the tasks that follow the outbox, which every worker consumes
NUDGE_KEY = "tessera:identity:nudge"


class CeleryMatchTrigger:
    """Sends one matching task per burst of Patient writes: a short-lived Redis key marks one as queued.

    A failed send never fails the write; the workers' periodic sweep matches the Patients anyway.
    """

    def __init__(self, broker_url: str, *, dedupe_s: int = 1):
        from celery import Celery
        import redis

        self.app = Celery("tessera-client", broker=broker_url)
        self.app.conf.broker_connection_retry_on_startup = True
        self.app.conf.broker_connection_max_retries = 1
        self.redis = redis.Redis.from_url(broker_url, socket_timeout=1.0, socket_connect_timeout=1.0)
        self.dedupe_s = dedupe_s
        self._lock = threading.Lock()

    def nudge(self) -> None:
        """Queue a matching task unless one was queued moments ago."""
        try:
            if not self.redis.set(NUDGE_KEY, b"1", nx=True, ex=self.dedupe_s):
                return
            with self._lock:
                self.app.send_task(IDENTITY_TASK, queue=IDENTITY_QUEUE, retry=False)
        except Exception as exc:  # noqa: BLE001 - the write is durable; the sweep catches up
            log.warning("could not queue identity matching (%s); the periodic sweep will catch up",
                        type(exc).__name__)

    def close(self) -> None:
        """Release broker connections."""
        try:
            self.redis.close()
        except Exception:  # noqa: BLE001
            pass
