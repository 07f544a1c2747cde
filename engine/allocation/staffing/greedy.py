"""A quick greedy roster that keeps every hard rule: the MILP's first incumbent (warm start)."""
from __future__ import annotations

from collections import defaultdict
from typing import Any

from engine.allocation.staffing.problem import Staff, StaffingProblem


class _Roster:
    """Who works what so far, with the rule checks a new assignment must pass."""

    def __init__(self, p: StaffingProblem):
        self.p = p
        self.hours = {s.id: s.hours for s in p.shifts}
        self.successions = set(p.successions())
        self.window = p.rules.max_consecutive_days
        self.shift_on: dict[tuple[str, int], str] = {}
        self.worked: dict[str, float] = defaultdict(float)
        self.count: dict[tuple[str, int, str], int] = defaultdict(int)
        self.assignments: list[dict[str, Any]] = []
        self.off = {s.id: {(u.day, u.shift) for u in s.unavailable} for s in p.staff}
        self.wish = {s.id: ({(u.day, u.shift) for u in s.avoids}, {(u.day, u.shift) for u in s.prefers})
                     for s in p.staff}

    def can(self, s: Staff, day: int, shift: str) -> bool:
        sid = s.id
        if (sid, day) in self.shift_on or (day, None) in self.off[sid] or (day, shift) in self.off[sid]:
            return False
        if (self.shift_on.get((sid, day - 1)), shift) in self.successions:
            return False
        if (shift, self.shift_on.get((sid, day + 1))) in self.successions:
            return False
        if self.worked[sid] + self.hours[shift] > self.p.max_hours(s) + 1e-9:
            return False
        before = next(k for k in range(day + 1) if (sid, day - 1 - k) not in self.shift_on)
        after = next(k for k in range(self.p.horizon.days + 1) if (sid, day + 1 + k) not in self.shift_on)
        return before + 1 + after <= self.window

    def rank(self, s: Staff, day: int, shift: str) -> tuple[Any, ...]:
        avoid, prefer = self.wish[s.id]
        against = (day, shift) in avoid or (day, None) in avoid
        wish = int(against) - int((day, shift) in prefer or (day, None) in prefer)
        load = self.worked[s.id] / s.contracted_hours if s.contracted_hours else 1.0
        return wish, round(load, 3), s.cost_per_hour, s.id

    def add(self, s: Staff, ward: str, day: int, shift: str) -> None:
        self.shift_on[(s.id, day)] = shift
        self.worked[s.id] += self.hours[shift]
        self.count[(ward, day, shift)] += 1
        self.assignments.append({"staff": s.id, "day": day, "shift": shift, "ward": ward})


def greedy_roster(p: StaffingProblem) -> list[dict[str, Any]] | None:
    """Three passes over the ward shifts (day by day, scarcest ward first): senior cover, then juniors
    up to demand, then spare seniors up to demand; each pick is the eligible person with the fewest
    wishes against, the lowest load, the lowest cost. None when hard senior cover is not reached."""
    demand = p.demand_table()
    roster = _Roster(p)
    order = {s.id: n for n, s in enumerate(p.shifts)}
    staff_of: dict[tuple[str, bool], list[Staff]] = defaultdict(list)
    for s in p.staff:
        for ward in p.allowed_wards(s):
            staff_of[(ward, s.senior)].append(s)
    pool_size = {w.id: len(staff_of[(w.id, True)]) + len(staff_of[(w.id, False)]) for w in p.wards}
    cells = sorted(demand, key=lambda c: (c[1], order[c[2]], pool_size[c[0]]))
    need = p.rules.seniors_per_shift
    for senior, target in ((True, lambda c: min(need, demand[c]) if p.rules.senior_cover == "soft" else need),
                           (False, lambda c: demand[c]), (True, lambda c: demand[c])):
        for cell in cells:
            ward, day, shift = cell
            while roster.count[cell] < target(cell):
                pool = [s for s in staff_of[(ward, senior)] if roster.can(s, day, shift)]
                if not pool:
                    break
                roster.add(min(pool, key=lambda s: roster.rank(s, day, shift)), ward, day, shift)
    if p.rules.senior_cover == "hard" and need:
        seniors: dict[tuple[str, int, str], int] = defaultdict(int)
        senior_ids = {s.id for s in p.staff if s.senior}
        for a in roster.assignments:
            seniors[(a["ward"], a["day"], a["shift"])] += a["staff"] in senior_ids
        if any(seniors[c] < need for c in cells):
            return None
    return roster.assignments
