"""Ports of the job family: where jobs are kept and how they reach a runner."""
from __future__ import annotations

import abc

from engine.jobs.model import Job


class JobStore(abc.ABC):
    """Durable job records."""

    @abc.abstractmethod
    def add(self, job: Job) -> None:
        """Store a new job."""

    @abc.abstractmethod
    def get(self, job_id: str) -> Job | None:
        """One job."""

    @abc.abstractmethod
    def list(self, *, institution: str | None, limit: int = 100) -> list[Job]:
        """Jobs of an institution (all when None), newest first."""

    @abc.abstractmethod
    def claim(self, job_id: str, now_us: int) -> Job | None:
        """Atomically move a queued (or orphaned running) job to running; None if it is not runnable."""

    @abc.abstractmethod
    def finish(self, job_id: str, *, status: str, result: dict | None, error: str | None, now_us: int) -> bool:
        """Record the outcome unless the job was cancelled meanwhile; True when recorded."""

    @abc.abstractmethod
    def cancel(self, job_id: str, now_us: int) -> Job | None:
        """Cancel a job that has not finished."""


class JobQueue(abc.ABC):
    """Hands a job id to whatever runs jobs (a worker queue, or a thread in the API process)."""

    @abc.abstractmethod
    def submit(self, job_id: str) -> None:
        """Schedule the job to run."""
