"""Turn a FHIR R4 resource (a plain dict) into the search document the relevance index holds.

Each resource type has a rendering spec: the concepts that name it, the sections of its text, the elements
holding its clinically relevant date and its patient. Types without a spec are rendered by a generic walk.
Every part is rendered on its own, so a malformed element costs only that part of the document.
"""
from __future__ import annotations

import base64
import binascii
import html
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from engine.fhir.dates import parse_range
from engine.indexing.model import SearchDocument

TEXT_LIMIT = 8_000
EMBED_LIMIT = 200
TITLE_LIMIT = 200
GENERATED_NARRATIVE_LIMIT = 2_000  # a generated narrative longer than this only repeats the data
_LINE_LIMIT = 1_000
_ITEMS_PER_LINE = 40
_EMBED_LABELS = 3

ElementPath = tuple[str, ...]


# ----------------------------------------------------------------------------------------------- specs

@dataclass(frozen=True)
class _Section:
    """One part of a resource's rendering: where it lives, how it is rendered, under which heading."""

    kind: str  # "concept" | "status" | "strings" | "attachment" | "narrative" | a key of _SPECIAL_KINDS
    path: ElementPath
    heading: str
    embed: bool = False  # part of the semantic core (embed_text)
    text: bool = True  # writes into the word-search text


@dataclass(frozen=True)
class _Spec:
    """How one resource type is rendered."""

    primary: tuple[ElementPath, ...]  # concepts naming the resource, best first
    names: tuple[ElementPath, ...]  # names or strings naming it when no concept does
    names_first: bool  # names beat concepts in the title (directory resources)
    sections: tuple[_Section, ...]
    dates: tuple[ElementPath, ...]
    patient: tuple[ElementPath, ...]


_DATE_CHOICES = ("DateTime", "Instant", "Period.start", "Date", "Timing.event", "Period.end")
_PATIENT_ELEMENTS = ("patient", "subject", "beneficiary", "for", "individual")


def _path(dotted: str) -> ElementPath:
    return tuple(dotted.split(".")) if dotted else ()


def _date_paths(dotted: Iterable[str]) -> tuple[ElementPath, ...]:
    """Dotted date paths with `name[x]` expanded to the date-bearing choice types."""
    paths: list[ElementPath] = []
    for item in dotted:
        if item.endswith("[x]"):
            paths.extend(_path(item[:-3] + choice) for choice in _DATE_CHOICES)
        else:
            paths.append(_path(item))
    return tuple(paths)


def _concept(path: str, heading: str = "", *, embed: bool = False, text: bool = True) -> _Section:
    """A section of CodeableConcepts (or Codings): they give codes, displays and labels."""
    return _Section("concept", _path(path), heading, embed, text)


def _status(path: str, heading: str) -> _Section:
    """A section of status-like concepts: shown in the text, not counted as clinical codes."""
    return _Section("status", _path(path), heading)


def _strings(path: str, heading: str = "", *, embed: bool = False) -> _Section:
    """A section of plain strings (also reference displays, notes, descriptions)."""
    return _Section("strings", _path(path), heading, embed)


def _special(kind: str, path: str = "", heading: str = "") -> _Section:
    """A section with its own renderer (values, components, dosages, attachments, names, ...)."""
    return _Section(kind, _path(path), heading)


def _spec(primary: Iterable[str] = ("code",), *, names: Iterable[str] = (), names_first: bool = False,
          sections: Iterable[_Section] = (), dates: Iterable[str] = (), patient: Iterable[str] = ()) -> _Spec:
    common = (_strings("note.text", "Note"),)
    return _Spec(tuple(_path(p) for p in primary), tuple(_path(p) for p in names), names_first,
                 tuple(sections) + common, _date_paths(dates),
                 tuple(_path(p) for p in (*_PATIENT_ELEMENTS, *patient)))


_REASONS = (_concept("reasonCode", "Reason", embed=True),
            _strings("reasonReference.display", "Reason", embed=True))
_MEDICATION = ("medicationCodeableConcept", "medicationReference.#.code")
_MEDICATION_NAME = ("medicationReference.display",)

_SPECS: dict[str, _Spec] = {
    "Observation": _spec(sections=(
        _concept("category", "Category", embed=True),
        _special("value", "", "Value"),
        _concept("valueCodeableConcept", "Value", embed=True),
        _concept("component.code", "Components", embed=True, text=False),
        _concept("component.valueCodeableConcept", "Components", text=False),
        _special("components", "component", "Components"),
        _concept("interpretation", "Interpretation"),
        _concept("component.interpretation", "Interpretation"),
        _special("ranges", "referenceRange", "Reference range"),
        _status("dataAbsentReason", "Data absent"),
        _concept("bodySite", "Body site"),
        _concept("method", "Method"),
        _strings("specimen.display", "Specimen"),
        _strings("performer.display", "Performer"),
    ), dates=("effective[x]", "issued")),
    "Condition": _spec(sections=(
        _concept("category", "Category", embed=True),
        _status("clinicalStatus", "Clinical status"),
        _status("verificationStatus", "Verification"),
        _concept("severity", "Severity"),
        _concept("bodySite", "Body site"),
        _concept("stage.summary", "Stage"),
        _concept("evidence.code", "Evidence"),
        _strings("onsetString", "Onset"),
        _strings("abatementString", "Abatement"),
        _strings("asserter.display", "Asserter"),
    ), dates=("onset[x]", "recordedDate")),
    "Encounter": _spec(primary=("type", "serviceType", "class"), sections=(
        _concept("class", "Class", embed=True),
        _concept("serviceType", "Service"),
        _concept("priority", "Priority"),
        *_REASONS,
        _strings("diagnosis.condition.display", "Diagnosis"),
        _concept("hospitalization.admitSource", "Admitted from"),
        _concept("hospitalization.dischargeDisposition", "Discharge"),
        _strings("location.location.display", "Location"),
        _strings("serviceProvider.display", "Provider"),
        _strings("participant.individual.display", "Participant"),
    ), dates=("period.start",)),
    "Procedure": _spec(sections=(
        _concept("category", "Category", embed=True),
        *_REASONS,
        _concept("bodySite", "Body site"),
        _concept("outcome", "Outcome"),
        _concept("complication", "Complication"),
        _concept("followUp", "Follow-up"),
        _concept("usedCode", "Used"),
        _strings("performer.actor.display", "Performer"),
        _strings("location.display", "Location"),
    ), dates=("performed[x]",)),
    "MedicationRequest": _spec(primary=_MEDICATION, names=_MEDICATION_NAME, sections=(
        _concept("category", "Category", embed=True),
        *_REASONS,
        _special("dosage", "dosageInstruction", "Dosage"),
        _concept("courseOfTherapyType", "Course"),
        _strings("requester.display", "Prescriber"),
    ), dates=("authoredOn",)),
    "MedicationStatement": _spec(primary=_MEDICATION, names=_MEDICATION_NAME, sections=(
        _concept("category", "Category", embed=True),
        *_REASONS,
        _special("dosage", "dosage", "Dosage"),
        _concept("statusReason", "Status reason"),
    ), dates=("effective[x]", "dateAsserted")),
    "MedicationAdministration": _spec(primary=_MEDICATION, names=_MEDICATION_NAME, sections=(
        _concept("category", "Category", embed=True),
        *_REASONS,
        _special("dosage", "dosage", "Dosage"),
        _strings("performer.actor.display", "Performer"),
    ), dates=("effective[x]",)),
    "MedicationDispense": _spec(primary=_MEDICATION, names=_MEDICATION_NAME, sections=(
        _concept("category", "Category", embed=True),
        _special("dosage", "dosageInstruction", "Dosage"),
        _special("quantity", "quantity", "Quantity"),
    ), dates=("whenHandedOver", "whenPrepared")),
    "Medication": _spec(sections=(
        _concept("form", "Form", embed=True),
        _concept("ingredient.itemCodeableConcept", "Ingredient"),
        _strings("manufacturer.display", "Manufacturer"),
    )),
    "Immunization": _spec(primary=("vaccineCode",), sections=(
        _concept("reasonCode", "Reason", embed=True),
        _concept("protocolApplied.targetDisease", "Target disease"),
        _concept("site", "Site"),
        _concept("route", "Route"),
        _special("quantity", "doseQuantity", "Dose"),
        _concept("statusReason", "Status reason"),
        _strings("performer.actor.display", "Performer"),
        _strings("location.display", "Location"),
    ), dates=("occurrence[x]", "recorded")),
    "DiagnosticReport": _spec(sections=(
        _concept("category", "Category", embed=True),
        _concept("conclusionCode", "Conclusion", embed=True),
        _strings("conclusion", "Conclusion"),
        _strings("result.display", "Results"),
        _strings("specimen.display", "Specimen"),
        _strings("performer.display", "Performer"),
        _special("attachment", "presentedForm"),
    ), dates=("effective[x]", "issued")),
    "DocumentReference": _spec(primary=("type",), names=("description",), sections=(
        _concept("category", "Category", embed=True),
        _strings("description", "Description"),
        _concept("context.event", "Event"),
        _concept("context.facilityType", "Facility"),
        _concept("context.practiceSetting", "Setting"),
        _strings("author.display", "Author"),
        _strings("custodian.display", "Custodian"),
        _special("attachment", "content.attachment"),
    ), dates=("date", "context.period.start", "content.attachment.creation")),
    "AllergyIntolerance": _spec(sections=(
        _strings("category", "Category", embed=True),
        _strings("type", "Type"),
        _strings("criticality", "Criticality"),
        _status("clinicalStatus", "Clinical status"),
        _status("verificationStatus", "Verification"),
        _concept("reaction.substance", "Substance"),
        _concept("reaction.manifestation", "Reaction"),
        _strings("reaction.severity", "Severity"),
        _strings("reaction.description", "Reaction"),
    ), dates=("onset[x]", "recordedDate", "lastOccurrence")),
    "CarePlan": _spec(primary=("category", "activity.detail.code"), names=("title",), sections=(
        _strings("title", "Title"),
        _strings("description", "Description"),
        _concept("activity.detail.code", "Activities", embed=True),
        _concept("activity.detail.reasonCode", "Reason"),
        _strings("activity.detail.description", "Activities"),
        _strings("addresses.display", "Addresses", embed=True),
        _strings("goal.display", "Goals"),
    ), dates=("period.start", "created")),
    "CareTeam": _spec(primary=("category",), names=("name",), sections=(
        _strings("name", "Name"),
        *_REASONS,
        _concept("participant.role", "Roles"),
        _strings("participant.member.display", "Members"),
        _strings("managingOrganization.display", "Organization"),
    ), dates=("period.start",), patient=("participant.member",)),
    "Claim": _spec(primary=("item.productOrService", "type"), sections=(
        _concept("type", "Type", embed=True),
        _concept("diagnosis.diagnosisCodeableConcept", "Diagnosis"),
        _strings("diagnosis.diagnosisReference.display", "Diagnosis"),
        _concept("procedure.procedureCodeableConcept", "Procedure"),
        _strings("insurance.coverage.display", "Insurance"),
        _strings("provider.display", "Provider"),
        _strings("facility.display", "Facility"),
        _special("money", "total", "Total"),
    ), dates=("billablePeriod.start", "created")),
    "ExplanationOfBenefit": _spec(primary=("item.productOrService", "type"), sections=(
        _concept("type", "Type", embed=True),
        _concept("diagnosis.diagnosisCodeableConcept", "Diagnosis"),
        _strings("diagnosis.diagnosisReference.display", "Diagnosis"),
        _concept("procedure.procedureCodeableConcept", "Procedure"),
        _strings("insurer.display", "Insurer"),
        _strings("insurance.coverage.display", "Insurance"),
        _strings("provider.display", "Provider"),
        _strings("facility.display", "Facility"),
        _strings("outcome", "Outcome"),
        _special("money", "payment.amount", "Payment"),
    ), dates=("billablePeriod.start", "created")),
    "ImagingStudy": _spec(primary=("procedureCode", "modality", "series.modality"), sections=(
        _concept("modality", "Modality", embed=True),
        _concept("series.modality", "Modality", embed=True),
        _concept("series.bodySite", "Body site", embed=True),
        *_REASONS,
        _strings("description", "Description"),
        _strings("series.description", "Series"),
        _strings("series.instance.title", "Images"),
    ), dates=("started", "series.started")),
    "Device": _spec(primary=("type",), names=("deviceName.name",), sections=(
        _strings("deviceName.name", "Name"),
        _strings("manufacturer", "Manufacturer"),
        _strings("modelNumber", "Model"),
    )),
    "Goal": _spec(primary=("description",), sections=(
        _concept("category", "Category", embed=True),
        _concept("priority", "Priority"),
        _status("achievementStatus", "Achievement"),
        _concept("target.measure", "Target"),
        _special("target", "target", "Target"),
        _strings("addresses.display", "Addresses", embed=True),
        _concept("outcomeCode", "Outcome"),
    ), dates=("start[x]", "statusDate", "target.due[x]")),
    "ServiceRequest": _spec(sections=(
        _concept("category", "Category", embed=True),
        *_REASONS,
        _concept("bodySite", "Body site"),
        _concept("orderDetail", "Details"),
        _strings("patientInstruction", "Instructions"),
        _strings("priority", "Priority"),
        _strings("requester.display", "Requester"),
        _strings("performer.display", "Performer"),
    ), dates=("occurrence[x]", "authoredOn")),
    "Appointment": _spec(primary=("serviceType", "appointmentType", "specialty", "reasonCode"),
                         names=("description",), sections=(
        _concept("serviceCategory", "Category", embed=True),
        _concept("serviceType", "Service"),
        _concept("specialty", "Specialty"),
        _concept("appointmentType", "Appointment type"),
        *_REASONS,
        _strings("description", "Description"),
        _strings("comment", "Comment"),
        _strings("patientInstruction", "Instructions"),
        _strings("participant.actor.display", "Participants"),
    ), dates=("start", "created"), patient=("participant.actor",)),
    "Specimen": _spec(primary=("type",), sections=(
        _concept("collection.bodySite", "Body site", embed=True),
        _concept("collection.method", "Method"),
        _concept("container.type", "Container"),
        _concept("condition", "Condition"),
        _strings("processing.description", "Processing"),
    ), dates=("collection.collected[x]", "receivedTime")),
    "Coverage": _spec(primary=("type",), names=("payor.display",), sections=(
        _strings("payor.display", "Payor"),
        _concept("relationship", "Relationship"),
        _strings("class.name", "Plan"),
    ), dates=("period.start",), patient=("subscriber", "policyHolder", "payor")),
    "Location": _spec(primary=("type", "physicalType"), names=("name",), names_first=True, sections=(
        _concept("type", "Type", embed=True),
        _concept("physicalType", "Physical type", embed=True),
        _strings("alias", "Also known as"),
        _strings("description", "Description"),
        _special("address", "address", "Address"),
        _strings("managingOrganization.display", "Organization"),
    )),
    "Organization": _spec(primary=("type",), names=("name",), names_first=True, sections=(
        _concept("type", "Type", embed=True),
        _strings("alias", "Also known as"),
        _special("address", "address", "Address"),
        _strings("partOf.display", "Part of"),
    )),
    "Practitioner": _spec(primary=("qualification.code",), names=("name",), names_first=True, sections=(
        _concept("qualification.code", "Qualification", embed=True),
        _special("names", "name", "Name"),
        _strings("gender", "Gender"),
        _concept("communication", "Language"),
        _special("address", "address", "Address"),
    )),
    "PractitionerRole": _spec(primary=("code", "specialty"), names=("practitioner.display",), sections=(
        _concept("specialty", "Specialty", embed=True),
        _strings("practitioner.display", "Practitioner"),
        _strings("organization.display", "Organization"),
        _strings("location.display", "Location"),
        _strings("healthcareService.display", "Service"),
    )),
    "Patient": _spec(primary=(), names=("name",), names_first=True, sections=(
        _special("names", "name", "Name"),
        _strings("gender", "Gender", embed=True),
        _strings("birthDate", "Born"),
        _strings("deceasedDateTime", "Deceased"),
        _special("deceased", "deceasedBoolean", "Deceased"),
        _special("address", "address", "Address"),
        _concept("maritalStatus", "Marital status"),
        _concept("communication.language", "Language"),
        _strings("generalPractitioner.display", "General practitioner"),
        _strings("managingOrganization.display", "Organization"),
    ), dates=("birthDate",)),
    "RelatedPerson": _spec(primary=("relationship",), names=("name",), names_first=True, sections=(
        _concept("relationship", "Relationship", embed=True),
        _special("names", "name", "Name"),
        _strings("gender", "Gender"),
        _special("address", "address", "Address"),
    ), dates=("period.start",)),
    "Person": _spec(primary=(), names=("name",), names_first=True, sections=(
        _special("names", "name", "Name"),
        _strings("gender", "Gender"),
        _strings("birthDate", "Born"),
        _special("address", "address", "Address"),
    ), patient=("link.target",)),
    "Provenance": _spec(primary=("activity",), sections=(
        _concept("reason", "Reason", embed=True),
        _concept("agent.type", "Agents", embed=True),
        _concept("agent.role", "Roles"),
        _strings("agent.who.display", "Who"),
    ), dates=("occurred[x]", "recorded"), patient=("target",)),
    "FamilyMemberHistory": _spec(primary=("relationship",), sections=(
        _concept("condition.code", "Conditions", embed=True),
        _concept("condition.outcome", "Outcome"),
        _concept("sex", "Sex"),
        _concept("reasonCode", "Reason"),
        _strings("name", "Name"),
    ), dates=("date",)),
    "Composition": _spec(primary=("type",), names=("title",), sections=(
        _concept("category", "Category", embed=True),
        _strings("title", "Title"),
        _strings("section.title", "Sections"),
        _concept("section.code", "Sections", text=False),
        _special("narrative", "section.text"),
    ), dates=("date",)),
    "Media": _spec(primary=("modality", "type", "view"), sections=(
        _concept("type", "Type", embed=True),
        _concept("bodySite", "Body site", embed=True),
        _concept("view", "View"),
        _concept("reasonCode", "Reason"),
        _special("attachment", "content"),
    ), dates=("created[x]", "issued")),
    "Binary": _spec(primary=(), sections=(_special("attachment", ""),)),
    "Communication": _spec(primary=("category", "topic"), sections=(
        _concept("topic", "Topic"),
        _concept("reasonCode", "Reason", embed=True),
        _strings("payload.contentString", "Message"),
        _special("attachment", "payload.contentAttachment"),
    ), dates=("sent", "received"), patient=("recipient", "sender")),
    "Schedule": _spec(primary=("serviceType", "specialty", "serviceCategory"), names=("comment",),
                      patient=("actor",)),
    "AppointmentResponse": _spec(primary=("participantType",), names=("comment",), dates=("start",),
                                 patient=("actor",)),
    "Bundle": _spec(primary=(), sections=(_strings("type", "Type"),), dates=("timestamp",)),
    "Group": _spec(primary=("code",), names=("name",), names_first=True, patient=("member.entity",)),
}

_GENERIC_PRIMARY = ("code", "type", "vaccineCode", "medicationCodeableConcept", "serviceType", "category",
                    "kind", "class", "relationship", "activity", "topic")
_GENERIC_NAMES = (_path("name"), _path("title"), _path("description"))
_GENERIC_STRINGS = tuple((_path(dotted), heading) for dotted, heading in (
    ("name", "Name"), ("title", "Title"), ("description", "Description"), ("comment", "Comment"),
    ("conclusion", "Conclusion"), ("summary", "Summary"), ("patientInstruction", "Instructions"),
    ("note.text", "Note")))
_GENERIC_DATES = _date_paths((
    "effective[x]", "occurrence[x]", "performed[x]", "onset[x]", "period.start", "authoredOn", "authored",
    "date", "dateTime", "recordedDate", "issued", "created", "started", "start", "sent", "recorded", "timestamp",
    "collection.collected[x]", "identified[x]", "executionPeriod.start", "servicePeriod.start",
    "billablePeriod.start", "whenHandedOver", "occurred[x]"))
_GENERIC_PATIENT = tuple(_path(p) for p in _PATIENT_ELEMENTS)
_GENERIC_SKIP = frozenset({"meta", "identifier", "extension", "modifierExtension", "text", "contained", "id",
                           "implicitRules", "language", "status", "subject", "patient", "encounter"})
_GENERIC_DEPTH = 6

_INTERPRETATION_LABELS = {
    "N": "Normal", "A": "Abnormal", "AA": "Critical abnormal", "H": "High", "HH": "Critical high",
    "HU": "Significantly high", "L": "Low", "LL": "Critical low", "LU": "Significantly low",
    "<": "Off scale low", ">": "Off scale high", "POS": "Positive", "NEG": "Negative", "DET": "Detected",
    "ND": "Not detected",
    "IND": "Indeterminate", "E": "Equivocal", "R": "Resistant", "S": "Susceptible", "I": "Intermediate",
    "RR": "Reactive", "NR": "Non-reactive", "W": "Worse", "B": "Better", "U": "Significant change up",
    "D": "Significant change down",
}
# Labels for codes that usually arrive without a display (Synthea and HL7 v2 feeds), by code system.
_CODE_LABELS: dict[str, dict[str, str]] = {
    "http://terminology.hl7.org/CodeSystem/v3-ActCode": {
        "AMB": "ambulatory", "EMER": "emergency", "FLD": "field", "HH": "home health", "IMP": "inpatient",
        "ACUTE": "inpatient acute", "NONAC": "inpatient non-acute", "OBSENC": "observation encounter",
        "PRENC": "pre-admission", "SS": "short stay", "VR": "virtual",
    },
    "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation": _INTERPRETATION_LABELS,
    "http://terminology.hl7.org/CodeSystem/v2-0078": _INTERPRETATION_LABELS,
}


# --------------------------------------------------------------------------------------------- helpers

def _resolve(node: Any, path: ElementPath) -> list[Any]:
    """The values at a path, lists flattened at every step; missing or ill-typed steps yield nothing.

    The step "#" follows local references ("#id") into the root's contained resources.
    """
    if not path:
        return [node]
    first = node.get(path[0]) if type(node) is dict else None
    if first is None:
        return []
    items = first if type(first) is list else [first]
    for key in path[1:]:
        found: list[Any] = []
        if key == "#":
            found = _contained(node, items)
        else:
            for item in items:
                if type(item) is dict:
                    value = item.get(key)
                    if value is None:
                        continue
                    if type(value) is list:
                        found.extend(value)
                    else:
                        found.append(value)
        if not found:
            return found
        items = found
    return items


def _contained(root: Any, references: list[Any]) -> list[Any]:
    """The contained resources that local references ("#id") point to."""
    contained = root.get("contained") if type(root) is dict else None
    if type(contained) is not list:
        return []
    wanted = {item["reference"][1:] for item in references if type(item) is dict
              and type(item.get("reference")) is str and item["reference"].startswith("#")}
    return [resource for resource in contained if type(resource) is dict and resource.get("id") in wanted]


_CAMEL = re.compile(r"(?<=[a-z])(?=[A-Z])")
_TYPE_LABELS: dict[str, str] = {}


def type_label(resource_type: str) -> str:
    """A readable label for a resource type: "MedicationRequest" -> "Medication request"."""
    label = _TYPE_LABELS.get(resource_type)
    if label is None:
        words = _CAMEL.split(resource_type)
        label = " ".join([words[0], *(word.lower() for word in words[1:])])
        if len(_TYPE_LABELS) < 1_000:
            _TYPE_LABELS[resource_type] = label
    return label


def _code_label(system: Any, code: Any) -> str | None:
    """A readable stand-in for a coding without display: a known label, or a code made of words."""
    if type(code) is not str or not code:
        return None
    known = _CODE_LABELS.get(system) if type(system) is str else None
    if known and code in known:
        return known[code]
    if len(code) < 3 or len(code) > 40 or ":" in code or "/" in code or any(ch.isdigit() for ch in code):
        return None
    return code if any(ch.isalpha() for ch in code) else None


def _number(value: Any) -> str | None:
    """A quantity's value as short text: 7.2, 120, 142.13, 0.0035."""
    if type(value) is int:
        return str(value)
    if type(value) is float:
        if value.is_integer() and abs(value) < 1e15:
            return str(int(value))
        text = f"{value:.2f}" if abs(value) >= 1 else f"{value:.3g}"
        return text.rstrip("0").rstrip(".") if "." in text and "e" not in text else text
    if type(value) is str and value:
        return value
    return None


def _quantity(quantity: Any) -> str | None:
    """"7.2 %", "< 5 mg/dL", "140.52 USD" for a Quantity or Money."""
    if type(quantity) is not dict:
        return None
    number = _number(quantity.get("value"))
    if number is None:
        return None
    unit = quantity.get("unit") or quantity.get("code") or quantity.get("currency")
    comparator = quantity.get("comparator")
    text = f"{comparator} {number}" if type(comparator) is str else number
    return f"{text} {unit}" if type(unit) is str and unit else text


def _human_name(name: Any) -> str | None:
    """A HumanName (or a plain string name) as one line."""
    if type(name) is str:
        return name
    if type(name) is not dict:
        return None
    if type(name.get("text")) is str and name["text"]:
        return name["text"]
    words: list[str] = []
    for key in ("prefix", "given"):
        words.extend(part for part in name.get(key) or () if type(part) is str)
    if type(name.get("family")) is str:
        words.append(name["family"])
    words.extend(part for part in name.get("suffix") or () if type(part) is str)
    return " ".join(words) or None


def _address(address: Any) -> str | None:
    """An Address as one line."""
    if type(address) is not dict:
        return None
    if type(address.get("text")) is str and address["text"]:
        return address["text"]
    words = [line for line in address.get("line") or () if type(line) is str]
    words.extend(address[key] for key in ("city", "district", "state", "postalCode", "country")
                 if type(address.get(key)) is str)
    return ", ".join(words) or None


_BLOCK_TAG = re.compile(
    r"<\s*/?\s*(?:br|p|div|li|tr|td|th|h[1-6]|table|ul|ol|dl|dt|dd|pre|blockquote)\b[^>]*>", re.IGNORECASE)
_HIDDEN = re.compile(r"<(script|style)\b.*?</\1\s*>", re.IGNORECASE | re.DOTALL)
_TAG = re.compile(r"<[^>]*>")
_BLANKS = re.compile(r"\s+")


def strip_html(markup: str) -> str:
    """The words of an XHTML fragment: tags removed, entities decoded, white space collapsed."""
    text = _HIDDEN.sub(" ", markup)
    text = _TAG.sub("", _BLOCK_TAG.sub(" ", text))
    return _BLANKS.sub(" ", html.unescape(text)).strip()


def _squeeze(text: str) -> str:
    """Blank runs collapsed; line breaks kept once."""
    lines = (" ".join(line.split()) for line in text.splitlines())
    return "\n".join(line for line in lines if line)


class _Labels:
    """Codes, displays and readable labels gathered from the concepts of one resource."""

    __slots__ = ("codes", "displays")

    def __init__(self) -> None:
        self.codes: dict[str, None] = {}
        self.displays: dict[str, str] = {}  # casefolded -> as written

    def take(self, node: Any, *, record: bool = True) -> tuple[list[str], bool]:
        """The labels of a CodeableConcept or Coding (text, displays, else a readable code).

        Records its codes and displays when `record`; the flag says whether the labels are real displays.
        """
        if type(node) is str:
            return ([node] if node else []), True
        if type(node) is not dict:
            return [], False
        codings = node.get("coding")
        if codings is None:
            codings = (node,) if ("code" in node or "display" in node) else ()
        elif type(codings) is not list:
            codings = ()
        labels: list[str] = []
        text = node.get("text")
        if type(text) is str and text:
            labels.append(text)
        fallback = None
        for coding in codings:
            if type(coding) is not dict:
                continue
            code = coding.get("code")
            display = coding.get("display")
            system = coding.get("system")
            if record and type(code) is str and code:
                self.codes[f"{system if type(system) is str else ''}|{code}"] = None
            if type(display) is str and display:
                if display not in labels:
                    labels.append(display)
            elif fallback is None:
                fallback = _code_label(system, code)
        if record:
            for label in labels:
                self.displays.setdefault(label.casefold(), label)
        if labels:
            return labels, True
        return ([fallback] if fallback else []), False


def _dedupe(items: Iterable[str]) -> list[str]:
    seen: set[str] = set()
    out = []
    for item in items:
        key = item.casefold()
        if key not in seen:
            seen.add(key)
            out.append(item)
    return out


# ------------------------------------------------------------------------------------ special sections

def _typed_value(kind: str, value: Any, labels: _Labels) -> str | None:
    """A value[x] element as text, by its type suffix."""
    if kind in ("Quantity", "Age", "Duration", "Distance", "Count", "Money", "SimpleQuantity"):
        return _quantity(value)
    if kind in ("CodeableConcept", "Coding"):
        return ", ".join(labels.take(value, record=False)[0]) or None
    if kind in ("String", "Markdown", "Code", "Id", "Uri", "Url", "Canonical", "Oid", "Uuid",
                "DateTime", "Date", "Time", "Instant"):
        return value[:_LINE_LIMIT] if type(value) is str and value else None
    if kind == "Boolean":
        return ("yes" if value else "no") if type(value) is bool else None
    if kind in ("Integer", "Decimal", "PositiveInt", "UnsignedInt"):
        return _number(value)
    if type(value) is not dict:
        return None
    if kind == "Range":
        low, high = _quantity(value.get("low")), _quantity(value.get("high"))
        return f"{low or ''} - {high or ''}".strip(" -") or None
    if kind == "Ratio":
        numerator, denominator = _quantity(value.get("numerator")), _quantity(value.get("denominator"))
        return f"{numerator} / {denominator}" if numerator and denominator else numerator
    if kind == "Period":
        start, end = value.get("start"), value.get("end")
        return " - ".join(part for part in (start, end) if type(part) is str) or None
    if kind == "Reference" or kind == "Attachment":
        shown = value.get("display") or value.get("title")
        return shown if type(shown) is str and shown else None
    return None


def _value_of(holder: Any, labels: _Labels, prefix: str = "value") -> str | None:
    """The text of the `prefix`[x] element of a dict (value[x], detail[x], ...)."""
    if type(holder) is not dict:
        return None
    size = len(prefix)
    for key, value in holder.items():
        if key.startswith(prefix) and len(key) > size and key[size].isupper():
            return _typed_value(key[size:], value, labels)
    return None


def _values(items: list[Any], labels: _Labels) -> list[str]:
    found = []
    for holder in items:
        if type(holder) is dict:
            for key in holder:
                if key.startswith("value") and key != "valueCodeableConcept" and len(key) > 5:
                    text = _typed_value(key[5:], holder[key], labels)
                    if text:
                        found.append(text)
                    break
    return found


def _components(items: list[Any], labels: _Labels) -> list[str]:
    found = []
    for component in items:
        if type(component) is not dict:
            continue
        name = labels.take(component.get("code"), record=False)[0]
        value = _value_of(component, labels)
        if name or value:
            found.append(" ".join(part for part in ((name[0] if name else None), value) if part))
    return found


def _ranges(items: list[Any], labels: _Labels) -> list[str]:
    found = []
    for reference_range in items:
        if type(reference_range) is not dict:
            continue
        low, high = _quantity(reference_range.get("low")), _quantity(reference_range.get("high"))
        parts = []
        if low or high:
            parts.append(f"{low or ''} - {high or ''}".strip(" -"))
        for key in ("type", "appliesTo"):
            for node in _resolve(reference_range, (key,)):
                parts.extend(labels.take(node, record=False)[0])
        if type(reference_range.get("text")) is str:
            parts.append(reference_range["text"])
        if parts:
            found.append(" ".join(parts))
    return found


def _dosages(items: list[Any], labels: _Labels) -> list[str]:
    found = []
    for dosage in items:
        if type(dosage) is not dict:
            continue
        parts: list[str] = []
        for key in ("text", "patientInstruction"):
            if type(dosage.get(key)) is str:
                parts.append(dosage[key])
        for node in _resolve(dosage, ("additionalInstruction",)):
            parts.extend(labels.take(node, record=False)[0])
        for rate in _resolve(dosage, ("doseAndRate",)):
            dose = _value_of(rate, labels, "dose")
            if dose:
                parts.append(f"dose {dose}")
        dose = _quantity(dosage.get("dose"))
        if dose:
            parts.append(f"dose {dose}")
        repeat = _resolve(dosage, ("timing", "repeat"))
        if repeat and type(repeat[0]) is dict:
            frequency, period, unit = (repeat[0].get(key) for key in ("frequency", "period", "periodUnit"))
            if frequency is not None and period is not None:
                parts.append(f"{_number(frequency)} per {_number(period)} {unit or ''}".strip())
        for node in _resolve(dosage, ("timing", "code")):
            parts.extend(labels.take(node, record=False)[0])
        if dosage.get("asNeededBoolean") is True:
            parts.append("as needed")
        for node in _resolve(dosage, ("asNeededCodeableConcept",)):
            parts.extend(f"as needed for {label}" for label in labels.take(node, record=False)[0])
        for key in ("route", "site", "method"):
            for node in _resolve(dosage, (key,)):
                parts.extend(labels.take(node, record=False)[0])
        if parts:
            found.append(", ".join(parts))
    return found


def _targets(items: list[Any], labels: _Labels) -> list[str]:
    return [text for text in (_value_of(target, labels, "detail") for target in items) if text]


def _deceased(items: list[Any], labels: _Labels) -> list[str]:
    return ["yes" for flag in items if flag is True]


_SPECIAL_KINDS = {
    "value": _values,
    "components": _components,
    "ranges": _ranges,
    "dosage": _dosages,
    "target": _targets,
    "deceased": _deceased,
    "quantity": lambda items, labels: [text for text in map(_quantity, items) if text],
    "money": lambda items, labels: [text for text in map(_quantity, items) if text],
    "names": lambda items, labels: [text for text in map(_human_name, items) if text],
    "address": lambda items, labels: [text for text in map(_address, items) if text],
}
_LONG_KINDS = frozenset({"attachment", "narrative"})


# -------------------------------------------------------------------------------------- long sections

_TEXT_TYPES = frozenset({"application/xhtml+xml", "application/xml", "application/json", "application/rtf"})
_MARKUP_TYPES = frozenset({"text/html", "application/xhtml+xml", "text/xml", "application/xml"})


def _decoded(data: str, budget: int) -> str | None:
    """Up to about `budget` characters of base64 `data` decoded as UTF-8 text; None when it is not text."""
    limit = budget * 4 // 3 + 8
    truncated = len(data) > limit
    chunk = "".join(data[:limit].split())
    chunk = chunk[: len(chunk) - len(chunk) % 4]
    try:
        raw = base64.b64decode(chunk, validate=False)
    except (binascii.Error, ValueError):
        return None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        if not truncated or error.start < len(raw) - 3:
            return None
        text = raw[: error.start].decode("utf-8", errors="ignore")
    if "\x00" in text:
        return None
    printable = sum(1 for ch in text if ch.isprintable() or ch in "\n\r\t")
    return text if printable >= 0.95 * len(text) else None


def _attachment_text(attachment: Any, budget: int) -> str | None:
    """An Attachment's title and, for text content, its decoded data."""
    if type(attachment) is not dict:
        return None
    parts = []
    if type(attachment.get("title")) is str and attachment["title"]:
        parts.append(attachment["title"])
    content_type = attachment.get("contentType")
    media = content_type.split(";")[0].strip().lower() if type(content_type) is str else ""
    data = attachment.get("data")
    if type(data) is str and data and (not media or media.startswith("text/") or media in _TEXT_TYPES):
        text = _decoded(data, budget)
        if text:
            parts.append(strip_html(text) if media in _MARKUP_TYPES else _squeeze(text))
    return "\n".join(parts) or None


def _narrative_text(narrative: Any) -> str | None:
    """The words of a Narrative, unless it is a long generated one."""
    if type(narrative) is not dict or type(narrative.get("div")) is not str:
        return None
    div = narrative["div"]
    if narrative.get("status") == "generated" and len(div) > GENERATED_NARRATIVE_LIMIT:
        return None
    return strip_html(div) or None


# -------------------------------------------------------------------------------------------- generic

def _generic_concepts(node: Any, key: str, depth: int, found: list[tuple[str, Any]]) -> None:
    """Collect (element name, CodeableConcept or Coding) pairs, skipping bookkeeping and references."""
    if depth > _GENERIC_DEPTH:
        return
    if type(node) is list:
        for item in node:
            _generic_concepts(item, key, depth, found)
        return
    if type(node) is not dict:
        return
    is_coding = "code" in node and ("system" in node or "display" in node) and "value" not in node
    if "coding" in node or is_coding:
        found.append((key, node))
        return
    if "reference" in node or ("display" in node and "code" not in node):
        return
    for child_key, child in node.items():
        if child_key in _GENERIC_SKIP or child_key.endswith("Status") or type(child) not in (dict, list):
            continue
        _generic_concepts(child, child_key, depth + 1, found)


def _generic_attachments(node: Any, depth: int, found: list[dict]) -> None:
    if depth > _GENERIC_DEPTH:
        return
    if type(node) is list:
        for item in node:
            _generic_attachments(item, depth, found)
    elif type(node) is dict:
        if type(node.get("data")) is str and "coding" not in node:
            found.append(node)
            return
        for child_key, child in node.items():
            if child_key not in _GENERIC_SKIP and type(child) in (dict, list):
                _generic_attachments(child, depth + 1, found)


def _heading(element: str) -> str:
    words = _CAMEL.split(element)
    return " ".join([words[0].capitalize(), *(word.lower() for word in words[1:])])


# ------------------------------------------------------------------------------------------- renderer

_PATIENT_REFERENCE = re.compile(r"^Patient/([A-Za-z0-9\-.]{1,64})(?:/_history/[^/]+)?$")


def _patient(resource: dict, resource_type: str, resource_id: str,
             paths: tuple[ElementPath, ...]) -> str | None:
    """"Patient/{id}" of the compartment owner: a relative Patient reference in a compartment element."""
    if resource_type == "Patient":
        return f"Patient/{resource_id}"
    for path in paths:
        for reference in _resolve(resource, path):
            target = reference.get("reference") if type(reference) is dict else None
            if type(target) is str:
                match = _PATIENT_REFERENCE.match(target)
                if match:
                    return f"Patient/{match[1]}"
    return None


def _date_us(resource: dict, paths: tuple[ElementPath, ...]) -> int | None:
    """The start, in epoch microseconds, of the first parseable date found along `paths`."""
    for path in paths:
        for value in _resolve(resource, path):
            if type(value) is str:
                found = parse_range(value)
                if found:
                    return found[0]
    return None


def _status_code(resource: dict) -> str | None:
    """status, else the code of clinicalStatus, else lifecycleStatus."""
    value = resource.get("status")
    if type(value) is str and value:
        return value
    for coding in _resolve(resource, ("clinicalStatus", "coding")):
        if type(coding) is dict and type(coding.get("code")) is str:
            return coding["code"]
    value = resource.get("lifecycleStatus")
    return value if type(value) is str and value else None


def _clip(text: str, limit: int) -> str:
    """`text` cut at a word boundary to at most `limit` characters (an ellipsis marks the cut)."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    space = cut.rfind(" ")
    return (cut[:space] if space > limit // 2 else cut).rstrip(" ,;:.") + "…"


class _Document:
    """The parts of one search document while they are being gathered."""

    def __init__(self) -> None:
        self.labels = _Labels()
        self.head: str | None = None  # the label naming the resource in the title
        self.primary: list[str] = []  # all labels of the naming concepts
        self.embed_head: list[str] = []  # the naming concept's labels for embed_text
        self.lines: dict[str, list[str]] = {}  # heading -> items, in section order
        self.embed: dict[str, list[str]] = {}
        self.long: list[tuple[str, Any]] = []  # ("attachment" | "narrative", element), in order

    def add(self, heading: str, items: list[str], *, text: bool = True, embed: bool = False) -> None:
        """Add items under a heading of the text and, when `embed`, of the embed_text."""
        if text and items:
            self.lines.setdefault(heading, []).extend(items)
        if embed and items:
            self.embed.setdefault(heading, []).extend(items)


def _name_primary(resource: dict, spec_primary: Iterable[ElementPath], document: _Document) -> None:
    """Record the naming concepts: the first path holding a real display names the resource.

    Codes of every path are recorded; the labels of the paths not chosen are left to the sections.
    """
    chosen: list[list[str]] = []
    fallback: list[list[str]] = []
    for path in spec_primary:
        found, real = [], False
        for node in _resolve(resource, path):
            labels, is_real = document.labels.take(node)
            if labels:
                found.append(labels)
                real = real or is_real
        if real and not chosen:
            chosen = found
        elif found and not fallback:
            fallback = found
    picked = chosen or fallback
    if picked:
        document.head = picked[0][0]
        document.embed_head = picked[0][:_EMBED_LABELS]
        document.primary = [label for labels in picked for label in labels]


def _first_name(resource: dict, paths: Iterable[ElementPath], labels: _Labels) -> str | None:
    """The first name, string or concept text found along `paths`."""
    for path in paths:
        for node in _resolve(resource, path):
            if type(node) is dict and "coding" in node:
                found = labels.take(node, record=False)[0]
                text = found[0] if found else None
            else:
                text = _human_name(node)
            if text:
                return text
    return None


def _title(label: str, resource: dict, spec: _Spec | None, document: _Document) -> str:
    """"Type label: name", the name being the naming concept or, for directory resources, the name."""
    names_first = spec.names_first if spec else False
    head = None
    if names_first or document.head is None:
        head = _first_name(resource, spec.names if spec else _GENERIC_NAMES, document.labels)
    head = head or document.head
    return _clip(f"{label}: {' '.join(head.split())}", TITLE_LIMIT) if head else label


def _render_sections(resource: dict, sections: Iterable[_Section], document: _Document) -> None:
    for section in sections:
        try:
            items = _resolve(resource, section.path)
            if not items:
                continue
            kind = section.kind
            if kind == "concept" or kind == "status":
                found: list[str] = []
                for node in items:
                    found.extend(document.labels.take(node, record=kind == "concept")[0])
                document.add(section.heading, found, text=section.text, embed=section.embed)
            elif kind == "strings":
                found = [item[:_LINE_LIMIT] for item in items if type(item) is str and item]
                document.add(section.heading, found, embed=section.embed)
            elif kind in _LONG_KINDS:
                document.long.extend(("attachment" if kind == "attachment" else "narrative", item)
                                     for item in items)
            else:
                document.add(section.heading, _SPECIAL_KINDS[kind](items, document.labels))
        except Exception:  # noqa: BLE001 - a malformed element costs only its own section
            continue


def _render_generic(resource: dict, document: _Document) -> None:
    """Types without a spec: every concept outside bookkeeping, common strings, value[x], attachments."""
    found: list[tuple[str, Any]] = []
    for key, child in resource.items():
        if key not in _GENERIC_SKIP and not key.endswith("Status") and type(child) in (dict, list):
            _generic_concepts(child, key, 1, found)
    rank = {key: index for index, key in enumerate(_GENERIC_PRIMARY)}
    primary_key = min((key for key, _ in found), key=lambda key: rank.get(key, len(rank)), default=None)
    fallback: list[str] = []
    for key, node in found:
        labels, real = document.labels.take(node)
        if key != primary_key:
            document.add(_heading(key), labels, embed=key == "category")
            continue
        document.primary.extend(labels)
        if real and document.head is None and labels:
            document.head, document.embed_head = labels[0], labels[:_EMBED_LABELS]
        elif labels and not fallback:
            fallback = labels
    if document.head is None and fallback:
        document.head, document.embed_head = fallback[0], fallback[:_EMBED_LABELS]
    for path, heading in _GENERIC_STRINGS:
        document.add(heading, [item[:_LINE_LIMIT] for item in _resolve(resource, path)
                               if type(item) is str and item])
    document.add("Value", _values([resource], document.labels))
    attachments: list[dict] = []
    for key, child in resource.items():
        if key not in _GENERIC_SKIP and type(child) in (dict, list):
            _generic_attachments(child, 1, attachments)
    document.long.extend(("attachment", item) for item in attachments)


def _assemble_text(title: str, document: _Document, narrative: Any) -> str:
    """Title, headed lines, attachments and narrative, capped at TEXT_LIMIT characters."""
    lines = [title]
    named = title.partition(": ")[2].casefold()
    shown = {label.casefold() for label in document.primary} | {named}
    others = [label for label in _dedupe(document.primary) if label.casefold() != named]
    if others:
        lines.append(", ".join(others[:_ITEMS_PER_LINE]))
    for heading, items in document.lines.items():
        fresh = [item for item in _dedupe(items) if item.casefold() not in shown]
        if fresh:
            joined = ", ".join(fresh[:_ITEMS_PER_LINE])[:_LINE_LIMIT]
            lines.append(f"{heading}: {joined}" if heading else joined)
    size = sum(len(line) + 1 for line in lines)
    for kind, item in (*document.long, ("narrative", narrative)):
        budget = TEXT_LIMIT - size
        if budget <= 0:
            break
        try:
            part = _attachment_text(item, budget) if kind == "attachment" else _narrative_text(item)
        except Exception:  # noqa: BLE001 - an undecodable attachment or narrative is left out
            part = None
        if part:
            lines.append(part)
            size += len(part) + 1
    return _clip("\n".join(lines), TEXT_LIMIT)


def _assemble_embed(label: str, document: _Document) -> str:
    """Type label, naming concept and the embed sections: no values, dates, ids or names."""
    head = _dedupe(document.embed_head)
    shown = {item.casefold() for item in head}
    parts = [f"{label}: {' / '.join(head)}" if head else label]
    for heading, items in document.embed.items():
        fresh = [item for item in _dedupe(items) if item.casefold() not in shown][:_EMBED_LABELS]
        shown.update(item.casefold() for item in fresh)
        if fresh:
            parts.append(f"{heading}: {', '.join(fresh)}" if heading else ", ".join(fresh))
    return _clip(". ".join(parts), EMBED_LIMIT)


def render(resource: dict, *, version: int, institution: str | None) -> SearchDocument:
    """The search document for one version of a FHIR R4 resource; raises only without resourceType or id."""
    resource_type = resource.get("resourceType") if type(resource) is dict else None
    resource_id = resource.get("id") if type(resource) is dict else None
    if type(resource_type) is not str or not resource_type or resource_id is None or resource_id == "":
        raise ValueError("a resource needs resourceType and id to be rendered")
    resource_id = str(resource_id)
    label = type_label(resource_type)
    spec = _SPECS.get(resource_type)
    document = _Document()

    try:
        if spec is None:
            _render_generic(resource, document)
        else:
            _name_primary(resource, spec.primary, document)
            _render_sections(resource, spec.sections, document)
    except Exception:  # noqa: BLE001 - keep whatever was gathered before the failure
        pass
    try:
        title = _title(label, resource, spec, document)
    except Exception:  # noqa: BLE001
        title = label
    try:
        text = _assemble_text(title, document, resource.get("text"))
    except Exception:  # noqa: BLE001
        text = title
    try:
        embed_text = _assemble_embed(label, document)
    except Exception:  # noqa: BLE001
        embed_text = label
    return SearchDocument(
        resource_type=resource_type,
        resource_id=resource_id,
        version=version,
        patient=_guard(_patient, resource, resource_type, resource_id,
                       spec.patient if spec else _GENERIC_PATIENT),
        source=_guard(_source, resource),
        institution=institution,
        date_us=_guard(_date_us, resource, (spec.dates or _GENERIC_DATES) if spec else _GENERIC_DATES),
        status=_guard(_status_code, resource),
        codes=tuple(document.labels.codes),
        displays=tuple(document.labels.displays.values()),
        title=title,
        text=text,
        embed_text=embed_text,
    )


def _source(resource: dict) -> str | None:
    """meta.source."""
    meta = resource.get("meta")
    source = meta.get("source") if type(meta) is dict else None
    return source if type(source) is str and source else None


def _guard(function: Any, *args: Any) -> Any:
    """`function(*args)`, or None when the resource's shape makes it fail."""
    try:
        return function(*args)
    except Exception:  # noqa: BLE001
        return None
