"""Scheduling solvers: dynamic programming (fixed starts, one room per procedure) and a time-indexed MILP.

MILP: x[i,c,t] = 1 when procedure i starts at t in room class c (rooms offering the same set of
types are interchangeable). Two intervals overlap iff one contains the other's start, so for each
class it is enough to cap every *maximal clique* of candidate intervals (found by a sweep) at the
number of rooms k of the class: sum x over the clique <= k. Interval graphs are perfect, so any
choice meeting those caps can be packed into the k rooms by greedy interval colouring - the
aggregation over identical rooms is exact. With fixed starts and one room per class the clique
matrix has consecutive ones (totally unimodular) and the LP is already integral; the DP and the
MILP solve exactly the same fixed-start problem, which the tests use to cross-check them.
"""
from __future__ import annotations

import heapq
import time
from collections import defaultdict
from typing import Any

from engine.allocation.highs import INF, MilpBuilder, solve
from engine.allocation.result import AllocationResult
from engine.allocation.scheduling.explain import explain
from engine.allocation.scheduling.problem import SchedulingProblem
from engine.allocation.scheduling.wis import weighted_interval_scheduling


def maximal_cliques(intervals: list[tuple[int, int]]) -> list[list[int]]:
    """Maximal sets of pairwise overlapping half-open intervals (indices), by one sweep."""
    events = sorted([(e, 0, k) for k, (_, e) in enumerate(intervals)] +
                    [(s, 1, k) for k, (s, _) in enumerate(intervals)])
    active: set[int] = set()
    out = []
    grew = False
    for _, kind, k in events:
        if kind == 1:
            active.add(k)
            grew = True
        else:
            if grew:
                out.append(sorted(active))
            active.discard(k)
            grew = False
    return out


def solve_scheduling(p: SchedulingProblem, *, time_limit_s: float, gap: float) -> AllocationResult:
    """Dynamic programming when it is exact (see problem docstring), otherwise the MILP."""
    return _solve_dp(p) if p.use_dp() else _solve_milp(p, time_limit_s=time_limit_s, gap=gap)


def _solve_dp(p: SchedulingProblem) -> AllocationResult:
    began = time.perf_counter()
    by_room: dict[str, list[int]] = defaultdict(list)
    for i, proc in enumerate(p.procedures):
        rooms = p.rooms_for(proc)
        if rooms and p.fits_window(proc):
            by_room[rooms[0].id].append(i)
    schedule = []
    total = 0.0
    for room, idx in by_room.items():
        procs = [p.procedures[i] for i in idx]
        intervals = [(q.earliest_start, q.earliest_start + q.duration, q.value) for q in procs]
        value, chosen = weighted_interval_scheduling(intervals)
        total += value
        for k in chosen:
            proc = p.procedures[idx[k]]
            schedule.append({"procedure": proc.id, "room": room, "start": intervals[k][0],
                             "end": intervals[k][1]})
    seconds = time.perf_counter() - began
    plan = _plan(p, schedule)
    explanation = explain(p, plan)
    explanation["solver"] = {"method": "weighted interval scheduling (dynamic programming)",
                             "intervals": sum(len(v) for v in by_room.values())}
    intervals_count = sum(len(v) for v in by_room.values())
    return AllocationResult("optimal", total, total, 0.0, seconds, intervals_count, 0, plan, explanation,
                            kind="scheduling", method="dp")


def build(p: SchedulingProblem) -> tuple[MilpBuilder, dict[tuple[int, tuple[str, ...], int], int],
                                         dict[tuple[str, ...], list[str]]]:
    """The time-indexed MILP; returns the builder, the x columns and the room classes."""
    b = MilpBuilder(maximize=True)
    classes: dict[tuple[str, ...], list[str]] = defaultdict(list)
    for room in p.rooms:
        classes[tuple(sorted(set(room.types)))].append(room.id)
    x: dict[tuple[int, tuple[str, ...], int], int] = {}
    per_class: dict[tuple[str, ...], list[tuple[int, int, int]]] = defaultdict(list)  # (start, end, col)
    for i, proc in enumerate(p.procedures):
        cols = []
        starts = p.candidate_starts(proc)
        for c in classes:
            if proc.room_type not in c:
                continue
            for t in starts:
                col = x[(i, c, t)] = b.binary(proc.value)
                per_class[c].append((t, t + proc.duration, col))
                cols.append(col)
        if len(cols) > 1:
            b.row(cols, 1.0, -INF, 1.0, family="once_per_procedure")
    for c, candidates in per_class.items():
        k = len(classes[c])
        for clique in maximal_cliques([(s, e) for s, e, _ in candidates]):
            if len(clique) > k:
                b.row([candidates[j][2] for j in clique], 1.0, -INF, float(k), family="room_capacity")
    return b, x, dict(classes)


def _solve_milp(p: SchedulingProblem, *, time_limit_s: float, gap: float) -> AllocationResult:
    began = time.perf_counter()
    b, x, classes = build(p)
    built = time.perf_counter() - began
    outcome = solve(b, time_limit_s=max(0.01, time_limit_s - built), gap=gap)
    solver = {"method": f"time-indexed MILP ({p.starts} starts)", "highs_status": outcome.highs_status,
              "stopped_by": outcome.stopped_by, "nodes": outcome.nodes, "build_seconds": round(built, 3),
              "constraint_families": b.family_counts(), "room_classes": len(classes)}
    common = {"kind": "scheduling", "method": "milp", "variables": b.num_vars, "constraints": b.num_rows}
    if not outcome.has_plan:  # a schedule with nothing in it is always feasible, so this is a time limit
        plan = _plan(p, [])
        return AllocationResult(outcome.status, None, outcome.bound, None, time.perf_counter() - began,
                                plan=plan,
                                explanation={"solver": solver, "message": "no plan found in the time limit"},
                                **common)
    chosen: dict[tuple[str, ...], list[tuple[int, int, int]]] = defaultdict(list)
    for (i, c, t), col in x.items():
        if outcome.values[col] > 0.5:
            chosen[c].append((t, t + p.procedures[i].duration, i))
    schedule = []
    for c, items in chosen.items():
        schedule += colour(p, items, sorted(classes[c]))
    plan = _plan(p, schedule)
    explanation = explain(p, plan)
    explanation["solver"] = solver
    return AllocationResult(outcome.status, outcome.objective, outcome.bound, outcome.gap,
                            time.perf_counter() - began, plan=plan, explanation=explanation, **common)


def colour(p: SchedulingProblem, items: list[tuple[int, int, int]], rooms: list[str]) -> list[dict[str, Any]]:
    """Greedy interval colouring: intervals by start, each to the free room with the smallest id."""
    free = list(range(len(rooms)))          # heap of free room indices
    busy: list[tuple[int, int]] = []        # heap of (end, room index)
    out = []
    for start, end, i in sorted(items):
        while busy and busy[0][0] <= start:
            heapq.heappush(free, heapq.heappop(busy)[1])
        if not free:
            raise AssertionError("room capacity cliques violated")  # cannot happen for a feasible x
        room = heapq.heappop(free)
        heapq.heappush(busy, (end, room))
        out.append({"procedure": p.procedures[i].id, "room": rooms[room], "start": start, "end": end})
    return out


def _plan(p: SchedulingProblem, schedule: list[dict[str, Any]]) -> dict[str, Any]:
    schedule.sort(key=lambda s: (s["room"], s["start"], s["procedure"]))
    done = {s["procedure"] for s in schedule}
    return {"schedule": schedule, "unscheduled": [proc.id for proc in p.procedures if proc.id not in done]}
