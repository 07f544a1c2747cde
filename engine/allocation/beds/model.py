"""Bed placement as a two-level MILP.

Level 1, per request: x[r,o] binary for each placement option o = (institution, isolation bed or
not) the request could use; that is all the objective needs (a transfer is a placement away from
the preferred institution; isolation beds used by others cost a little; unplaced requests cost
their waiting weight, written as an offset minus the weight on every placement).

Level 2, aggregated: requests with the same (sex, ward type, isolation need) placed through the
same option are interchangeable for the bed rules, so integers y[cat,c] count how many of category
cat go to bed class c (free beds of one ward, bay and isolation flag), with
sum_c y[cat,c] = sum_{r in cat} x[r,o], sum_cat y[cat,c] <= free beds of c. Flexible bays get a
sex binary g[b]: female count <= size(b) * g[b], male count <= size(b) * (1 - g[b]). Actual beds
and patients are matched afterwards, so the aggregation is exact. (Per-request-per-class binaries
were 68k columns at 1,000 requests and HiGHS could not even finish the root in 60 s.)

Fairness across referring regions is a bound: placed(g) >= P(g) * (rate - delta) with
rate = placed / P, where P counts *placeable* requests (at least one compatible free bed), so a
region is not held responsible for requests no bed could ever take.
"""
from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from engine.allocation.beds.explain import explain, placeable
from engine.allocation.beds.problem import BedsProblem
from engine.allocation.elastic import minimum_relaxation
from engine.allocation.highs import INF, MilpBuilder, solve
from engine.allocation.result import AllocationResult

ClassKey = tuple[str, str | None, bool]   # (ward, bay, isolation)
Option = tuple[str, bool]                 # (institution, isolation bed)
Category = tuple[str, str, bool, str, bool]  # (sex, ward type, needs isolation, institution, isolation bed)


@dataclass
class BedsModel:
    """The MILP and the maps back to placements."""

    builder: MilpBuilder
    classes: dict[ClassKey, list[str]] = field(default_factory=dict)   # class -> free bed ids
    x: dict[tuple[int, Option], int] = field(default_factory=dict)     # (request idx, option) -> column
    y: dict[tuple[Category, ClassKey], int] = field(default_factory=dict)


def bed_classes(p: BedsProblem) -> dict[ClassKey, list[str]]:
    """Free beds grouped into interchangeable classes."""
    classes: dict[ClassKey, list[str]] = defaultdict(list)
    for bed in p.beds:
        classes[(bed.ward, bed.bay, bed.isolation)].append(bed.id)
    return {k: sorted(v) for k, v in sorted(classes.items(), key=lambda kv: (kv[0][0], kv[0][1] or "", kv[0][2]))}


def build(p: BedsProblem) -> BedsModel:
    """Formulate the placement MILP (see the module docstring)."""
    m = BedsModel(MilpBuilder(), bed_classes(p))
    b = m.builder
    institution_of = {w.id: w.institution for w in p.wards}
    beds = {bed.id: bed for bed in p.beds}
    targets: dict[tuple[str, str, bool], dict[Option, list[ClassKey]]] = {}
    members: dict[Category, list[int]] = defaultdict(list)
    for i, r in enumerate(p.requests):
        sig = (r.sex, r.ward_type, r.isolation)
        if sig not in targets:
            options: dict[Option, list[ClassKey]] = defaultdict(list)
            for c, ids in m.classes.items():
                if p.compatible(r, beds[ids[0]]):
                    options[(institution_of[c[0]], c[2])].append(c)
            targets[sig] = dict(options)
        waiting = p.waiting_cost(r)
        b.offset += waiting
        cols = []
        for option in targets[sig]:
            cost = -waiting
            if r.preferred_institution is not None and option[0] != r.preferred_institution:
                cost += p.weights.transfer
            if option[1] and not r.isolation:
                cost += p.weights.isolation_bed_use
            col = b.binary(cost)
            m.x[(i, option)] = col
            members[(*sig, *option)].append(col)
            cols.append(col)
        if len(cols) > 1:
            b.row(cols, 1.0, -INF, 1.0, family="one_bed_per_request")
        if r.must_place:
            key = b.requirement(f"must_place[{r.id}]", "must_place", "the request must get a bed", request=r.id,
                                ward_type=r.ward_type, isolation=r.isolation, sex=r.sex)
            b.row(cols, 1.0, 1.0, INF, family="must_place", requirement=key)
    per_class: dict[ClassKey, list[int]] = defaultdict(list)
    for cat, cols in members.items():
        y_cols = []
        for c in targets[cat[:3]][cat[3:]]:
            col = b.var(0.0, 0.0, min(len(cols), len(m.classes[c])), integer=True)
            m.y[(cat, c)] = col
            per_class[c].append(col)
            y_cols.append(col)
        b.row(y_cols + cols, [1.0] * len(y_cols) + [-1.0] * len(cols), 0.0, 0.0, family="bed_class_assignment")
    for c, cols in per_class.items():
        if len(cols) > 1:
            b.row(cols, 1.0, -INF, len(m.classes[c]), family="bed_capacity")
    _single_sex_bays(p, m)
    _region_fairness(p, m)
    return m


def _single_sex_bays(p: BedsProblem, m: BedsModel) -> None:
    b = m.builder
    by_bay: dict[str, dict[str, list[int]]] = defaultdict(lambda: {"female": [], "male": []})
    size: dict[str, int] = defaultdict(int)
    for c, ids in m.classes.items():
        if c[1] is not None and p.bay(c[1]).sex == "flexible":
            size[c[1]] += len(ids)
    for (cat, c), col in m.y.items():
        if c[1] is not None and c[1] in size:
            by_bay[c[1]][cat[0]].append(col)
    for bay, cols in sorted(by_bay.items()):
        if cols["female"] and cols["male"]:
            female = b.binary()
            n = size[bay]
            b.row(cols["female"] + [female], [1.0] * len(cols["female"]) + [-n], -INF, 0.0, family="single_sex_bay")
            b.row(cols["male"] + [female], [1.0] * len(cols["male"]) + [n], -INF, n, family="single_sex_bay")


def _region_fairness(p: BedsProblem, m: BedsModel) -> None:
    delta = p.rules.region_fairness_delta
    able = placeable(p)
    regions: dict[str, list[int]] = defaultdict(list)
    for i, r in enumerate(p.requests):
        if able[r.id]:
            regions[r.region].append(i)
    if delta is None or len(regions) < 2:
        return
    b = m.builder
    by_request: dict[int, list[int]] = defaultdict(list)
    for (i, _), col in m.x.items():
        by_request[i].append(col)
    n = sum(len(v) for v in regions.values())
    rate = b.var(0.0, 0.0, 1.0)
    counts = {}
    for region, idx in sorted(regions.items()):
        counts[region] = b.var(0.0, 0.0, len(idx))
        cols = [col for i in idx for col in by_request[i]]
        b.row(cols + [counts[region]], [1.0] * len(cols) + [-1.0], 0.0, 0.0, family="placement_rate")
    b.row(list(counts.values()) + [rate], [1.0] * len(counts) + [-float(n)], 0.0, 0.0, family="placement_rate")
    for region, idx in sorted(regions.items()):
        key = b.requirement(f"region_fairness[{region}]", "region_fairness",
                            f"placement rate of the region >= overall rate - {delta:g}", region=region)
        size = float(len(idx))
        b.row([counts[region], rate], [1.0, -size], -delta * size, INF, family="region_fairness", requirement=key)


def extract(p: BedsProblem, m: BedsModel, values: Any) -> dict[str, Any]:
    """Placements (patients of a category matched to the beds its counts received) and unplaced request ids."""
    institution_of = {w.id: w.institution for w in p.wards}
    chosen: dict[Category, list[int]] = defaultdict(list)
    for (i, option), col in m.x.items():
        if values[col] > 0.5:
            r = p.requests[i]
            chosen[(r.sex, r.ward_type, r.isolation, *option)].append(i)
    next_bed: dict[ClassKey, int] = defaultdict(int)
    placements = []
    placed = set()
    seats: dict[Category, list[tuple[ClassKey, str]]] = defaultdict(list)
    for (cat, c), col in m.y.items():
        for _ in range(int(round(values[col]))):
            seats[cat].append((c, m.classes[c][next_bed[c]]))
            next_bed[c] += 1
    for cat, requests in chosen.items():
        for i, (c, bed) in zip(sorted(requests, key=lambda i: p.requests[i].id), seats[cat]):
            placements.append({"request": p.requests[i].id, "bed": bed, "ward": c[0],
                               "institution": institution_of[c[0]]})
            placed.add(i)
    placements.sort(key=lambda a: a["request"])
    unplaced = [r.id for i, r in enumerate(p.requests) if i not in placed]
    return {"placements": placements, "unplaced": unplaced}


def solve_beds(p: BedsProblem, *, time_limit_s: float, gap: float) -> AllocationResult:
    """Build, solve and explain (or name the fewest requirements to give up)."""
    began = time.perf_counter()
    m = build(p)
    b = m.builder
    built = time.perf_counter() - began
    outcome = solve(b, time_limit_s=max(0.01, time_limit_s - built), gap=gap)
    common = {"kind": "beds", "method": "milp", "variables": b.num_vars, "constraints": b.num_rows}
    solver = {"highs_status": outcome.highs_status, "stopped_by": outcome.stopped_by, "nodes": outcome.nodes,
              "build_seconds": round(built, 3), "constraint_families": b.family_counts(),
              "bed_classes": len(m.classes)}
    empty = {"placements": [], "unplaced": [r.id for r in p.requests]}
    if outcome.status == "infeasible":
        remaining = max(1.0, time_limit_s - (time.perf_counter() - began))
        relaxation = minimum_relaxation(b, time_limit_s=remaining)
        explanation = {**relaxation.as_explanation(), "solver": solver,
                       "held_fixed": ["bed_capacity", "one_bed_per_request", "ward_type", "isolation",
                                      "single_sex_bay"]}
        return AllocationResult("infeasible", None, None, None, time.perf_counter() - began, plan=empty,
                                explanation=explanation, **common)
    if not outcome.has_plan:
        return AllocationResult(outcome.status, None, outcome.bound, None, time.perf_counter() - began, plan=empty,
                                explanation={"solver": solver, "message": "no plan found in the time limit"},
                                **common)
    plan = extract(p, m, outcome.values)
    explanation = explain(p, plan)
    explanation["solver"] = solver
    return AllocationResult(outcome.status, outcome.objective, outcome.bound, outcome.gap,
                            time.perf_counter() - began, plan=plan, explanation=explanation, **common)
