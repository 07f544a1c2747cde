"""Schedule as text: a timeline per room, then what was left out."""
from __future__ import annotations

from collections import defaultdict
from typing import Any

from engine.allocation.scheduling.problem import SchedulingProblem
from engine.allocation.text import num, pct

_LIST_UP_TO = 300


def render(p: SchedulingProblem, result: Any) -> str:
    """Readable schedule: per-room timeline (start-end, procedure, value), utilisation, unscheduled lines."""
    lines = [f"Schedule - status {result.status} ({result.method}), value {num(result.objective)}, "
             f"gap {pct(result.gap)}"]
    by_room: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for s in result.plan.get("schedule", []):
        by_room[s["room"]].append(s)
    procs = {proc.id: proc for proc in p.procedures}
    use = result.explanation.get("fairness", {}).get("utilisation_by_room", {})
    for room in p.rooms:
        items = sorted(by_room[room.id], key=lambda s: s["start"])
        lines.append("")
        lines.append(f"Room {room.id} [{', '.join(room.types)}] - {len(items)} procedures, "
                     f"utilisation {pct(use.get(room.id))}")
        for s in items[:_LIST_UP_TO]:
            lines.append(f"  {_clock(s['start'])}-{_clock(s['end'])}  {s['procedure']:<10} "
                         f"value {procs[s['procedure']].value:g}")
        if len(items) > _LIST_UP_TO:
            lines.append(f"  ... and {len(items) - _LIST_UP_TO} more")
    shortfalls = result.explanation.get("shortfalls", [])
    lines.append("")
    if shortfalls:
        lines.append(f"Not scheduled ({len(shortfalls)}):")
        for s in shortfalls[:_LIST_UP_TO]:
            lines.append(f"  UNSCHEDULED {s['procedure']} ({s['room_type']}, value {s['value']:g}): "
                         f"{s['reason']}")
    else:
        lines.append("Every procedure is scheduled.")
    return "\n".join(lines) + "\n"


def _clock(minute: int) -> str:
    day, rest = divmod(minute, 24 * 60)
    text = f"{rest // 60:02d}:{rest % 60:02d}"
    return f"d{day} {text}" if day else text
