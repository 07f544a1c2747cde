"""A clinician's one-page summary of a golden record across every institution that has seen the patient."""
from __future__ import annotations

from typing import Any

from engine.identity.golden import field_provenance
from engine.identity.unified import clinical_time, deduplicate
from engine.identity.views import Resolved
from engine.store.model import StoredResource

RECENT_ENCOUNTERS = 5


def _status(body: dict[str, Any], element: str) -> str | None:
    value = body.get(element)
    if isinstance(value, dict):
        codes = [c.get("code") for c in value.get("coding") or [] if isinstance(c, dict)]
        return codes[0] if codes else None
    return value if isinstance(value, str) else None


def _text(concept: Any) -> str | None:
    if isinstance(concept, list):
        concept = concept[0] if concept else None
    if not isinstance(concept, dict):
        return None
    if concept.get("text"):
        return concept["text"]
    for coding in concept.get("coding") or []:
        if isinstance(coding, dict) and (coding.get("display") or coding.get("code")):
            return coding.get("display") or coding.get("code")
    return None


def _categories(body: dict[str, Any]) -> set[str]:
    return {c.get("code") for concept in body.get("category") or [] if isinstance(concept, dict)
            for c in concept.get("coding") or [] if isinstance(c, dict)}


def _item(body: dict[str, Any], **extra: Any) -> dict[str, Any]:
    when = clinical_time(body)
    item = {"reference": f"{body.get('resourceType')}/{body.get('id')}", "source": (body.get("meta") or {}).get("source"),
            "date": _date(body), **extra}
    also = [e for e in body.get("extension") or [] if e.get("url", "").endswith("also-recorded-by")]
    if also:
        item["alsoRecordedBy"] = [p.get("valueReference", {}).get("reference") for e in also
                                  for p in e.get("extension") or [] if p.get("url") == "resource"]
    item["_sort"] = when[0] if when else 0
    return item


def _date(body: dict[str, Any]) -> str | None:
    for element in ("effectiveDateTime", "onsetDateTime", "recordedDate", "authoredOn", "occurrenceDateTime",
                    "issued", "date"):
        if isinstance(body.get(element), str):
            return body[element]
    period = body.get("period") or body.get("effectivePeriod")
    return period.get("start") if isinstance(period, dict) else None


def _value(body: dict[str, Any]) -> Any:
    quantity = body.get("valueQuantity")
    if isinstance(quantity, dict):
        return {"value": quantity.get("value"), "unit": quantity.get("unit") or quantity.get("code")}
    for key, value in body.items():
        if key.startswith("value"):
            return value
    return None


def _sorted(items: list[dict[str, Any]], *, newest_first: bool = True) -> list[dict[str, Any]]:
    items.sort(key=lambda i: i["_sort"], reverse=newest_first)
    for item in items:
        item.pop("_sort", None)
    return items


def _observations(bodies: list[dict[str, Any]], category: str) -> list[dict[str, Any]]:
    """Latest value per code with the previous one and the trend (up, down, same)."""
    series: dict[str, list[dict[str, Any]]] = {}
    for body in bodies:
        if body.get("resourceType") == "Observation" and category in _categories(body):
            series.setdefault(_text(body.get("code")) or "?", []).append(_item(body, value=_value(body)))
    out = []
    for name, items in sorted(series.items()):
        items.sort(key=lambda i: i["_sort"], reverse=True)
        latest = dict(items[0], name=name)
        if len(items) > 1:
            now, before = items[0].get("value"), items[1].get("value")
            latest["previous"] = {"value": before, "date": items[1]["date"]}
            if isinstance(now, dict) and isinstance(before, dict) and isinstance(now.get("value"), (int, float)) \
                    and isinstance(before.get("value"), (int, float)):
                latest["trend"] = ("up" if now["value"] > before["value"] else
                                   "down" if now["value"] < before["value"] else "same")
        latest.pop("_sort", None)
        out.append(latest)
    return out


def summary(resolved: Resolved, resources: list[StoredResource]) -> dict[str, Any]:
    """Golden demographics (with each field's source), identifiers per institution, active problems and
    medications, allergies, recent encounters, latest vitals and labs with trends, immunizations."""
    golden = resolved.golden()
    provenance = field_provenance(golden)
    demographics = {name: {"value": golden[name], **provenance.get(name, {"source": None})}
                    for name in ("name", "gender", "birthDate", "address", "telecom") if name in golden}
    identifiers: dict[str, list[dict[str, Any]]] = {}
    for member in resolved.members:
        link = resolved.links.get(member.resource_id)
        institution = (link.institution if link else None) or "unknown"
        identifiers.setdefault(institution, []).append(
            {"patient": member.key, "identifier": (member.body or {}).get("identifier") or []})
    bodies = deduplicate([r for r in resources if r.resource_type != "Patient"])
    problems, medications, allergies, encounters, immunizations = [], [], [], [], []
    for body in bodies:
        kind = body.get("resourceType")
        if kind == "Condition" and _status(body, "clinicalStatus") in ("active", "recurrence", "relapse", None):
            problems.append(_item(body, name=_text(body.get("code"))))
        elif kind in ("MedicationRequest", "MedicationStatement") and body.get("status") in ("active", "intended"):
            medications.append(_item(body, name=_text(body.get("medicationCodeableConcept"))))
        elif kind == "AllergyIntolerance" and _status(body, "clinicalStatus") in ("active", None):
            allergies.append(_item(body, name=_text(body.get("code")), criticality=body.get("criticality")))
        elif kind == "Encounter":
            encounters.append(_item(body, name=_text(body.get("type")), status=body.get("status")))
        elif kind == "Immunization" and body.get("status") != "entered-in-error":
            immunizations.append(_item(body, name=_text(body.get("vaccineCode"))))
    return {
        "golden": f"Patient/{resolved.golden_id}",
        "members": [m.key for m in resolved.members],
        "demographics": demographics,
        "identifiers": identifiers,
        "problems": _sorted(problems),
        "medications": _sorted(medications),
        "allergies": _sorted(allergies),
        "encounters": _sorted(encounters)[:RECENT_ENCOUNTERS],
        "vitals": _observations(bodies, "vital-signs"),
        "labs": _observations(bodies, "laboratory"),
        "immunizations": _sorted(immunizations),
    }
