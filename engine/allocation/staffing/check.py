"""Independent roster checker: reads the rules from the problem, never from the solver's matrix."""
from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any

from engine.allocation.staffing.problem import StaffingProblem


def check(p: StaffingProblem, plan: dict[str, Any]) -> list[str]:
    """Every hard-rule violation of a roster, as readable sentences (empty list = feasible)."""
    out: list[str] = []
    staff = {s.id: s for s in p.staff}
    wards = {w.id: w for w in p.wards}
    shifts = {s.id: s for s in p.shifts}
    demand = p.demand_table()
    worked: dict[str, dict[int, list[str]]] = defaultdict(lambda: defaultdict(list))
    seniors: Counter = Counter()
    seen: set[tuple[str, int, str]] = set()
    for n, a in enumerate(plan.get("assignments", [])):
        where = f"assignments[{n}]"
        sid, ward, day, shift = a.get("staff"), a.get("ward"), a.get("day"), a.get("shift")
        if sid not in staff or ward not in wards or shift not in shifts or not isinstance(day, int) \
                or not 0 <= day < p.horizon.days:
            out.append(f"{where}: unknown staff, ward, shift or day outside the horizon: {a}")
            continue
        person = staff[sid]
        if (sid, day, shift) in seen:
            out.append(f"{where}: {sid} assigned twice to day {day} {shift}")
            continue
        seen.add((sid, day, shift))
        worked[sid][day].append(shift)
        if person.senior:
            seniors[(ward, day, shift)] += 1
        if any(u.day == day and (u.shift is None or u.shift == shift) for u in person.unavailable):
            out.append(f"{where}: {sid} is unavailable on day {day} {shift}")
        missing = set(wards[ward].required_skills) - set(person.skills)
        if missing:
            out.append(f"{where}: {sid} lacks skills {sorted(missing)} for ward {ward}")
        if person.wards is not None and ward not in person.wards:
            out.append(f"{where}: {sid} may not work on ward {ward}")
        if demand.get((ward, day, shift), 0) == 0:
            out.append(f"{where}: ward {ward} needs nobody on day {day} {shift}")

    succession = set(p.successions())
    limit = p.rules.max_consecutive_days
    for sid, days in worked.items():
        person = staff[sid]
        for day, on in days.items():
            if len(on) > 1:
                out.append(f"{sid} works {len(on)} shifts on day {day}: {sorted(on)}")
            for a in on:
                for b in days.get(day + 1, []):
                    if (a, b) in succession:
                        out.append(f"{sid} works {b} on day {day + 1} right after {a} on day {day}")
        run = 0
        for day in range(p.horizon.days):
            run = run + 1 if days.get(day) else 0
            if run == limit + 1:
                out.append(f"{sid} works more than {limit} days in a row (ending day {day})")
        total = sum(shifts[t].hours for on in days.values() for t in on)
        if total > p.max_hours(person) + 1e-6:
            out.append(f"{sid} works {total:g} h, above the maximum of {p.max_hours(person):g} h")

    need = p.rules.seniors_per_shift
    if p.rules.senior_cover == "hard" and need > 0:
        for (ward, day, shift), required in sorted(demand.items()):
            if required > 0 and seniors[(ward, day, shift)] < need:
                out.append(f"ward {ward} day {day} {shift}: {seniors[(ward, day, shift)]} senior(s), "
                           f"{need} required")
    return out
