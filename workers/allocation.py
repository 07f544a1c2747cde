"""Allocation job tasks: run one job by id (the job record makes a replay harmless)."""
from __future__ import annotations

from functools import lru_cache

from engine.settings import load_settings
from adapters.bootstrap import Container, build_container
from workers.policy import job_task
from workers.queues import ALLOCATION_QUEUE, ALLOCATION_TASK


@lru_cache(maxsize=1)
def _container() -> Container:
    return build_container(load_settings(), migrate=False)


@job_task(ALLOCATION_TASK, ALLOCATION_QUEUE, hard_limit_s=900)
def run_allocation_job(job_id: str) -> str | None:
    """Solve the job `job_id` (skipped when it already finished or was cancelled)."""
    job = _container().allocation_jobs.run(job_id)
    return job.status if job else None
