"""What the outbox-following tasks of one worker process share: one container and one broker client."""
from __future__ import annotations

from functools import lru_cache

import redis

from engine.settings import load_settings
from adapters.bootstrap import Container, build_container


@lru_cache(maxsize=1)
def outbox_container() -> Container:
    """The services of this worker process (built on first use; no indexing trigger: the worker drains)."""
    return build_container(load_settings(), migrate=False, indexing_trigger=False)


@lru_cache(maxsize=1)
def broker() -> redis.Redis:
    """A Redis client of the broker (for the deduplication keys)."""
    return redis.Redis.from_url(outbox_container().settings.broker_url or "")
