"""Random but plausible scheduling instances: theatre lists over working days with time windows."""
from __future__ import annotations

import random
from typing import Any

DAY = 24 * 60
OPEN, CLOSE = 8 * 60, 18 * 60
TYPES = ["general", "ortho", "cardiac", "endoscopy"]


def generate(size: int, seed: int, *, rooms: int | None = None, room_types: int | None = None,
             days: int | None = None, starts: str = "fixed", load: float = 1.3) -> dict[str, Any]:
    """`size` procedures over working days (08:00-18:00) in `rooms` rooms, about `load` x room time."""
    rng = random.Random(seed)
    n_rooms = rooms if rooms is not None else max(1, size // 40)
    n_types = min(len(TYPES), room_types if room_types is not None else min(3, n_rooms))
    types = TYPES[:max(1, n_types)]
    room_list = [{"id": f"OR{k + 1}", "types": [types[k % len(types)]]} for k in range(n_rooms)]
    mean_duration = 75
    room_day = load * n_rooms * (CLOSE - OPEN)
    n_days = days if days is not None else max(1, round(size * mean_duration / room_day))
    procs = []
    for n in range(size):
        base = rng.choice([15, 30, 45, 60, 90, 120, 180, 240]) * rng.choice([1, 1, 1, 0.5, 1.5])
        duration = int(base // 15 * 15) or 15
        day = rng.randrange(n_days)
        latest_start = max(OPEN, CLOSE - duration)
        earliest = DAY * day + OPEN + rng.randrange(0, latest_start - OPEN + 1, 15)
        window = duration + rng.choice([0, 30, 60, 120, 240])
        latest_end = min(DAY * day + CLOSE, earliest + window)
        if latest_end < earliest + duration:
            latest_end = earliest + duration
        procs.append({"id": f"P{n:05d}", "duration": duration, "value": float(rng.choice([1, 2, 3, 5, 8])),
                      "earliest_start": earliest, "latest_end": latest_end, "room_type": rng.choice(types)})
    return {"horizon": {"start": 0, "end": DAY * n_days}, "rooms": room_list, "procedures": procs,
            "starts": starts, "slot_minutes": 15}
