"""Allocation jobs: submit (validated, persisted, queued), run (idempotent), inspect, cancel."""
from __future__ import annotations

import copy
import logging
import uuid
from typing import Any

from engine import allocation
from engine.errors import InvalidRequest, Issue, ResourceNotFound
from engine.jobs import model as m
from engine.jobs.census import derive_census, horizon_start
from engine.jobs.ports import JobQueue, JobStore
from engine.security.caller import SYSTEM, Caller
from engine.services.writes import Clock
from engine.store.ports import ResourceStore

log = logging.getLogger("tessera.jobs")
DEFAULT_TIME_LIMIT_S = 60.0
MAX_TIME_LIMIT_S = 600.0


class UnprocessableProblem(InvalidRequest):
    """The problem is malformed; each issue names the path of a bad field."""

    status = 422


class AllocationJobs:
    """The job family behind `/api/allocation-jobs`, `tessera allocate` and the allocation workers."""

    def __init__(self, jobs: JobStore, queue: JobQueue, store: ResourceStore, clock: Clock):
        self.jobs = jobs
        self.queue = queue
        self.store = store
        self.clock = clock

    def submit(self, kind: str, problem: Any, options: Any, *, caller: Caller = SYSTEM,
               client_id: str | None = None) -> m.Job:
        """Validate and store a job, queue it, and return it (status queued)."""
        options = self._options(options)
        if not isinstance(problem, dict):
            raise UnprocessableProblem("problem must be a JSON object",
                                       issues=[Issue("invalid", "must be a JSON object", "problem")])
        self._validate(kind, problem)
        now = self.clock()
        job = m.Job(id=str(uuid.uuid4()), kind=kind, status=m.QUEUED, institution=caller.institution,
                    client_id=client_id, created_us=now, updated_us=now, problem=problem, options=options)
        self.jobs.add(job)
        self.queue.submit(job.id)
        return job

    def run(self, job_id: str) -> m.Job | None:
        """Solve a queued job and record the outcome; a finished or cancelled job is left alone."""
        job = self.jobs.claim(job_id, self.clock())
        if job is None:
            return self.jobs.get(job_id)
        try:
            problem, used = self.with_integrated_data(job.problem)
            result = allocation.solve(job.kind, problem, time_limit_s=job.options["time_limit_s"],
                                      gap=job.options["gap"]).to_dict()
            if used:
                result.setdefault("explanation", {})["data_used"] = used
            status = m.INFEASIBLE if result.get("status") == "infeasible" else m.SUCCEEDED
            self.jobs.finish(job_id, status=status, result=result, error=None, now_us=self.clock())
        except allocation.AllocationInputError as exc:
            self.jobs.finish(job_id, status=m.FAILED, result=None, error=str(exc)[:2000], now_us=self.clock())
        except Exception as exc:  # noqa: BLE001 - a solver crash is a failed job, never a lost one
            log.exception("allocation job %s failed", job_id)
            self.jobs.finish(job_id, status=m.FAILED, result=None, error=type(exc).__name__, now_us=self.clock())
        return self.jobs.get(job_id)

    def get(self, job_id: str, *, caller: Caller = SYSTEM) -> m.Job:
        """One job of the caller's institution (404 otherwise)."""
        job = self.jobs.get(job_id)
        if job is None or (caller.institution is not None and job.institution != caller.institution):
            raise ResourceNotFound(f"allocation job {job_id[:64]} is not known")
        return job

    def list(self, *, caller: Caller = SYSTEM, limit: int = 100) -> list[m.Job]:
        """The caller's institution's jobs, newest first."""
        return self.jobs.list(institution=caller.institution, limit=limit)

    def cancel(self, job_id: str, *, caller: Caller = SYSTEM) -> m.Job:
        """Cancel a job that has not finished; a finished job stays as it is."""
        self.get(job_id, caller=caller)
        return self.jobs.cancel(job_id, self.clock()) or self.get(job_id, caller=caller)

    def _options(self, options: Any) -> dict[str, float]:
        options = options or {}
        if not isinstance(options, dict):
            raise UnprocessableProblem("options must be an object", issues=[Issue("invalid", "not an object", "options")])
        time_limit = options.get("time_limit_s", DEFAULT_TIME_LIMIT_S)
        gap = options.get("gap", 0.01)
        issues = []
        if not isinstance(time_limit, (int, float)) or isinstance(time_limit, bool) or not 0 < time_limit <= MAX_TIME_LIMIT_S:
            issues.append(Issue("invalid", f"must be a number of seconds in (0, {MAX_TIME_LIMIT_S:.0f}]",
                                "options.time_limit_s"))
        if not isinstance(gap, (int, float)) or isinstance(gap, bool) or not 0 <= gap < 1:
            issues.append(Issue("invalid", "must be a relative gap in [0, 1)", "options.gap"))
        if issues:
            raise UnprocessableProblem(issues[0].diagnostics, issues=issues)
        return {"time_limit_s": float(time_limit), "gap": float(gap)}

    def _validate(self, kind: str, problem: dict[str, Any]) -> None:
        if kind not in allocation.KINDS:
            raise UnprocessableProblem(f"kind must be one of {', '.join(allocation.KINDS)}",
                                       issues=[Issue("invalid", "unknown kind", "kind")])
        candidate = problem
        if problem.get("census") == "from-store":
            candidate = {**problem, "census": []}
        try:
            allocation.validate_problem(kind, candidate)
        except allocation.AllocationInputError as exc:
            issues = [Issue("invalid", message, path if path.startswith("problem") else f"problem.{path}")
                      for path, message in exc.fields]
            raise UnprocessableProblem(issues[0].diagnostics if issues else "invalid problem", issues=issues) from exc

    def with_integrated_data(self, problem: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any] | None]:
        """The problem with `"census": "from-store"` replaced by the census derived from Encounters."""
        if problem.get("census") != "from-store":
            return problem, None
        problem = copy.deepcopy(problem)
        start = horizon_start(self.clock())
        census, used = derive_census(self.store, wards=[w["id"] for w in problem.get("wards", [])],
                                     shifts=problem.get("shifts", []), days=problem["horizon"]["days"], start=start)
        problem["census"] = census
        problem["horizon"]["start_weekday"] = start.weekday()
        return problem, used
