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

Fairness across referring regions is a bound: placed(g) / P(g) >= placed / P - delta, written
P * placed(g) - P(g) * placed >= -delta * P * P(g) over one count column per region. P counts
*placeable* requests (at least one compatible free bed), so a region is not held responsible for
requests no bed could ever take.
"""
from __future__ import annotations

import math
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
    g: dict[str, int] = field(default_factory=dict)                    # flexible bay -> "female" binary
    counts: dict[str, int] = field(default_factory=dict)               # region -> placed count column


def bed_classes(p: BedsProblem) -> dict[ClassKey, list[str]]:
    """Free beds grouped into interchangeable classes."""
    classes: dict[ClassKey, list[str]] = defaultdict(list)
    for bed in p.beds:
        classes[(bed.ward, bed.bay, bed.isolation)].append(bed.id)
    ordered = sorted(classes.items(), key=lambda kv: (kv[0][0], kv[0][1] or "", kv[0][2]))
    return {k: sorted(v) for k, v in ordered}


def build(p: BedsProblem, *, fairness: bool = True, rate_target: float | None = None) -> BedsModel:
    """Formulate the placement MILP (see the module docstring).

    `fairness=False` leaves the region bound out; `rate_target` replaces it by the stricter, uncoupled
    rows placed(g) >= ceil(P(g) * (target - delta)), placed <= floor(P * target), whose plans all keep
    the real bound (used to find a warm start).
    """
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
            key = b.requirement(f"must_place[{r.id}]", "must_place", "the request must get a bed",
                                request=r.id, ward_type=r.ward_type, isolation=r.isolation, sex=r.sex)
            b.row(cols, 1.0, 1.0, INF, family="must_place", requirement=key)
    per_class: dict[ClassKey, list[int]] = defaultdict(list)
    for cat, cols in members.items():
        y_cols = []
        for c in targets[cat[:3]][cat[3:]]:
            col = b.var(0.0, 0.0, min(len(cols), len(m.classes[c])), integer=True)
            m.y[(cat, c)] = col
            per_class[c].append(col)
            y_cols.append(col)
        b.row(y_cols + cols, [1.0] * len(y_cols) + [-1.0] * len(cols), 0.0, 0.0,
              family="bed_class_assignment")
    for c, cols in per_class.items():
        if len(cols) > 1:
            b.row(cols, 1.0, -INF, len(m.classes[c]), family="bed_capacity")
    _single_sex_bays(p, m)
    if fairness:
        _region_fairness(p, m, rate_target)
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
            female = m.g[bay] = b.binary()
            n = size[bay]
            women, men = cols["female"], cols["male"]
            b.row(women + [female], [1.0] * len(women) + [-n], -INF, 0.0, family="single_sex_bay")
            b.row(men + [female], [1.0] * len(men) + [n], -INF, n, family="single_sex_bay")


def _region_fairness(p: BedsProblem, m: BedsModel, rate_target: float | None) -> None:
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
    if rate_target is not None:
        total = sum(len(v) for v in regions.values())
        for region, idx in sorted(regions.items()):
            cols = [col for i in idx for col in by_request[i]]
            count = m.counts[region] = b.var(0.0, 0.0, len(idx))
            b.row(cols + [count], [1.0] * len(cols) + [-1.0], 0.0, 0.0, family="placement_rate")
            floor = math.ceil(len(idx) * (rate_target - delta) - 1e-9)
            b.row([count], 1.0, floor, INF, family="region_target")
        ceiling = math.floor(total * rate_target + 1e-9)
        b.row(list(m.counts.values()), 1.0, -INF, ceiling, family="region_target")
        return
    n = float(sum(len(v) for v in regions.values()))
    counts = {}
    for region, idx in sorted(regions.items()):
        counts[region] = m.counts[region] = b.var(0.0, 0.0, len(idx))
        cols = [col for i in idx for col in by_request[i]]
        b.row(cols + [counts[region]], [1.0] * len(cols) + [-1.0], 0.0, 0.0, family="placement_rate")
    for region, idx in sorted(regions.items()):
        key = b.requirement(f"region_fairness[{region}]", "region_fairness",
                            f"placement rate of the region >= overall rate - {delta:g}", region=region)
        size = float(len(idx))
        # n * placed(g) - size(g) * placed >= -delta * n * size(g), i.e. placed(g)/size(g) >= placed/n - delta
        cols = list(counts.values())
        vals = [n * (1.0 if other == region else 0.0) - size for other in counts]
        b.row(cols, vals, -delta * n * size, INF, family="region_fairness", requirement=key)


def extract(p: BedsProblem, m: BedsModel, values: Any) -> dict[str, Any]:
    """Placements (a category's patients matched to the beds its counts received) and unplaced ids."""
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


def vector_of(p: BedsProblem, m: BedsModel, plan: dict[str, Any]) -> list[float]:
    """The column vector of `m` that encodes a placement plan (used as a warm start)."""
    values = [0.0] * m.builder.num_vars
    index = {r.id: i for i, r in enumerate(p.requests)}
    beds = {bed.id: bed for bed in p.beds}
    institution_of = {w.id: w.institution for w in p.wards}
    able = placeable(p)
    for a in plan["placements"]:
        i, bed = index[a["request"]], beds[a["bed"]]
        r = p.requests[i]
        option = (institution_of[bed.ward], bed.isolation)
        values[m.x[(i, option)]] = 1.0
        values[m.y[((r.sex, r.ward_type, r.isolation, *option), (bed.ward, bed.bay, bed.isolation))]] += 1.0
        if bed.bay in m.g and r.sex == "female":
            values[m.g[bed.bay]] = 1.0
        if r.region in m.counts and able[r.id]:
            values[m.counts[r.region]] += 1.0
    return values


def region_bound_holds(p: BedsProblem, plan: dict[str, Any]) -> bool:
    """True when every region's placement rate (placeable requests) is >= the overall rate - delta."""
    return not _violations(p, {a["request"] for a in plan["placements"]})


def repair_fairness(p: BedsProblem, plan: dict[str, Any]) -> dict[str, Any] | None:
    """Drop placements from the best-served regions (least urgent first) until the region bound holds.

    Returns None when only must-place requests are left to drop.
    """
    placed = {a["request"] for a in plan["placements"]}
    requests = {r.id: r for r in p.requests}
    while _violations(p, placed):
        rates = _rates(p, placed)[1]
        for region in sorted(rates, key=lambda g: -rates[g]):
            droppable = [rid for rid in placed
                         if requests[rid].region == region and not requests[rid].must_place]
            if droppable:
                placed.discard(min(droppable, key=lambda rid: (requests[rid].urgency, rid)))
                break
        else:
            return None
    return {"placements": [a for a in plan["placements"] if a["request"] in placed],
            "unplaced": [r.id for r in p.requests if r.id not in placed]}


def _rates(p: BedsProblem, placed: set[str]) -> tuple[float, dict[str, float]]:
    able = placeable(p)
    size: dict[str, int] = defaultdict(int)
    got: dict[str, int] = defaultdict(int)
    for r in p.requests:
        if able[r.id]:
            size[r.region] += 1
            got[r.region] += r.id in placed
    total = sum(size.values())
    overall = sum(got.values()) / total if total else 1.0
    return overall, {g: got[g] / size[g] for g in size}


def _violations(p: BedsProblem, placed: set[str]) -> list[str]:
    delta = p.rules.region_fairness_delta
    if delta is None:
        return []
    overall, rates = _rates(p, placed)
    if len(rates) < 2:
        return []
    return [g for g, rate in rates.items() if rate < overall - delta - 1e-9]


def _warm_start(p: BedsProblem, full: BedsModel, plan: dict[str, Any], time_left: float, gap: float,
                solver: dict[str, Any]) -> list[float] | None:
    """A plan keeping the region bound: the model with the rate fixed at the unconstrained plan's
    rate (uncoupled rows, fast), else the unconstrained plan with placements dropped from the
    best-served regions."""
    able = placeable(p)
    total = sum(able.values())
    rate = sum(1 for a in plan["placements"] if able[a["request"]]) / total if total else 0.0
    targeted = build(p, rate_target=rate)
    outcome = solve(targeted.builder, time_limit_s=max(0.01, time_left / 2), gap=gap)
    if outcome.has_plan:
        solver["warm_start"] = f"rate fixed at {rate:.4f}"
        return vector_of(p, full, extract(p, targeted, outcome.values))
    repaired = repair_fairness(p, plan)
    solver["warm_start"] = "repaired" if repaired is not None else "none"
    return vector_of(p, full, repaired) if repaired is not None else None


def solve_beds(p: BedsProblem, *, time_limit_s: float, gap: float) -> AllocationResult:
    """Build, solve and explain (or name the fewest requirements to give up).

    The region bound is handled lazily: the model without it is solved first; if its plan keeps the
    bound, that plan is optimal for the full model too (the bound only removes plans). Otherwise a
    plan keeping the bound is found with the rate fixed (see `_warm_start`) and handed to HiGHS as
    the incumbent of the full model, which usually closes the gap at the root. (HiGHS alone spends
    10 s or more in root cut rounds on the coupled rate rows at 1,000 requests.)
    """
    began = time.perf_counter()
    full = build(p)
    b = full.builder
    common = {"kind": "beds", "method": "milp", "variables": b.num_vars, "constraints": b.num_rows}
    solver: dict[str, Any] = {"constraint_families": b.family_counts(), "bed_classes": len(full.classes)}
    empty = {"placements": [], "unplaced": [r.id for r in p.requests]}
    start = None
    outcome = None
    if full.counts:
        relaxed = build(p, fairness=False)
        share = (time_limit_s - (time.perf_counter() - began)) / 3
        first = solve(relaxed.builder, time_limit_s=max(0.01, share), gap=gap)
        solver["without_region_bound"] = {"status": first.status, "seconds": round(first.seconds, 3)}
        if first.has_plan:
            plan = extract(p, relaxed, first.values)
            if region_bound_holds(p, plan):
                solver["region_bound"] = "not binding: the plan of the model without it keeps it"
                outcome = first
            else:
                start = _warm_start(p, full, plan, time_limit_s - (time.perf_counter() - began), gap, solver)
    if outcome is None:
        outcome = solve(b, time_limit_s=max(0.01, time_limit_s - (time.perf_counter() - began)), gap=gap,
                        start=start)
        plan = extract(p, full, outcome.values) if outcome.has_plan else empty
    solver.update({"highs_status": outcome.highs_status, "stopped_by": outcome.stopped_by,
                   "nodes": outcome.nodes})
    if outcome.status == "infeasible":
        remaining = max(1.0, time_limit_s - (time.perf_counter() - began))
        relaxation = minimum_relaxation(b, time_limit_s=remaining)
        explanation = {**relaxation.as_explanation(), "solver": solver,
                       "held_fixed": ["bed_capacity", "one_bed_per_request", "ward_type", "isolation",
                                      "single_sex_bay"]}
        return AllocationResult("infeasible", None, None, None, time.perf_counter() - began, plan=empty,
                                explanation=explanation, **common)
    if not outcome.has_plan:
        return AllocationResult(outcome.status, None, outcome.bound, None, time.perf_counter() - began,
                                plan=empty,
                                explanation={"solver": solver, "message": "no plan found in the time limit"},
                                **common)
    explanation = explain(p, plan)
    explanation["solver"] = solver
    return AllocationResult(outcome.status, outcome.objective, outcome.bound, outcome.gap,
                            time.perf_counter() - began, plan=plan, explanation=explanation, **common)
