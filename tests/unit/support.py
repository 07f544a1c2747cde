"""Small helpers shared by unit test modules (no fixtures here; those live in conftest.py)."""
from __future__ import annotations

import calendar

SECOND = 1_000_000


def us(year: int, month: int = 1, day: int = 1, hour: int = 0, minute: int = 0, second: int = 0,
       micro: int = 0) -> int:
    """Microseconds since the epoch of a UTC wall-clock time, computed with calendar.timegm."""
    return calendar.timegm((year, month, day, hour, minute, second, 0, 0, 0)) * SECOND + micro
