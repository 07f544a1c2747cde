"""The house task decorator: queue, acks_late, hard time limit, retries with backoff for transient errors."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy.exc import OperationalError

from engine.errors import SearchUnavailable
from adapters.store.sql_store import StoreUnavailable
from workers.app import app

TRANSIENT = (OperationalError, ConnectionError, TimeoutError, SearchUnavailable, StoreUnavailable)


def job_task(name: str, queue: str, *, hard_limit_s: int, backoff_max_s: int = 300,
             max_retries: int | None = 8) -> Callable[[Callable[..., Any]], Any]:
    """Register a thin, idempotent task taking ids; transient failures retry with exponential backoff."""

    def decorate(function: Callable[..., Any]) -> Any:
        return app.task(name=name, queue=queue, acks_late=True, reject_on_worker_lost=True,
                        time_limit=hard_limit_s, soft_time_limit=max(1, hard_limit_s - 5),
                        autoretry_for=TRANSIENT, retry_backoff=True, retry_backoff_max=backoff_max_s,
                        max_retries=max_retries)(function)

    return decorate
