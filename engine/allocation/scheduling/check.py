"""Independent schedule checker: reads the rules from the problem, never from the solver's matrix."""
from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any

from engine.allocation.scheduling.problem import SchedulingProblem


def check(p: SchedulingProblem, plan: dict[str, Any]) -> list[str]:
    """Every hard-rule violation of a schedule (empty list = feasible)."""
    out: list[str] = []
    procs = {proc.id: proc for proc in p.procedures}
    rooms = {room.id: room for room in p.rooms}
    seen: Counter = Counter()
    per_room: dict[str, list[tuple[int, int, str]]] = defaultdict(list)
    for n, s in enumerate(plan.get("schedule", [])):
        where = f"schedule[{n}]"
        pid, rid, start, end = s.get("procedure"), s.get("room"), s.get("start"), s.get("end")
        if pid not in procs or rid not in rooms or not isinstance(start, int) or not isinstance(end, int):
            out.append(f"{where}: unknown procedure or room, or non-integer times: {s}")
            continue
        proc = procs[pid]
        seen[pid] += 1
        if proc.room_type not in rooms[rid].types:
            out.append(f"{where}: {pid} needs a {proc.room_type} room, {rid} offers {rooms[rid].types}")
        if end - start != proc.duration:
            out.append(f"{where}: {pid} lasts {end - start} min, its duration is {proc.duration}")
        if start < proc.earliest_start:
            out.append(f"{where}: {pid} starts at {start}, before its earliest start {proc.earliest_start}")
        if end > proc.latest_end:
            out.append(f"{where}: {pid} ends at {end}, after its latest end {proc.latest_end}")
        if start < p.horizon.start or end > p.horizon.end:
            out.append(f"{where}: {pid} lies outside the horizon")
        if p.starts == "fixed" and start != proc.earliest_start:
            out.append(f"{where}: {pid} must start at its earliest start {proc.earliest_start} "
                       f"(fixed starts)")
        per_room[rid].append((start, end, pid))
    out += [f"procedure {pid} scheduled {k} times" for pid, k in sorted(seen.items()) if k > 1]
    for rid, items in sorted(per_room.items()):
        items.sort()
        for (s1, e1, a), (s2, e2, b) in zip(items, items[1:]):
            if s2 < e1:
                out.append(f"room {rid}: {a} [{s1}, {e1}) overlaps {b} [{s2}, {e2})")
    unscheduled = set(plan.get("unscheduled", []))
    for proc in p.procedures:
        if (proc.id in unscheduled) == (proc.id in seen):
            state = "both scheduled and" if proc.id in seen else "neither scheduled nor"
            out.append(f"procedure {proc.id} is {state} unscheduled")
    return out
