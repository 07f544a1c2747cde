"""Key-fact extraction from FHIR Bundles (ours and FHIR-Converter's) for the agreement test.

Facts are small tuples (kind, ...values) compared as sets. Both sides go through the same extractor, so a
fact means the same thing whatever resource shape carried it (see the NORMALIZATION notes in
test_reference_agreement.py).
"""
from __future__ import annotations

import base64
import datetime as dt
from typing import Any

Fact = tuple[str, ...]
# FHIR-Converter's own code system for Observations it derives from PDA/ACC (not from OBX)
CONVERTER_SYNTHETIC_OBSERVATION = "http://example.com/v2-to-fhir-converter/CodeSystem/observation-code"
# VXU OBX that the v2-to-FHIR IG / CDC IIS guide fold into Immunization fields
VXU_FOLDED = {"64994-7": "programEligibility", "30963-3": "fundingSource", "69764-9": "documentType",
              "29768-9": "publicationDate", "29769-7": "presentationDate"}


def instant(text: str | None) -> str | None:
    """Date/times compared as instants (UTC) when they carry an offset; dates as written."""
    if not text or "T" not in text:
        return text
    try:
        moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return text
    if moment.tzinfo is None:
        return moment.strftime("%Y-%m-%dT%H:%M:%S")
    return moment.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def number(value: Any) -> str:
    """Numbers compared at 6 significant digits."""
    try:
        return "%.6g" % float(value)
    except (TypeError, ValueError):
        return str(value)


def _index(bundle: dict[str, Any]) -> dict[str, dict[str, Any]]:
    found = {}
    for entry in bundle.get("entry", []):
        resource = entry["resource"]
        if entry.get("fullUrl"):
            found[entry["fullUrl"]] = resource
        if resource.get("id"):
            found[f"{resource['resourceType']}/{resource['id']}"] = resource
    return found


def _first_code(concept: dict[str, Any] | None) -> str | None:
    if not concept:
        return None
    for coding in concept.get("coding", []):
        if coding.get("code"):
            return coding["code"]
    return concept.get("text")


def _value(holder: dict[str, Any]) -> list[Fact]:
    if "valueQuantity" in holder:
        quantity = holder["valueQuantity"]
        facts: list[Fact] = [("value", number(quantity.get("value")))]
        unit = quantity.get("code") or quantity.get("unit")
        if unit:
            facts.append(("unit", unit))
        return facts
    if "valueString" in holder:
        return [("value", holder["valueString"].strip())]
    if "valueCodeableConcept" in holder:
        code = _first_code(holder["valueCodeableConcept"])
        return [("value", code)] if code else []
    for name in ("valueDateTime", "valueTime"):
        if name in holder:
            return [("value", instant(holder[name]))]
    return []


def _patient(resource: dict[str, Any], facts: set[Fact]) -> None:
    for identifier in resource.get("identifier", []):
        if identifier.get("value"):
            facts.add(("patient.identifier", identifier["value"]))
    for name in resource.get("name", []):
        if name.get("family"):
            facts.add(("name.family", name["family"].strip()))
        for given in name.get("given", []):
            facts.add(("name.given", given.strip()))
    for key in ("birthDate", "gender"):
        if resource.get(key):
            facts.add((key, resource[key]))
    for address in resource.get("address", []):
        for line in address.get("line", []):
            facts.add(("address.line", line.strip()))
        for key in ("city", "postalCode", "state", "country"):
            if address.get(key):
                facts.add((f"address.{key}", address[key].strip()))


def _encounter(resource: dict[str, Any], index: dict[str, dict[str, Any]], facts: set[Fact]) -> None:
    if resource.get("class", {}).get("code"):
        facts.add(("encounter.class", resource["class"]["code"]))
    for key in ("start", "end"):
        if resource.get("period", {}).get(key):
            facts.add((f"encounter.period.{key}", instant(resource["period"][key])))
    for item in resource.get("location", []):
        ref, hops = item.get("location", {}).get("reference"), 0
        while ref in index and hops < 12:  # the named Location and every Location it is partOf
            place = index[ref]
            if place.get("name"):
                facts.add(("location.name", place["name"].strip()))
            ref, hops = place.get("partOf", {}).get("reference"), hops + 1


def _observation(resource: dict[str, Any], message_type: str, facts: set[Fact]) -> None:
    codings = resource.get("code", {}).get("coding", [])
    kind = ("observation.converter-synthetic"
            if any(c.get("system") == CONVERTER_SYNTHETIC_OBSERVATION for c in codings) else "observation")
    code = _first_code(resource.get("code")) or ""
    values = _value(resource) + [v for component in resource.get("component", []) for v in _value(component)]
    if message_type == "MDM" and kind == "observation":  # NORMALIZATION: MDM OBX text is document content
        for _, text in (v for v in values if v[0] == "value"):
            for line in text.splitlines():
                if line.strip():
                    facts.add(("document.line", line.strip()))
        return
    if message_type == "VXU" and code in VXU_FOLDED:  # NORMALIZATION: folded into Immunization
        for kind, value in values:
            if kind == "value":
                facts.add(("immunization.obx", code, value))
        return
    facts.add((kind, code, "code"))
    for name, value in values:
        facts.add((kind, code, name, value))
    for reference_range in resource.get("referenceRange", []):
        for side in ("low", "high"):
            if side in reference_range:
                facts.add((kind, code, side, number(reference_range[side].get("value"))))


def _immunization(resource: dict[str, Any], facts: set[Fact]) -> None:
    code = _first_code(resource.get("vaccineCode"))
    if code:
        facts.add(("immunization.vaccine", code))
    if resource.get("occurrenceDateTime"):
        facts.add(("immunization.date", instant(resource["occurrenceDateTime"])))
    for concept in resource.get("programEligibility", []):
        facts.add(("immunization.obx", "64994-7", _first_code(concept)))
    if resource.get("fundingSource"):
        facts.add(("immunization.obx", "30963-3", _first_code(resource["fundingSource"])))
    codes = {"documentType": "69764-9", "publicationDate": "29768-9", "presentationDate": "29769-7"}
    for education in resource.get("education", []):
        for name, code in codes.items():
            if education.get(name):
                facts.add(("immunization.obx", code, instant(education[name])))


def _document(resource: dict[str, Any], facts: set[Fact]) -> None:
    for content in resource.get("content", []):
        attachment = content.get("attachment", {})
        if attachment.get("contentType", "").startswith("text/plain") and attachment.get("data"):
            for line in base64.b64decode(attachment["data"]).decode("utf-8").splitlines():
                if line.strip():
                    facts.add(("document.line", line.strip()))


def extract(bundle: dict[str, Any], message_type: str) -> set[Fact]:
    """The key facts of a Bundle produced for a message of `message_type` (ADT, ORU, ...)."""
    index, facts = _index(bundle), set()
    for entry in bundle.get("entry", []):
        resource = entry["resource"]
        kind = resource["resourceType"]
        if kind == "Patient":
            _patient(resource, facts)
        elif kind == "Encounter":
            _encounter(resource, index, facts)
        elif kind == "Observation":
            _observation(resource, message_type, facts)
        elif kind == "Immunization":
            _immunization(resource, facts)
        elif kind == "DocumentReference":
            _document(resource, facts)
    return facts
