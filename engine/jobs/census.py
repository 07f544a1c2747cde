"""Ward census from integrated data: current occupancy and a weekday x shift forecast from Encounters."""
from __future__ import annotations

import re
from collections import defaultdict
from datetime import datetime, timedelta, timezone
from typing import Any

from engine.fhir.dates import from_us, parse_range
from engine.search.parsing import parse_search
from engine.store.ports import ResourceStore

INPATIENT = ("IMP", "ACUTE", "NONAC")
_SEPARATORS = re.compile(r"\s*(?:/|\^|=|\|)\s*|\s+")


def _ward_of(encounter: dict[str, Any], locations: dict[str, dict[str, Any]], wards: list[str]) -> str | None:
    """The ward an Encounter is on: a ward id equal to its location's name, id or point-of-care component."""
    for entry in encounter.get("location") or ():
        reference = (entry or {}).get("location") or {}
        texts = [reference.get("display") or ""]
        target = locations.get(reference.get("reference", ""))
        if target:
            texts += [target.get("name") or "", *[i.get("value", "") for i in target.get("identifier") or ()],
                      (target.get("partOf") or {}).get("display") or ""]
        tokens = {token for text in texts for token in _SEPARATORS.split(text) if token}
        for ward in wards:
            if ward in tokens or ward in texts:
                return ward
    return None


def derive_census(store: ResourceStore, *, wards: list[str], shifts: list[dict[str, Any]], days: int,
                  start: datetime, history_weeks: int = 8) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Census per ward/day/shift for the horizon, and a description of the data it came from.

    Current occupancy counts in-progress inpatient Encounters by ward; the forecast for each weekday
    and shift is the average occupancy at that moment over the last `history_weeks` weeks (when
    there is history), otherwise today's occupancy is carried forward.
    """
    with store.unit_of_work(read_only=True) as uow:
        query = parse_search("Encounter", [("class", ",".join(INPATIENT)), ("_count", "10000"),
                                           ("_include", "Encounter:location")], max_count=10000)
        query.total = "none"
        page = uow.search(query)
        encounters = [s.body for s in page.items if s.body]
        locations = {s.key: s.body for s in uow.referenced(page.items, "location", "Location") if s.body}
    spans: list[tuple[str, int, int]] = []
    current: dict[str, int] = defaultdict(int)
    for encounter in encounters:
        ward = _ward_of(encounter, locations, wards)
        if ward is None:
            continue
        period = encounter.get("period") or {}
        low = parse_range(period["start"])[0] if isinstance(period.get("start"), str) and parse_range(period["start"]) else None
        high = parse_range(period["end"])[1] if isinstance(period.get("end"), str) and parse_range(period["end"]) else None
        if encounter.get("status") == "in-progress":
            current[ward] += 1
        if low is not None:
            spans.append((ward, low, high if high is not None else 2**62))
    census, forecast_used = [], 0
    history_start = start - timedelta(weeks=history_weeks)
    for day in range(days):
        date = start + timedelta(days=day)
        for shift in shifts:
            for ward in wards:
                samples = []
                for week in range(1, history_weeks + 1):
                    moment = date - timedelta(weeks=week) + timedelta(hours=float(shift.get("start_hour", 0)) + 1)
                    if moment < history_start:
                        continue
                    stamp = int(moment.timestamp() * 1_000_000)
                    samples.append(sum(1 for w, low, high in spans if w == ward and low <= stamp <= high))
                if any(samples):
                    forecast_used += 1
                    patients = round(sum(samples) / len(samples))
                else:
                    patients = current.get(ward, 0)
                census.append({"ward": ward, "day": day, "shift": shift["id"], "patients": patients})
    used = {"source": "store", "encounters_considered": len(encounters), "encounters_on_wards": len(spans),
            "current_occupancy": dict(current), "history_weeks": history_weeks,
            "forecast_slots": forecast_used, "carried_forward_slots": len(census) - forecast_used,
            "as_of": from_us(int(start.timestamp() * 1_000_000)).isoformat()}
    return census, used


def horizon_start(now_us: int) -> datetime:
    """Midnight UTC at the start of the day after `now_us` (plans start tomorrow)."""
    now = datetime.fromtimestamp(now_us / 1_000_000, tz=timezone.utc)
    return datetime(now.year, now.month, now.day, tzinfo=timezone.utc) + timedelta(days=1)
