"""Rendering specs: per resource type, the concepts that name it, its text sections, date and patient."""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


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
