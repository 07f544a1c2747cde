"""Placement plan as text: placements per institution and ward, who waits and why, rates per region."""
from __future__ import annotations

from collections import defaultdict
from typing import Any

from engine.allocation.beds.problem import BedsProblem
from engine.allocation.text import num, pct

_LIST_UP_TO = 200  # list individual placements only for small plans


def render(p: BedsProblem, result: Any) -> str:
    """Readable placement plan."""
    lines = [f"Bed placement - status {result.status}, objective {num(result.objective)}, "
             f"gap {pct(result.gap)}"]
    if result.status == "infeasible":
        lines.append("No placement keeps every hard rule. Requirements that cannot be met together:")
        for req in result.explanation.get("conflicting_requirements", []):
            lines.append(f"  - {req['requirement']}: {req['rule']}")
        return "\n".join(lines) + "\n"
    requests = {r.id: r for r in p.requests}
    by_ward: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for a in result.plan.get("placements", []):
        by_ward[a["ward"]].append(a)
    free = defaultdict(int)
    for b in p.beds:
        free[b.ward] += 1
    total = len(result.plan.get("placements", []))
    for inst in p.institutions:
        lines.append("")
        lines.append(f"Institution {inst.id}" + (f" ({inst.name})" if inst.name else ""))
        for w in (w for w in p.wards if w.institution == inst.id):
            lines.append(f"  ward {w.id} [{w.type}]: {len(by_ward[w.id])}/{free[w.id]} free beds used")
            if total <= _LIST_UP_TO:
                for a in sorted(by_ward[w.id], key=lambda a: a["bed"]):
                    r = requests[a["request"]]
                    moved = " (transfer)" if r.preferred_institution not in (None, inst.id) else ""
                    lines.append(f"    {a['bed']:<14} <- {r.id} ({r.sex}, urgency {r.urgency}){moved}")
    lines.append("")
    shortfalls = result.explanation.get("shortfalls", [])
    if shortfalls:
        lines.append(f"Waiting ({len(shortfalls)} unplaced):")
        for s in shortfalls[:_LIST_UP_TO]:
            lines.append(f"  UNPLACED {s['request']} ({s['ward_type']}, urgency {s['urgency']}, "
                         f"region {s['region']}): {s['reason']}")
        if len(shortfalls) > _LIST_UP_TO:
            lines.append(f"  ... and {len(shortfalls) - _LIST_UP_TO} more")
    else:
        lines.append("Every request is placed.")
    fair = result.explanation.get("fairness", {})
    if fair:
        rates = ", ".join(f"{g} {v['placed']}/{v['placeable']}" for g, v in fair["by_region"].items())
        lines.append(f"Placement rate overall {fair['overall_rate']:.3f}; by region: {rates}")
    lines.append(f"Transfers: {result.explanation.get('summary', {}).get('transfers', 0)}")
    return "\n".join(lines) + "\n"

