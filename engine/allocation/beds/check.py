"""Independent placement checker: reads the rules from the problem, never from the solver's matrix."""
from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any

from engine.allocation.beds.problem import BedsProblem


def check(p: BedsProblem, plan: dict[str, Any]) -> list[str]:
    """Every hard-rule violation of a placement plan (empty list = feasible)."""
    out: list[str] = []
    requests = {r.id: r for r in p.requests}
    beds = {b.id: b for b in p.beds}
    institution_of = {w.id: w.institution for w in p.wards}
    ward_type = {w.id: w.type for w in p.wards}
    request_seen: Counter = Counter()
    bed_seen: Counter = Counter()
    bay_sexes: dict[str, set[str]] = defaultdict(set)
    for n, a in enumerate(plan.get("placements", [])):
        where = f"placements[{n}]"
        rid, bid = a.get("request"), a.get("bed")
        if rid not in requests or bid not in beds:
            out.append(f"{where}: unknown request or bed: {a}")
            continue
        r, bed = requests[rid], beds[bid]
        request_seen[rid] += 1
        bed_seen[bid] += 1
        if a.get("ward") != bed.ward or a.get("institution") != institution_of[bed.ward]:
            out.append(f"{where}: bed {bid} is on ward {bed.ward} of {institution_of[bed.ward]}, "
                       f"not as stated")
        if ward_type[bed.ward] != r.ward_type:
            out.append(f"{where}: {rid} needs a {r.ward_type} ward, bed {bid} is {ward_type[bed.ward]}")
        if r.isolation and not bed.isolation:
            out.append(f"{where}: {rid} needs isolation, bed {bid} cannot isolate")
        if bed.isolation and not r.isolation and not p.rules.isolation_beds_for_others:
            out.append(f"{where}: isolation bed {bid} given to {rid} who does not need isolation")
        if bed.bay is not None:
            sex = p.bay(bed.bay).sex
            if sex in ("female", "male") and sex != r.sex:
                out.append(f"{where}: {rid} ({r.sex}) placed in {sex} bay {bed.bay}")
            if sex == "flexible":
                bay_sexes[bed.bay].add(r.sex)
    out += [f"request {rid} placed {k} times" for rid, k in sorted(request_seen.items()) if k > 1]
    out += [f"bed {bid} used {k} times" for bid, k in sorted(bed_seen.items()) if k > 1]
    out += [f"bay {bay} mixes sexes {sorted(s)}" for bay, s in sorted(bay_sexes.items()) if len(s) > 1]
    unplaced = set(plan.get("unplaced", []))
    for r in p.requests:
        if r.must_place and r.id not in request_seen:
            out.append(f"request {r.id} must be placed but is not")
        if (r.id in unplaced) == (r.id in request_seen):
            state = "both placed and" if r.id in unplaced else "neither placed nor"
            out.append(f"request {r.id} is {state} unplaced")
    delta = p.rules.region_fairness_delta
    fits: dict[tuple[str, str, bool], bool] = {}
    for r in p.requests:
        if (r.sex, r.ward_type, r.isolation) not in fits:
            fits[(r.sex, r.ward_type, r.isolation)] = any(p.compatible(r, bed) for bed in p.beds)
    able = [r for r in p.requests if fits[(r.sex, r.ward_type, r.isolation)]]
    if delta is not None and able:
        overall = sum(1 for r in able if r.id in request_seen) / len(able)
        regions: dict[str, list[str]] = defaultdict(list)
        for r in able:
            regions[r.region].append(r.id)
        if len(regions) > 1:
            for region, ids in sorted(regions.items()):
                rate = sum(1 for i in ids if i in request_seen) / len(ids)
                if rate < overall - delta - 1e-9:
                    out.append(f"region {region}: placement rate {rate:.3f} of placeable requests is below "
                               f"the overall {overall:.3f} - {delta:g}")
    return out
