"""Search indexing task: drain the outbox into Elasticsearch (idempotent: versions decide, events are marked)."""
from __future__ import annotations

from adapters.indexing.celery_trigger import NUDGE_KEY
from workers.policy import job_task
from workers.queues import INDEX_QUEUE, INDEX_TASK
from workers.runtime import broker, outbox_container


@job_task(INDEX_TASK, INDEX_QUEUE, hard_limit_s=600, backoff_max_s=30, max_retries=5)
def drain_index() -> int:
    """Index pending outbox events until none are left; returns how many events were consumed."""
    container = outbox_container()
    consumed = container.indexing.drain(max_seconds=300).events
    broker().delete(NUDGE_KEY)
    consumed += container.indexing.drain(max_seconds=60).events  # writes that saw the old nudge still pending
    return consumed
