"""Production identity matching trigger: after a Patient write, ask the Celery workers to match (deduplicated)."""
from __future__ import annotations

import logging

from adapters.jobs.nudge import CeleryNudge

IDENTITY_TASK = "tessera.identity.sync"  # stable task name shared with workers/ (never imported here)
IDENTITY_QUEUE = "index"  # the queue of the tasks that follow the outbox, which every worker consumes
NUDGE_KEY = "tessera:identity:nudge"


class CeleryMatchTrigger(CeleryNudge):
    """One matching task per burst of Patient writes; the workers' sweep matches anything a lost nudge missed."""

    def __init__(self, broker_url: str, *, dedupe_s: int = 1):
        super().__init__(broker_url, task=IDENTITY_TASK, queue=IDENTITY_QUEUE, key=NUDGE_KEY, dedupe_s=dedupe_s,
                         what="identity matching", log=logging.getLogger("tessera.identity"))
