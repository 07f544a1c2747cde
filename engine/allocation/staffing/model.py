"""Staffing as a two-level MILP: who works which shift (per person), how many of each class go where.

Individual ward binaries x[s,d,t,w] would be 252k columns at 500 staff x 42 shifts x 12 wards.
Ward assignment only depends on a person's *class* (the set of wards they may work on, and the
senior flag), so the model keeps y[s,d,t] per person and aggregates the ward level into integers
z[k,d,t,w] = people of class k working (d,t) on ward w, linked by sum_w z[k,d,t,w] = sum_{s in k}
y[s,d,t]. Any split of the people of a class among wards that matches z is an equivalent plan,
so the aggregation is exact (no optimality lost).
"""
from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from engine.allocation.elastic import minimum_relaxation
from engine.allocation.highs import INF, MilpBuilder, solve
from engine.allocation.result import AllocationResult
from engine.allocation.staffing.explain import explain, senior_diagnostics
from engine.allocation.staffing.greedy import greedy_roster
from engine.allocation.staffing.problem import StaffingProblem

Cell = tuple[str, int, str]  # (ward, day, shift)


@dataclass
class StaffingModel:
    """The MILP and the maps from its columns back to the roster."""

    builder: MilpBuilder
    y: dict[tuple[int, int, str], int] = field(default_factory=dict)          # (staff idx, day, shift)
    z: dict[tuple[int, int, str, str], int] = field(default_factory=dict)     # (class, day, shift, ward)
    classes: list[list[int]] = field(default_factory=list)                   # staff indices per class
    short: dict[Cell, int] = field(default_factory=dict)
    senior_gap: dict[Cell, int] = field(default_factory=dict)
    deviations: list[tuple[int, dict[int, float], float]] = field(default_factory=list)  # col, amounts, share


def build(p: StaffingProblem) -> StaffingModel:
    """Formulate the roster MILP (see the module docstring)."""
    m = StaffingModel(MilpBuilder())
    b = m.builder
    w8 = p.weights
    demand = p.demand_table()
    days = range(p.horizon.days)
    shift_ids = [s.id for s in p.shifts]
    hours = {s.id: s.hours for s in p.shifts}
    open_wards: dict[tuple[int, str], set[str]] = defaultdict(set)
    for (ward, day, shift) in demand:
        open_wards[(day, shift)].add(ward)
    undesirable = {(d, t) for d in days for t in shift_ids
                   if p.is_weekend(d) or next(s for s in p.shifts if s.id == t).undesirable}

    class_of: dict[tuple[tuple[str, ...], bool], int] = {}
    allowed_by_class: list[tuple[str, ...]] = []
    senior_class: list[bool] = []
    class_of_staff: dict[int, int] = {}
    for i, person in enumerate(p.staff):
        allowed = tuple(p.allowed_wards(person))
        if not allowed:
            continue
        key = (allowed, person.senior)
        if key not in class_of:
            class_of[key] = len(m.classes)
            m.classes.append([])
            allowed_by_class.append(allowed)
            senior_class.append(person.senior)
        class_of_staff[i] = class_of[key]
        m.classes[class_of[key]].append(i)
        off = {(u.day, u.shift) for u in person.unavailable}
        prefers = {(u.day, u.shift) for u in person.prefers}
        avoids = {(u.day, u.shift) for u in person.avoids}
        for d in days:
            if (d, None) in off:
                continue
            for t in shift_ids:
                if (d, t) in off or not open_wards.get((d, t), set()).intersection(allowed):
                    continue
                cost = w8.cost * person.cost_per_hour * hours[t]
                if (d, t) in avoids or (d, None) in avoids:
                    cost += w8.avoid_penalty
                if (d, t) in prefers or (d, None) in prefers:
                    cost -= w8.prefer_bonus
                m.y[(i, d, t)] = b.binary(cost)

    # ward level: integers per class, linked to the people of the class
    working: dict[tuple[int, int, str], list[int]] = defaultdict(list)  # (class, d, t) -> y columns
    for (i, d, t), col in m.y.items():
        working[(class_of_staff[i], d, t)].append(col)
    at_cell: dict[Cell, list[int]] = defaultdict(list)
    seniors_at_cell: dict[Cell, list[int]] = defaultdict(list)
    for (k, d, t), cols in working.items():
        ward_cols = []
        for w in allowed_by_class[k]:
            if w in open_wards.get((d, t), ()):
                col = b.var(0.0, 0.0, len(cols), integer=True)
                m.z[(k, d, t, w)] = col
                ward_cols.append(col)
                at_cell[(w, d, t)].append(col)
                if senior_class[k]:
                    seniors_at_cell[(w, d, t)].append(col)
        b.row(ward_cols + cols, [1.0] * len(ward_cols) + [-1.0] * len(cols), 0.0, 0.0,
              family="ward_assignment")

    seniors_needed = p.rules.seniors_per_shift
    for cell, required in sorted(demand.items()):
        ward, day, shift = cell
        m.short[cell] = b.var(w8.understaffing, 0.0, required)
        b.row(at_cell[cell] + [m.short[cell]], 1.0, required, INF, family="coverage")
        if seniors_needed > 0:
            if p.rules.senior_cover == "soft":
                gap_col = m.senior_gap[cell] = b.var(w8.senior_shortfall, 0.0, seniors_needed)
                b.row(seniors_at_cell[cell] + [gap_col], 1.0, seniors_needed, INF, family="senior_cover")
            else:
                key = b.requirement(f"senior_cover[{ward}/{day}/{shift}]", "senior_cover",
                                    f"at least {seniors_needed} senior(s) on every ward shift with demand",
                                    ward=ward, day=day, shift=shift, seniors_required=seniors_needed)
                b.row(seniors_at_cell[cell], 1.0, seniors_needed, INF, family="senior_cover", requirement=key)

    by_person: dict[int, dict[tuple[int, str], int]] = defaultdict(dict)
    for (i, d, t), col in m.y.items():
        by_person[i][(d, t)] = col
    successions = p.successions()
    window = p.rules.max_consecutive_days
    for i, cols in by_person.items():
        person = p.staff[i]
        per_day: dict[int, list[int]] = defaultdict(list)
        for (d, _), col in cols.items():
            per_day[d].append(col)
        for day_cols in per_day.values():
            if len(day_cols) > 1:
                b.row(day_cols, 1.0, -INF, 1.0, family="one_shift_per_day")
        for a, c in successions:
            for d in days:
                if (d, a) in cols and (d + 1, c) in cols:
                    b.row([cols[(d, a)], cols[(d + 1, c)]], 1.0, -INF, 1.0, family="rest_between_shifts")
        for d0 in range(0, p.horizon.days - window):
            span = [col for d in range(d0, d0 + window + 1) for col in per_day.get(d, [])]
            if len({d for d in range(d0, d0 + window + 1) if per_day.get(d)}) > window:
                b.row(span, 1.0, -INF, window, family="max_consecutive_days")
        cap = p.max_hours(person)
        if sum(max(hours[t] for (dd, t) in cols if dd == d) for d in per_day) > cap + 1e-9:
            b.row(list(cols.values()), [hours[t] for (_, t) in cols], -INF, cap, family="max_hours")

    _fairness(p, m, by_person, undesirable, hours, demand)
    return m


def _fairness(p: StaffingProblem, m: StaffingModel, by_person: dict[int, dict[tuple[int, str], int]],
              undesirable: set[tuple[int, str]], hours: dict[str, float], demand: dict[Cell, int]) -> None:
    """Sum of absolute deviations from contract-proportional fair shares: e_s >= |u_s - share_s|.

    The share is fixed from demand (total undesirable shifts, total hours the demand asks for,
    split in proportion to contracted hours) instead of from the plan's own mean: with a variable
    mean every deviation row couples to one dense row, which made the LP several times slower and
    primal solutions hard to find, while a fully covered plan has exactly this mean anyway.
    """
    b, w8 = m.builder, p.weights
    terms = (("undesirable_fairness", w8.undesirable_fairness,
              lambda d, t: 1.0 if (d, t) in undesirable else 0.0),
             ("hours_fairness", w8.hours_fairness, lambda d, t: hours[t]))
    for family, weight, amount in terms:
        if weight <= 0:
            continue
        people = {i: {col: amount(d, t) for (d, t), col in cols.items() if amount(d, t)}
                  for i, cols in by_person.items() if p.staff[i].contracted_hours > 0}
        people = {i: v for i, v in people.items() if v}
        if len(people) < 2:
            continue
        total_contract = sum(p.staff[i].contracted_hours for i in people)
        total_amount = sum(required * amount(day, shift) for (_, day, shift), required in demand.items())
        rate = total_amount / total_contract
        for i, v in people.items():
            share = p.staff[i].contracted_hours * rate
            dev = b.var(weight, 0.0, INF)
            m.deviations.append((dev, v, share))
            cols, vals = list(v), list(v.values())
            b.row(cols + [dev], vals + [-1.0], -INF, share, family=family)
            b.row(cols + [dev], [-a for a in vals] + [-1.0], -INF, -share, family=family)


def extract(p: StaffingProblem, m: StaffingModel, values: Any) -> list[dict[str, Any]]:
    """Turn a solution vector into assignments, splitting each class's ward counts among its workers."""
    workers: dict[tuple[int, int, str], list[int]] = defaultdict(list)
    klass = {i: k for k, members in enumerate(m.classes) for i in members}
    for (i, d, t), col in m.y.items():
        if values[col] > 0.5:
            workers[(klass[i], d, t)].append(i)
    seats: dict[tuple[int, int, str], list[str]] = defaultdict(list)
    for (k, d, t, w), col in sorted(m.z.items()):
        seats[(k, d, t)].extend([w] * int(round(values[col])))
    out = []
    for key, people in sorted(workers.items()):
        wards = seats.get(key, [])
        for n, i in enumerate(sorted(people)):
            ward = wards[n] if n < len(wards) else wards[-1]  # equal by construction
            out.append({"staff": p.staff[i].id, "day": key[1], "shift": key[2], "ward": ward})
    order = {s.id: n for n, s in enumerate(p.shifts)}
    out.sort(key=lambda a: (a["day"], order[a["shift"]], a["ward"], a["staff"]))
    return out


def vector_of(p: StaffingProblem, m: StaffingModel, assignments: list[dict[str, Any]]) -> list[float] | None:
    """The column vector of `m` encoding a roster (None if the roster uses a column the model lacks)."""
    values = [0.0] * m.builder.num_vars
    index = {s.id: i for i, s in enumerate(p.staff)}
    klass = {i: k for k, members in enumerate(m.classes) for i in members}
    count: dict[Cell, int] = defaultdict(int)
    seniors: dict[Cell, int] = defaultdict(int)
    for a in assignments:
        i, cell = index[a["staff"]], (a["ward"], a["day"], a["shift"])
        y = m.y.get((i, a["day"], a["shift"]))
        z = m.z.get((klass.get(i, -1), a["day"], a["shift"], a["ward"]))
        if y is None or z is None:
            return None
        values[y] = 1.0
        values[z] += 1.0
        count[cell] += 1
        seniors[cell] += p.staff[i].senior
    demand = p.demand_table()
    for cell, col in m.short.items():
        values[col] = max(0.0, demand[cell] - count[cell])
    for cell, col in m.senior_gap.items():
        values[col] = max(0.0, p.rules.seniors_per_shift - seniors[cell])
    for col, amounts, share in m.deviations:
        values[col] = abs(sum(a * values[c] for c, a in amounts.items()) - share)
    return values


def solve_staffing(p: StaffingProblem, *, time_limit_s: float, gap: float) -> AllocationResult:
    """Build, solve, and explain (or, when the hard rules conflict, name the fewest requirements to drop)."""
    began = time.perf_counter()
    m = build(p)
    b = m.builder
    roster = greedy_roster(p)
    start = vector_of(p, m, roster) if roster is not None else None
    built = time.perf_counter() - began
    outcome = solve(b, time_limit_s=max(0.01, time_limit_s - built), gap=gap, start=start)
    common = {"kind": "staffing", "method": "milp", "variables": b.num_vars, "constraints": b.num_rows}
    solver = {"highs_status": outcome.highs_status, "stopped_by": outcome.stopped_by, "nodes": outcome.nodes,
              "build_seconds": round(built, 3), "constraint_families": b.family_counts(),
              "staff_classes": len(m.classes), "warm_start": "greedy" if start is not None else "none",
              "warm_start_objective": round(float(sum(c * v for c, v in zip(b.cost, start))) + b.offset, 2)
              if start else None}
    if outcome.status == "infeasible":
        remaining = max(1.0, time_limit_s - (time.perf_counter() - began))
        relaxation = minimum_relaxation(b, time_limit_s=remaining)
        explanation = {**relaxation.as_explanation(), "solver": solver,
                       "diagnostics": senior_diagnostics(p, relaxation.requirements),
                       "held_fixed": ["availability", "one_shift_per_day", "rest_between_shifts",
                                      "max_consecutive_days", "max_hours", "ward_skills"]}
        return AllocationResult("infeasible", None, None, None, time.perf_counter() - began,
                                plan={"assignments": []}, explanation=explanation, **common)
    if not outcome.has_plan:
        return AllocationResult(outcome.status, None, outcome.bound, None, time.perf_counter() - began,
                                plan={"assignments": []},
                                explanation={"solver": solver, "message": "no plan found in the time limit"},
                                **common)
    assignments = extract(p, m, outcome.values)
    plan = {"assignments": assignments}
    explanation = explain(p, plan)
    explanation["solver"] = solver
    return AllocationResult(outcome.status, outcome.objective, outcome.bound, outcome.gap,
                            time.perf_counter() - began, plan=plan, explanation=explanation, **common)
