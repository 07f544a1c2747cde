"""DTM / TS / DT / TM to FHIR date, dateTime, instant and time.

HL7 v2-to-FHIR IG: datatype maps "DTM to dateTime", "DTM to date", "DTM to instant", "TS to DateTime"
(http://hl7.org/fhir/uv/v2mappings/ConceptMap-datatype-ts-to-datetime.html). The precision given is kept;
a time without a UTC offset takes the offset of MSH-7, else DEFAULT_UTC_OFFSET (FHIR requires one).
"""
from __future__ import annotations

import calendar
import re
from dataclasses import dataclass

DEFAULT_UTC_OFFSET = "+00:00"
_DTM = re.compile(r"(\d{4})(\d{2})?(\d{2})?(\d{2})?(\d{2})?(\d{2})?(?:\.(\d{1,6}))?([+-]\d{4})?")
_TM = re.compile(r"(\d{2})(\d{2})?(\d{2})?(?:\.(\d{1,6}))?([+-]\d{4})?")


@dataclass(frozen=True)
class Dtm:
    """A parsed HL7 date/time keeping the precision that was sent."""

    year: int
    month: int | None = None
    day: int | None = None
    hour: int | None = None
    minute: int | None = None
    second: int | None = None
    fraction: str | None = None
    offset: str | None = None  # "+hh:mm"

    @property
    def has_time(self) -> bool:
        """True when at least the hour was sent."""
        return self.hour is not None


def parse_dtm(text: str) -> Dtm:
    """Parse `YYYY[MM[DD[HH[MM[SS[.S+]]]]]][+/-ZZZZ]`; raise ValueError when it is not a valid date/time."""
    match = _DTM.fullmatch(text.strip())
    if not match:
        raise ValueError("not an HL7 date/time")
    year, month, day, hour, minute, second, fraction, offset = match.groups()
    y = int(year)
    m = _ranged(month, 1, 12)
    d = _ranged(day, 1, calendar.monthrange(y, m)[1] if m else 31)
    if y < 1:
        raise ValueError("year out of range")
    h = _ranged(hour, 0, 23)
    mi = _ranged(minute, 0, 59)
    s = _ranged(second, 0, 59)
    if fraction and s is None:
        raise ValueError("fraction without seconds")
    return Dtm(y, m, d, h, mi, s, fraction, _offset(offset) if offset else None)


def _ranged(text: str | None, low: int, high: int) -> int | None:
    if text is None:
        return None
    value = int(text)
    if not low <= value <= high:
        raise ValueError("component out of range")
    return value


def _offset(text: str) -> str:
    hours, minutes = int(text[1:3]), int(text[3:5])
    if hours > 14 or minutes > 59 or (hours == 14 and minutes):
        raise ValueError("UTC offset out of range")
    return f"{text[0]}{text[1:3]}:{text[3:5]}"


def offset_of(text: str | None) -> str | None:
    """The UTC offset of an HL7 date/time (e.g. MSH-7), or None."""
    if not text:
        return None
    try:
        return parse_dtm(text).offset
    except ValueError:
        return None


def fhir_date(dtm: Dtm) -> str:
    """FHIR `date` at the precision given (time dropped)."""
    out = f"{dtm.year:04d}"
    if dtm.month is not None:
        out += f"-{dtm.month:02d}"
        if dtm.day is not None:
            out += f"-{dtm.day:02d}"
    return out


def fhir_datetime(dtm: Dtm, default_offset: str | None = None) -> str:
    """FHIR `dateTime`: the date at its precision, or a full time (seconds padded) with a UTC offset."""
    if not dtm.has_time or dtm.day is None:
        return fhir_date(dtm)
    return _full(dtm, default_offset)


def fhir_instant(dtm: Dtm, default_offset: str | None = None) -> str | None:
    """FHIR `instant`, or None when the value has no time of day."""
    if not dtm.has_time or dtm.day is None:
        return None
    return _full(dtm, default_offset)


def _full(dtm: Dtm, default_offset: str | None) -> str:
    time = f"{dtm.hour:02d}:{dtm.minute or 0:02d}:{dtm.second or 0:02d}"
    if dtm.fraction:
        time += "." + dtm.fraction
    offset = dtm.offset or default_offset or DEFAULT_UTC_OFFSET
    return f"{fhir_date(dtm)}T{time}{offset}"


def fhir_time(text: str) -> str:
    """FHIR `time` (hh:mm:ss) from an HL7 TM value; raise ValueError when invalid."""
    match = _TM.fullmatch(text.strip())
    if not match:
        raise ValueError("not an HL7 time")
    hour, minute, second, fraction, _ = match.groups()
    h = _ranged(hour, 0, 23)
    mi = _ranged(minute, 0, 59) or 0
    s = _ranged(second, 0, 59) or 0
    out = f"{h:02d}:{mi:02d}:{s:02d}"
    return out + (f".{fraction}" if fraction and second else "")


def date_period(start: str, end: str) -> dict[str, str] | None:
    """A Period of FHIR dates from two HL7 dates; invalid parts are skipped, None when both are empty."""
    period = {}
    for key, text in (("start", start), ("end", end)):
        if text:
            try:
                period[key] = fhir_date(parse_dtm(text))
            except ValueError:
                continue
    return period or None
