"""What a roster means: cover per ward shift, hours per person, fairness, preferences, where it is short."""
from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any

from engine.allocation.metrics import ratio, summary
from engine.allocation.staffing.problem import StaffingProblem


def explain(p: StaffingProblem, plan: dict[str, Any]) -> dict[str, Any]:
    """Slack per constraint family, fairness metrics, shortfalls and objective terms of a roster."""
    demand = p.demand_table()
    staff = {s.id: s for s in p.staff}
    hours = {s.id: s.hours for s in p.shifts}
    undesirable_shift = {s.id for s in p.shifts if s.undesirable}
    assigned: Counter = Counter()
    seniors: Counter = Counter()
    worked_hours: Counter = Counter()
    undesirable: Counter = Counter()
    cost = 0.0
    prefer_met = avoid_broken = 0
    for a in plan["assignments"]:
        person = staff[a["staff"]]
        cell = (a["ward"], a["day"], a["shift"])
        assigned[cell] += 1
        seniors[cell] += person.senior
        worked_hours[person.id] += hours[a["shift"]]
        cost += person.cost_per_hour * hours[a["shift"]]
        if a["shift"] in undesirable_shift or p.is_weekend(a["day"]):
            undesirable[person.id] += 1
        if any(u.day == a["day"] and u.shift in (None, a["shift"]) for u in person.prefers):
            prefer_met += 1
        if any(u.day == a["day"] and u.shift in (None, a["shift"]) for u in person.avoids):
            avoid_broken += 1

    need = p.rules.seniors_per_shift
    coverage, shortfalls = [], []
    for cell in sorted(set(demand) | set(assigned), key=lambda c: (c[1], _order(p, c[2]), c[0])):
        ward, day, shift = cell
        required, have = demand.get(cell, 0), assigned[cell]
        row = {"ward": ward, "day": day, "shift": shift, "required": required, "assigned": have,
               "shortfall": max(0, required - have), "seniors": seniors[cell]}
        coverage.append(row)
        if row["shortfall"] or (required and seniors[cell] < need):
            shortfalls.append({**row, "senior_shortfall": max(0, need - seniors[cell]) if required else 0})

    people = [s for s in p.staff if s.contracted_hours > 0]
    hours_rows = [{"staff": s.id, "hours": worked_hours[s.id], "contracted": s.contracted_hours,
                   "max_hours": p.max_hours(s), "slack": p.max_hours(s) - worked_hours[s.id],
                   "undesirable": undesirable[s.id]} for s in p.staff]
    by_ward_shift: dict[str, dict[str, dict[str, Any]]] = defaultdict(dict)
    for ward in p.wards:
        for shift in p.shifts:
            req = sum(v for (w, _, t), v in demand.items() if w == ward.id and t == shift.id)
            got = sum(min(v, demand.get((w, d, t), 0)) for (w, d, t), v in assigned.items()
                      if w == ward.id and t == shift.id)
            by_ward_shift[ward.id][shift.id] = round(ratio(got, req), 4)
    ratios = [v for per in by_ward_shift.values() for v in per.values()]
    total_req = sum(demand.values())
    total_cov = sum(min(assigned[c], v) for c, v in demand.items())
    und = [undesirable[s.id] for s in people]
    use = [worked_hours[s.id] / s.contracted_hours for s in people]
    fairness = {
        "undesirable_shifts": {**summary(und), "per_person": {s.id: undesirable[s.id] for s in people}},
        "hours_vs_contract": summary(use),
        "coverage_ratio": {"overall": round(ratio(total_cov, total_req), 4), "min": min(ratios, default=1.0),
                           "by_ward_and_shift": dict(by_ward_shift)},
        "abs_deviation_undesirable": round(_abs_deviation(und, [s.contracted_hours for s in people]), 4),
        "abs_deviation_hours": round(_abs_deviation([worked_hours[s.id] for s in people],
                                                    [s.contracted_hours for s in people]), 4),
    }
    short_total = sum(r["shortfall"] for r in shortfalls)
    return {
        "slack": {"coverage": coverage, "hours": hours_rows},
        "fairness": fairness,
        "shortfalls": shortfalls,
        "summary": {"assignments": len(plan["assignments"]), "required_nurse_shifts": total_req,
                    "covered_nurse_shifts": total_cov, "short_nurse_shifts": short_total,
                    "ward_shifts_short": sum(1 for r in shortfalls if r["shortfall"]),
                    "ward_shifts_without_senior": sum(1 for r in shortfalls if r["senior_shortfall"]),
                    "paid_cost": round(cost, 2), "preferences_met": prefer_met,
                    "preferences_requested": sum(len(s.prefers) for s in p.staff),
                    "avoid_requests_broken": avoid_broken},
    }


def senior_diagnostics(p: StaffingProblem, requirements: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """For each relaxed senior-cover requirement: seniors available that shift vs ward shifts needing one."""
    demand = p.demand_table()
    out = []
    for req in requirements:
        if req.get("family") != "senior_cover":
            continue
        day, shift = req["day"], req["shift"]
        available = [s.id for s in p.staff if s.senior and req["ward"] in p.allowed_wards(s)
                     and not any(u.day == day and u.shift in (None, shift) for u in s.unavailable)]
        wards_needing = sorted(w for (w, d, t), v in demand.items() if d == day and t == shift and v > 0)
        out.append({"requirement": req["requirement"], "seniors_available_for_ward": len(available),
                    "ward_shifts_needing_senior": len(wards_needing)})
    return out


def _abs_deviation(amounts: list[float], contracts: list[float]) -> float:
    """Sum |a_s - c_s * total_a / total_c|: the fairness term the model minimises."""
    total_c = sum(contracts)
    if not total_c:
        return 0.0
    rate = sum(amounts) / total_c
    return sum(abs(a - c * rate) for a, c in zip(amounts, contracts))


def _order(p: StaffingProblem, shift: str) -> int:
    return next(i for i, s in enumerate(p.shifts) if s.id == shift)
