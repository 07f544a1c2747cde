"""Roster as text: one day x shift table per ward, then what is short."""
from __future__ import annotations

from collections import defaultdict
from typing import Any

from engine.allocation.staffing.problem import StaffingProblem
from engine.allocation.text import num, pct

_NAMES_UP_TO = 60  # list who works each cell only for small rosters


def render(p: StaffingProblem, result: Any) -> str:
    """Readable roster: header, a table per ward (assigned/required, seniors), shortfall lines."""
    lines = [f"Staffing plan - status {result.status}, objective {num(result.objective)}, "
             f"gap {pct(result.gap)}"]
    if result.status == "infeasible":
        lines.append("No roster keeps every hard rule. Requirements that cannot be met together:")
        for req in result.explanation.get("conflicting_requirements", []):
            lines.append(f"  - {req['requirement']}: {req['rule']}")
        return "\n".join(lines) + "\n"
    demand = p.demand_table()
    senior = {s.id for s in p.staff if s.senior}
    cells: dict[tuple[str, int, str], list[str]] = defaultdict(list)
    for a in result.plan.get("assignments", []):
        cells[(a["ward"], a["day"], a["shift"])].append(a["staff"])
    show_names = len(p.staff) <= _NAMES_UP_TO
    width = max(12, *(len(s.id) + 2 for s in p.shifts))
    for ward in p.wards:
        lines.append("")
        lines.append(f"Ward {ward.id}" + (f" ({ward.name})" if ward.name else "") +
                     "  [assigned/required, s = seniors, ! = short]")
        lines.append("day".ljust(6) + "".join(s.id.ljust(width) for s in p.shifts))
        for day in range(p.horizon.days):
            row = f"{day:<6}"
            for shift in p.shifts:
                people = cells[(ward.id, day, shift.id)]
                need = demand.get((ward.id, day, shift.id), 0)
                seniors = sum(1 for x in people if x in senior)
                mark = "!" if len(people) < need else ""
                row += (f"{len(people)}/{need} s{seniors}{mark}" if need or people else "-").ljust(width)
            lines.append(row.rstrip())
            if show_names:
                for shift in p.shifts:
                    people = cells[(ward.id, day, shift.id)]
                    if people:
                        lines.append(f"      {shift.id}: {', '.join(sorted(people))}")
    shortfalls = result.explanation.get("shortfalls", [])
    lines.append("")
    if shortfalls:
        lines.append(f"Short ({len(shortfalls)} ward shifts):")
        for s in shortfalls:
            parts = []
            if s["shortfall"]:
                parts.append(f"{s['assigned']}/{s['required']} nurses, short {s['shortfall']}")
            if s.get("senior_shortfall"):
                parts.append(f"no senior (short {s['senior_shortfall']})")
            lines.append(f"  SHORT ward {s['ward']} day {s['day']} {s['shift']}: {'; '.join(parts)}")
    else:
        lines.append("No shortfalls: every ward shift is covered.")
    fair = result.explanation.get("fairness", {})
    und = fair.get("undesirable_shifts", {})
    if und:
        lines.append(f"Undesirable shifts per person: min {und['min']:g}, max {und['max']:g}, "
                     f"Gini {und['gini']:.3f}; coverage ratio {fair['coverage_ratio']['overall']:.3f}")
    return "\n".join(lines) + "\n"

