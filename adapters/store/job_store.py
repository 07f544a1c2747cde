"""SQL implementation of engine.jobs.ports.JobStore (table allocation_jobs)."""
from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from engine.jobs import model as m
from engine.jobs.ports import JobStore
from adapters.store.schema import allocation_jobs as t


def _job(row: Any) -> m.Job:
    return m.Job(id=row.id, kind=row.kind, status=row.status, institution=row.institution, client_id=row.client_id,
                 created_us=row.created, updated_us=row.updated, problem=row.problem, options=row.options,
                 result=row.result, error=row.error, attempts=row.attempts)


class SqlJobStore(JobStore):
    """Jobs in the same database as the resources."""

    def __init__(self, engine: sa.Engine):
        self.engine = engine

    def add(self, job: m.Job) -> None:
        with self.engine.begin() as connection:
            connection.execute(t.insert().values(
                id=job.id, kind=job.kind, status=job.status, institution=job.institution, client_id=job.client_id,
                created=job.created_us, updated=job.updated_us, problem=job.problem, options=job.options,
                attempts=0))

    def get(self, job_id: str) -> m.Job | None:
        with self.engine.connect() as connection:
            row = connection.execute(sa.select(t).where(t.c.id == job_id)).first()
        return _job(row) if row else None

    def list(self, *, institution: str | None, limit: int = 100) -> list[m.Job]:
        statement = sa.select(t).order_by(t.c.created.desc()).limit(limit)
        if institution is not None:
            statement = statement.where(t.c.institution == institution)
        with self.engine.connect() as connection:
            return [_job(row) for row in connection.execute(statement)]

    def claim(self, job_id: str, now_us: int) -> m.Job | None:
        # a running job is claimed again when its task is re-delivered after the worker died (acks_late)
        runnable = t.c.status.in_([m.QUEUED, m.RUNNING])
        with self.engine.begin() as connection:
            done = connection.execute(
                t.update().where(t.c.id == job_id, runnable)
                .values(status=m.RUNNING, updated=now_us, attempts=t.c.attempts + 1))
            if done.rowcount != 1:
                return None
            row = connection.execute(sa.select(t).where(t.c.id == job_id)).first()
        return _job(row)

    def finish(self, job_id: str, *, status: str, result: dict | None, error: str | None, now_us: int) -> bool:
        with self.engine.begin() as connection:
            done = connection.execute(t.update().where(t.c.id == job_id, t.c.status == m.RUNNING)
                                      .values(status=status, result=result, error=error, updated=now_us))
        return done.rowcount == 1

    def cancel(self, job_id: str, now_us: int) -> m.Job | None:
        with self.engine.begin() as connection:
            connection.execute(t.update().where(t.c.id == job_id, t.c.status.in_([m.QUEUED, m.RUNNING]))
                               .values(status=m.CANCELLED, updated=now_us))
        return self.get(job_id)
