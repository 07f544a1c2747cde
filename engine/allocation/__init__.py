"""Allocation engine: staffing, bed placement and procedure scheduling solved with HiGHS (pure, no I/O).

Every solve returns an `AllocationResult`; conflicting requirements are a result ("infeasible",
with the fewest requirements to give up), never an exception. Malformed problems raise
`AllocationInputError` naming the path of each bad field.
"""
from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from engine.allocation.errors import AllocationInputError, AllocationSolverError
from engine.allocation.result import AllocationResult
from engine.allocation.schema import Problem, validate
from engine.allocation.staffing.problem import derive_demand

__all__ = ["KINDS", "AllocationInputError", "AllocationResult", "AllocationSolverError", "census_demand",
           "check_plan", "derive_demand", "generate", "problem_example", "problem_schema", "render_plan",
           "solve", "validate_problem"]

KINDS = ("staffing", "beds", "scheduling")


@dataclass(frozen=True)
class _Kind:
    problem: type[Problem]
    solve: Callable[..., AllocationResult]
    check: Callable[[Any, dict[str, Any]], list[str]]
    render: Callable[[Any, AllocationResult], str]
    generate: Callable[..., dict[str, Any]]


def _registry() -> dict[str, _Kind]:
    from engine.allocation.beds import check as beds_check
    from engine.allocation.beds import generate as beds_generate
    from engine.allocation.beds import model as beds_model
    from engine.allocation.beds import problem as beds_problem
    from engine.allocation.beds import render as beds_render
    from engine.allocation.scheduling import check as sch_check
    from engine.allocation.scheduling import generate as sch_generate
    from engine.allocation.scheduling import model as sch_model
    from engine.allocation.scheduling import problem as sch_problem
    from engine.allocation.scheduling import render as sch_render
    from engine.allocation.staffing import check as st_check
    from engine.allocation.staffing import generate as st_generate
    from engine.allocation.staffing import model as st_model
    from engine.allocation.staffing import problem as st_problem
    from engine.allocation.staffing import render as st_render

    return {
        "staffing": _Kind(st_problem.StaffingProblem, st_model.solve_staffing, st_check.check,
                          st_render.render, st_generate.generate),
        "beds": _Kind(beds_problem.BedsProblem, beds_model.solve_beds, beds_check.check, beds_render.render,
                      beds_generate.generate),
        "scheduling": _Kind(sch_problem.SchedulingProblem, sch_model.solve_scheduling, sch_check.check,
                            sch_render.render, sch_generate.generate),
    }


_KINDS: dict[str, _Kind] = {}


def _kind(kind: str) -> _Kind:
    if not _KINDS:
        _KINDS.update(_registry())
    if kind not in _KINDS:
        raise AllocationInputError([("kind", f"unknown kind {kind!r}; expected one of {', '.join(KINDS)}")])
    return _KINDS[kind]


def solve(kind: str, problem: dict, *, time_limit_s: float = 60.0, gap: float = 0.01) -> AllocationResult:
    """Validate `problem` (plain JSON) and solve it; the result explains the plan or the conflict."""
    spec = _kind(kind)
    issues = []
    if not isinstance(time_limit_s, (int, float)) or not math.isfinite(time_limit_s) or time_limit_s <= 0:
        issues.append(("time_limit_s", "must be a positive number of seconds"))
    if not isinstance(gap, (int, float)) or not 0 <= gap < 1:
        issues.append(("gap", "must be a relative gap in [0, 1)"))
    if issues:
        raise AllocationInputError(issues)
    parsed = validate(spec.problem, problem)
    return spec.solve(parsed, time_limit_s=float(time_limit_s), gap=float(gap))


def validate_problem(kind: str, problem: dict) -> None:
    """Raise AllocationInputError naming every bad field of `problem` (no solving)."""
    spec = _kind(kind)
    validate(spec.problem, problem)


def problem_schema(kind: str) -> dict[str, Any]:
    """JSON schema of the problem of `kind` (pydantic model_json_schema)."""
    return _kind(kind).problem.model_json_schema()


def problem_example(kind: str) -> dict[str, Any]:
    """A small valid example problem of `kind`, as plain JSON."""
    return _kind(kind).problem.example()


def check_plan(kind: str, problem: dict, plan: dict[str, Any]) -> list[str]:
    """Violations of the hard rules by `plan`, checked from the rules themselves (empty = feasible)."""
    spec = _kind(kind)
    return spec.check(validate(spec.problem, problem), plan)


def render_plan(kind: str, problem: dict, result: AllocationResult | dict[str, Any]) -> str:
    """The plan as readable text (ward x shift tables, placements, room timelines) and what is short."""
    spec = _kind(kind)
    if isinstance(result, dict):
        fields = AllocationResult.__dataclass_fields__
        result = AllocationResult(**{k: v for k, v in result.items() if k in fields})
    return spec.render(validate(spec.problem, problem), result)


def census_demand(census: list[dict[str, Any]], ratios: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Alias of `derive_demand`: required nurses = ceil(patients / patients_per_nurse) per ward/day/shift."""
    return derive_demand(census, ratios)


def generate(kind: str, size: int, seed: int, **options: Any) -> dict[str, Any]:
    """A random, realistic problem of `kind` (size = staff, requests or procedures), reproducible by seed."""
    return _kind(kind).generate(size, seed, **options)
