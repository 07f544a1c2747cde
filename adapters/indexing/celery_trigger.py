"""Production indexing trigger: after a write, ask the Celery workers to drain the outbox (deduplicated)."""
from __future__ import annotations

import logging

from adapters.jobs.nudge import CeleryNudge

INDEX_TASK = "tessera.index.drain"  # stable task name shared with workers/ (never imported here)
INDEX_QUEUE = "index"
NUDGE_KEY = "tessera:index:nudge"


class CeleryIndexTrigger(CeleryNudge):
    """One drain task per burst of writes; the workers' sweep picks up anything a lost nudge missed."""

    def __init__(self, broker_url: str, *, dedupe_s: int = 2):
        super().__init__(broker_url, task=INDEX_TASK, queue=INDEX_QUEUE, key=NUDGE_KEY, dedupe_s=dedupe_s,
                         what="search indexing", log=logging.getLogger("tessera.indexing"))
