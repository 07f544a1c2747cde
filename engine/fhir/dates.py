"""FHIR date, dateTime and instant values as closed ranges of UTC microseconds since the epoch.

A partial date stands for its whole span: "2020" is [2020-01-01T00:00, 2020-12-31T23:59:59.999999].
Values without a time zone are taken as UTC.
"""
from __future__ import annotations

import calendar
import re
from datetime import datetime, timedelta, timezone
from functools import lru_cache

from engine.errors import InvalidRequest

_DATE_RE = re.compile(
    r"^(?P<y>\d{4})(?:-(?P<m>\d{2})(?:-(?P<d>\d{2})"
    r"(?:T(?P<H>\d{2})(?::(?P<M>\d{2})(?::(?P<S>\d{2})(?:\.(?P<f>\d+))?)?)?"
    r"(?P<tz>Z|[+-]\d{2}:\d{2})?)?)?)?$"
)
# FHIR's dateTime: seconds once a time is given, offsets up to 14:00 (a missing zone is taken as UTC here)
_STRICT_RE = re.compile(
    r"^\d{4}(-(0[1-9]|1[0-2])(-(0[1-9]|[12]\d|3[01])"
    r"(T([01]\d|2[0-3]):[0-5]\d:([0-5]\d|60)(\.\d{1,9})?(Z|[+-]((0\d|1[0-3]):[0-5]\d|14:00))?)?)?)?$")
EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
MIN_US = -(2**62)
MAX_US = 2**62
_US = 1_000_000


def to_us(moment: datetime) -> int:
    """Microseconds since the epoch of an aware (or UTC-naive) datetime."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    delta = moment - EPOCH
    return (delta.days * 86_400 + delta.seconds) * _US + delta.microseconds


def from_us(value: int) -> datetime:
    """The UTC datetime for microseconds since the epoch."""
    return EPOCH + timedelta(microseconds=value)


@lru_cache(maxsize=16)  # a transaction stamps all its versions with the same instant
def format_instant(value: int) -> str:
    """FHIR instant text (UTC, millisecond precision) for microseconds since the epoch."""
    return from_us(value).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "+00:00"


def parse_range(text: str) -> tuple[int, int] | None:
    """The [low, high] microsecond range a FHIR date/dateTime/instant covers, or None if malformed."""
    return _parse_range(text) if isinstance(text, str) else None


@lru_cache(maxsize=1024)  # encounter times recur in the resources that point at the encounter
def _parse_range(text: str) -> tuple[int, int] | None:
    match = _DATE_RE.match(text.strip())
    if not match:
        return None
    g = match.groupdict()
    try:
        year = int(g["y"])
        if g["m"] is None:
            low = datetime(year, 1, 1)
            high = datetime(year, 12, 31, 23, 59, 59, 999_999)
        elif g["d"] is None:
            month = int(g["m"])
            last = calendar.monthrange(year, month)[1]
            low = datetime(year, month, 1)
            high = datetime(year, month, last, 23, 59, 59, 999_999)
        elif g["H"] is None:
            low = datetime(year, int(g["m"]), int(g["d"]))
            high = low.replace(hour=23, minute=59, second=59, microsecond=999_999)
        else:
            low = datetime(year, int(g["m"]), int(g["d"]), int(g["H"]), int(g["M"] or 0), int(g["S"] or 0))
            if g["f"] is not None:
                digits = g["f"][:6]
                low = low.replace(microsecond=int(digits.ljust(6, "0")))
                high = low + timedelta(microseconds=10 ** (6 - len(digits)) - 1)
            elif g["S"] is not None:
                high = low + timedelta(microseconds=_US - 1)
            else:
                high = low + timedelta(minutes=1, microseconds=-1)
            if g["tz"] and g["tz"] != "Z":
                sign = 1 if g["tz"][0] == "+" else -1
                offset = timedelta(hours=int(g["tz"][1:3]), minutes=int(g["tz"][4:6]))
                low, high = _to_utc(low, sign * offset), _to_utc(high, sign * offset)
    except ValueError:
        return None
    return to_us(low), to_us(high)


def _to_utc(moment: datetime, offset: timedelta) -> datetime:
    """`moment` at UTC `offset` as UTC, kept within the representable years 1-9999."""
    try:
        return moment - offset
    except OverflowError:
        return datetime.min if offset > timedelta(0) else datetime.max


def parse_strict_range(text: str) -> tuple[int, int] | None:
    """Like parse_range, for what a caller types: only well-formed FHIR dates and dateTimes."""
    return parse_range(text) if isinstance(text, str) and _STRICT_RE.match(text) else None


def parse_range_or_raise(text: str, parameter: str) -> tuple[int, int]:
    """Like parse_range, for search input: raise InvalidRequest naming the parameter."""
    result = parse_range(text)
    if result is None:
        raise InvalidRequest(f"Parameter '{parameter}': '{text[:40]}' is not a valid FHIR date")
    return result
