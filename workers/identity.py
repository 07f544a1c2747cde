"""Identity matching task: match the Patients written since this worker's cursor (the outbox says which)."""
from __future__ import annotations

from functools import lru_cache

import redis

from engine.settings import load_settings
from adapters.bootstrap import Container, build_container
from adapters.jobs.identity_trigger import NUDGE_KEY
from workers.policy import job_task
from workers.queues import IDENTITY_QUEUE, IDENTITY_TASK


@lru_cache(maxsize=1)
def _container() -> Container:
    return build_container(load_settings(), migrate=False, indexing_trigger=False)


@lru_cache(maxsize=1)
def _broker() -> redis.Redis:
    return redis.Redis.from_url(_container().settings.broker_url or "")


@job_task(IDENTITY_TASK, IDENTITY_QUEUE, hard_limit_s=900, backoff_max_s=30, max_retries=5)
def sync_identity() -> int:
    """Match every Patient changed since the last run (golden records and links follow); how many."""
    identity = _container().identity
    processed = identity.sync()
    _broker().delete(NUDGE_KEY)
    return processed + identity.sync()  # writes that saw the old nudge
