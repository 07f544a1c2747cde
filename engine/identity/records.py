"""The person record the matcher works on, and its extraction from a FHIR R4 Patient."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

_NAME_PREFERENCE = {
    "official": 0,
    "usual": 1,
    None: 2,
    "temp": 3,
    "nickname": 4,
    "anonymous": 5,
    "old": 6,
    "maiden": 7,
}
_ADDRESS_PREFERENCE = {"home": 0, None: 1, "temp": 2, "work": 3, "billing": 4, "old": 9}


@dataclass(frozen=True)
class PersonRecord:
    """What matching looks at for one patient record from one source (institution)."""

    record_id: str
    source: str
    given: tuple[str, ...] = ()
    family: str | None = None
    birth_date: str | None = None  # YYYY-MM-DD, YYYY-MM or YYYY
    sex: str | None = None
    postcode: str | None = None
    address: str | None = None  # the full street line(s)
    city: str | None = None
    phone: str | None = None
    email: str | None = None
    identifiers: tuple[tuple[str, str], ...] = ()  # (system, value)
    suffix: str | None = None  # generational suffix: Jr, Sr, II, III ...


def person_from_patient(resource: dict[str, Any], *, source: str) -> PersonRecord:
    """The PersonRecord of a FHIR R4 Patient (official/usual name first, home address, first phone/e-mail)."""
    name = _preferred(_list(resource.get("name")), _NAME_PREFERENCE)
    given: tuple[str, ...] = ()
    family = suffix = None
    if name:
        names = name.get("given") or []
        names = [names] if isinstance(names, str) else names
        given = tuple(g.strip() for g in names if isinstance(g, str) and g.strip())
        family = _text(name.get("family"))
        suffix = next((s.strip() for s in name.get("suffix") or [] if isinstance(s, str) and s.strip()), None)
        if not given and not family and isinstance(name.get("text"), str):
            words = name["text"].split()
            given, family = tuple(words[:-1]), (words[-1] if words else None)
    address = _preferred(_list(resource.get("address")), _ADDRESS_PREFERENCE)
    line = postcode = city = None
    if address:
        raw = address.get("line")
        raw = [raw] if isinstance(raw, str) else _list(raw)
        lines = [part.strip() for part in raw if isinstance(part, str) and part.strip()]
        line = " ".join(lines) or _text(address.get("text"))
        postcode = _text(address.get("postalCode"))
        city = _text(address.get("city"))
    return PersonRecord(
        record_id=str(resource.get("id") or ""),
        source=source,
        given=given,
        family=family,
        birth_date=_text(resource.get("birthDate")),
        sex=_text(resource.get("gender")),
        postcode=postcode,
        address=line,
        city=city,
        phone=_telecom(resource, "phone"),
        email=_telecom(resource, "email"),
        identifiers=tuple(
            (str(i.get("system") or ""), str(i["value"]).strip())
            for i in resource.get("identifier") or []
            if isinstance(i, dict) and isinstance(i.get("value"), str) and i["value"].strip()
        ),
        suffix=suffix,
    )


def _preferred(items: list[Any], preference: dict[str | None, int]) -> dict[str, Any] | None:
    usable = [item for item in items if isinstance(item, dict)]
    if not usable:
        return None
    return min(usable, key=lambda item: preference.get(item.get("use"), 5))


def _telecom(resource: dict[str, Any], system: str) -> str | None:
    points = [
        t
        for t in resource.get("telecom") or []
        if isinstance(t, dict)
        and t.get("system") == system
        and isinstance(t.get("value"), str)
        and t["value"].strip()
        and t.get("use") != "old"
    ]
    if system == "phone":
        points.sort(key=lambda t: {"mobile": 0, "home": 1}.get(t.get("use"), 2))
    return points[0]["value"].strip() if points else None


def _text(value: Any) -> str | None:
    return value.strip() or None if isinstance(value, str) else None


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []
