"""The two implementations of engine.jobs.ports.JobQueue."""
from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from engine.jobs.ports import JobQueue

ALLOCATION_TASK = "tessera.allocation.run"  # stable task name shared with workers/ (never imported here)
ALLOCATION_QUEUE = "allocation"


class InlineQueue(JobQueue):
    """Runs jobs on a small thread pool inside this process (embedded profile)."""

    def __init__(self, run: Callable[[str], object] | None = None, workers: int = 1):
        self.run = run
        self.pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="jobs")

    def submit(self, job_id: str) -> None:
        assert self.run is not None, "InlineQueue.run must be wired before use"
        self.pool.submit(self.run, job_id)

    def close(self) -> None:
        """Wait for running jobs and stop the threads."""
        self.pool.shutdown(wait=True)


class CeleryQueue(JobQueue):
    """Sends the job id to the Celery workers over the broker, by task name."""

    def __init__(self, broker_url: str):
        from celery import Celery

        self.app = Celery("tessera-client", broker=broker_url)
        self.app.conf.broker_connection_retry_on_startup = True

    def submit(self, job_id: str) -> None:
        self.app.send_task(ALLOCATION_TASK, args=[job_id], queue=ALLOCATION_QUEUE)
