"""What a placement plan means: rates per region and urgency, transfers, bed use, who waits and why."""
from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any

from engine.allocation.beds.problem import BedsProblem
from engine.allocation.metrics import gini, ratio, spread


def explain(p: BedsProblem, plan: dict[str, Any]) -> dict[str, Any]:
    """Slack per ward, fairness across regions, shortfalls (unplaced with reasons) and objective terms."""
    requests = {r.id: r for r in p.requests}
    beds = {b.id: b for b in p.beds}
    placed = {a["request"]: a for a in plan["placements"]}
    n = len(p.requests)
    any_bed = placeable(p)
    able = [r for r in p.requests if any_bed[r.id]]
    overall = ratio(sum(1 for r in able if r.id in placed), len(able))
    regions: dict[str, list[str]] = defaultdict(list)
    for r in able:
        regions[r.region].append(r.id)
    all_by_region: Counter = Counter(r.region for r in p.requests)
    by_region = {g: {"requests": all_by_region[g], "placeable": len(ids),
                     "placed": sum(1 for i in ids if i in placed),
                     "rate": round(ratio(sum(1 for i in ids if i in placed), len(ids)), 4)}
                 for g, ids in sorted(regions.items())}
    rates = [v["rate"] for v in by_region.values()]
    delta = p.rules.region_fairness_delta
    by_urgency = {}
    for level in range(5, 0, -1):
        ids = [r.id for r in p.requests if r.urgency == level]
        if ids:
            by_urgency[str(level)] = {"requests": len(ids), "placed": sum(1 for i in ids if i in placed)}
    transfers = [a for a in plan["placements"]
                 if requests[a["request"]].preferred_institution not in (None, a["institution"])]
    used = Counter(a["ward"] for a in plan["placements"])
    free = Counter(b.ward for b in p.beds)
    wards = [{"ward": w.id, "institution": w.institution, "type": w.type, "free_beds": free[w.id],
              "used": used[w.id], "remaining": free[w.id] - used[w.id]} for w in p.wards]
    shortfalls = []
    for rid in plan["unplaced"]:
        r = requests[rid]
        reason = ("all compatible beds are taken" if any_bed[rid]
                  else "no free bed of this ward type / isolation / sex")
        shortfalls.append({"request": rid, "ward_type": r.ward_type, "isolation": r.isolation, "sex": r.sex,
                           "urgency": r.urgency, "region": r.region, "reason": reason})
    shortfalls.sort(key=lambda s: (-s["urgency"], s["request"]))
    demand_by_type: dict[str, dict[str, int]] = defaultdict(
        lambda: {"requests": 0, "free_beds": 0, "placed": 0})
    for r in p.requests:
        demand_by_type[r.ward_type]["requests"] += 1
        demand_by_type[r.ward_type]["placed"] += r.id in placed
    for b in p.beds:
        demand_by_type[p.ward(b.ward).type]["free_beds"] += 1
    waiting = sum(p.waiting_cost(requests[rid]) for rid in plan["unplaced"])
    isolation_use = sum(1 for a in plan["placements"]
                        if beds[a["bed"]].isolation and not requests[a["request"]].isolation)
    return {
        "slack": {"wards": wards, "ward_types": dict(sorted(demand_by_type.items())),
                  "region_bound": {g: round(v["rate"] - (overall - delta), 4) for g, v in by_region.items()}
                  if delta is not None else {}},
        "fairness": {"overall_rate": round(overall, 4), "by_region": by_region,
                     "basis": "placeable requests (at least one compatible free bed)",
                     "min_rate": min(rates, default=1.0), "max_rate": max(rates, default=1.0),
                     "spread": round(spread(rates), 4),
                     "max_min_ratio": round(ratio(min(rates, default=1.0), max(rates, default=1.0)), 4),
                     "gini_of_region_rates": round(gini(rates), 4), "delta": delta,
                     "by_urgency": by_urgency},
        "shortfalls": shortfalls,
        "summary": {"requests": n, "placeable": len(able), "placed": len(placed),
                    "unplaced": len(plan["unplaced"]),
                    "transfers": len(transfers), "free_beds": len(p.beds),
                    "isolation_beds_used_by_others": isolation_use,
                    "objective_terms": {"waiting": waiting, "transfers": len(transfers) * p.weights.transfer,
                                        "isolation_bed_use": isolation_use * p.weights.isolation_bed_use}},
    }


def placeable(p: BedsProblem) -> dict[str, bool]:
    """Request id -> whether at least one free bed is compatible (type, isolation, fixed-sex bays)."""
    cache: dict[tuple[str, str, bool], bool] = {}
    out = {}
    for r in p.requests:
        key = (r.sex, r.ward_type, r.isolation)
        if key not in cache:
            cache[key] = any(p.compatible(r, bed) for bed in p.beds)
        out[r.id] = cache[key]
    return out
