"""Birth dates as (year, month, day) with 0 for an unknown part; impossible dates count as missing."""

from __future__ import annotations

import calendar
import re

_DATE = re.compile(r"^(\d{4})(?:-?(\d{2})(?:-?(\d{2}))?)?(?:T.*)?$")
MISSING = (0, 0, 0)


def parse_birth_date(text: str | None) -> tuple[int, int, int]:
    """(year, month, day) of 'YYYY', 'YYYY-MM', 'YYYY-MM-DD' (or YYYYMMDD); MISSING when absent or impossible.

    An impossible date such as 2019-02-30 is treated as missing, so it weighs nothing either way.
    """
    if not text:
        return MISSING
    match = _DATE.match(text.strip())
    if not match:
        return MISSING
    year = int(match.group(1))
    month = int(match.group(2)) if match.group(2) else 0
    day = int(match.group(3)) if match.group(3) else 0
    if not 1800 <= year <= 2200 or month > 12 or (match.group(2) and month == 0):
        return MISSING
    if day:
        if not month or day > calendar.monthrange(year, month)[1]:
            return MISSING
    elif match.group(3):
        return MISSING
    return (year, month, day)
