"""What a schedule means: utilisation per room, value scheduled, what was left out and why."""
from __future__ import annotations

from collections import defaultdict
from typing import Any

from engine.allocation.metrics import gini, ratio, spread
from engine.allocation.scheduling.problem import SchedulingProblem


def explain(p: SchedulingProblem, plan: dict[str, Any]) -> dict[str, Any]:
    """Slack (idle time per room), fairness (utilisation spread, value by room type), shortfalls."""
    length = p.horizon.end - p.horizon.start
    busy: dict[str, int] = defaultdict(int)
    for s in plan["schedule"]:
        busy[s["room"]] += s["end"] - s["start"]
    rooms = [{"room": r.id, "types": r.types, "busy_minutes": busy[r.id], "idle_minutes": length - busy[r.id],
              "utilisation": round(ratio(busy[r.id], length), 4)} for r in p.rooms]
    use = [r["utilisation"] for r in rooms]
    procs = {proc.id: proc for proc in p.procedures}
    done = {s["procedure"] for s in plan["schedule"]}
    by_type: dict[str, dict[str, float]] = defaultdict(lambda: {"procedures": 0, "scheduled": 0, "value": 0.0,
                                                                "value_scheduled": 0.0})
    for proc in p.procedures:
        row = by_type[proc.room_type]
        row["procedures"] += 1
        row["value"] += proc.value
        if proc.id in done:
            row["scheduled"] += 1
            row["value_scheduled"] += proc.value
    shortfalls = []
    for pid in plan["unscheduled"]:
        proc = procs[pid]
        if not p.rooms_for(proc):
            reason = f"no room of type {proc.room_type}"
        elif not p.fits_window(proc):
            reason = "window shorter than the duration"
        else:
            reason = "rooms of this type are busy over its window" + \
                     (" (fixed start)" if p.starts == "fixed" else "")
        shortfalls.append({"procedure": pid, "room_type": proc.room_type, "value": proc.value,
                           "reason": reason})
    shortfalls.sort(key=lambda s: (-s["value"], s["procedure"]))
    total_value = sum(proc.value for proc in p.procedures)
    scheduled_value = sum(procs[pid].value for pid in done)
    return {
        "slack": {"rooms": rooms},
        "fairness": {"utilisation_by_room": {r["room"]: r["utilisation"] for r in rooms},
                     "utilisation_gini": round(gini(use), 4), "utilisation_spread": round(spread(use), 4),
                     "by_room_type": {k: {**v, "rate": round(ratio(v["scheduled"], v["procedures"]), 4)}
                                      for k, v in sorted(by_type.items())}},
        "shortfalls": shortfalls,
        "summary": {"procedures": len(p.procedures), "scheduled": len(done),
                    "unscheduled": len(plan["unscheduled"]),
                    "value_scheduled": scheduled_value, "value_total": total_value,
                    "value_share": round(ratio(scheduled_value, total_value), 4)},
    }
