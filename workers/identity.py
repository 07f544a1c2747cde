"""Identity matching task: match the Patients written since this worker's cursor (the outbox says which)."""
from __future__ import annotations

from adapters.jobs.identity_trigger import NUDGE_KEY
from workers.policy import job_task
from workers.queues import IDENTITY_QUEUE, IDENTITY_TASK
from workers.runtime import broker, outbox_container


@job_task(IDENTITY_TASK, IDENTITY_QUEUE, hard_limit_s=900, backoff_max_s=30, max_retries=5)
def sync_identity() -> int:
    """Match every Patient changed since the last run (golden records and links follow); how many."""
    identity = outbox_container().identity
    processed = identity.sync()
    broker().delete(NUDGE_KEY)
    return processed + identity.sync()  # writes that saw the old nudge
