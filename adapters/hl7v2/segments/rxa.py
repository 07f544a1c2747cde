"""RXA (+ RXR, ORC, OBX) to Immunization.

HL7 v2-to-FHIR IG: "Segment RXA to Immunization Map" (http://hl7.org/fhir/uv/v2mappings/ConceptMap-segment-rxa-to-immunization.html),
"Segment RXR to Immunization Map", "Segment ORC to Immunization Map" and "Table HL70322 to Immunization Status";
CDC IIS guidance for RXA-6 = 999 (unknown amount), RXA-9 information source (00 new record = primary source)
and the VXU OBX conventions (64994-7 eligibility, 30963-3 funding source, VIS documents).
"""
from __future__ import annotations

from typing import Any

from adapters.hl7v2.context import Context
from adapters.hl7v2.datatypes.codes import cwe_code, cwe_concept
from adapters.hl7v2.datatypes.quantity import parse_number, quantity, unit_fields
from adapters.hl7v2.errors import DATA_TYPE_ERROR, REQUIRED_FIELD_MISSING
from adapters.hl7v2.identity import Key, synthetic_key
from adapters.hl7v2.segments.orders import order_ids
from adapters.hl7v2.segments.practitioners import organization, practitioner
from adapters.hl7v2.terminology import IMMUNIZATION_STATUS, V2, V3_NULL
from adapters.hl7v2.tree import Segment

ACT_REASON = "http://terminology.hl7.org/CodeSystem/v3-ActReason"
MVX_SYSTEM = "http://hl7.org/fhir/sid/mvx"
FUNCTION = f"{V2}0443"
ELIGIBILITY, FUNDING = "64994-7", "30963-3"
DATE_TYPES = {"DT", "DTM", "TS"}
VIS_FIELDS = {"69764-9": "documentType", "29768-9": "publicationDate", "29769-7": "presentationDate"}


def _dose(ctx: Context, rxa: Segment) -> dict[str, Any] | None:
    amount = rxa.get(6)
    if not amount or amount == "999":
        return None
    try:
        return quantity(parse_number(amount), unit_fields(rxa.rep(7)))
    except ValueError:
        ctx.issue(rxa, 6, DATA_TYPE_ERROR, "RXA-6 is not a valid administered amount", fatal=False)
        return None


def _status(rxa: Segment, immunization: dict[str, Any]) -> None:
    if rxa.get(21).upper() == "D":
        immunization["status"] = "entered-in-error"
        return
    code = rxa.get(20).upper()
    immunization["status"] = IMMUNIZATION_STATUS.get(code, "completed")
    if code == "PA":
        immunization["isSubpotent"] = True
    if immunization["status"] == "not-done":
        reason = cwe_concept(rxa.rep(18))
        if reason is None and code == "RE":
            reason = {"coding": [{"system": ACT_REASON, "code": "PATOBJ", "display": "patient objection"}]}
        if reason:
            immunization["statusReason"] = reason


def _fold_observations(ctx: Context, observations: list[Segment], immunization: dict[str, Any]) -> list[Segment]:
    """Fold VXU OBX (eligibility, funding source, VIS) into the Immunization; return the others."""
    remaining: list[Segment] = []
    documents: dict[str, tuple[dict[str, Any], list[Segment]]] = {}
    for obx in observations:
        code = cwe_code(obx.rep(3))
        value = cwe_concept(obx.rep(5))
        if code == ELIGIBILITY and value:
            immunization.setdefault("programEligibility", []).append(value)
        elif code == FUNDING and value:
            immunization.setdefault("fundingSource", value)
        elif code in VIS_FIELDS and (VIS_FIELDS[code] == "documentType" or obx.get(2).upper() in DATE_TYPES):
            document, members = documents.setdefault(obx.get(4) or "1", ({}, []))
            name = VIS_FIELDS[code]
            text = obx.get(5) if name == "documentType" else ctx.datetime(obx, 5)
            if text:
                document[name] = text
            members.append(obx)
        else:
            remaining.append(obx)
    education = []
    for document, members in documents.values():
        if "documentType" in document:  # imm-1: a VIS entry needs its document type
            education.append(document)
        else:
            remaining.extend(members)
    if education:
        immunization["education"] = education
    return remaining


def map_immunization(ctx: Context, orc: Segment | None, rxa: Segment, rxr: Segment | None,
                     observations: list[Segment]) -> tuple[str | None, list[Segment]]:
    """Upsert the Immunization of an RXA group; returns its fullUrl and the OBX not folded into it."""
    if ctx.subject is None:
        return None, observations
    if not ctx.require(rxa, 5, "administered code"):
        return None, observations
    vaccine = cwe_concept(rxa.rep(5))
    occurrence = ctx.datetime(rxa, 3, fatal=True)
    if occurrence is None:
        if not rxa.get(3):
            ctx.require(rxa, 3, "date/time start of administration")
        return None, observations
    ids = order_ids(ctx, orc, None)
    filler = ids.filler
    if filler and filler.get("system"):
        key = Key("Immunization", filler["system"], filler["value"])
    else:
        key = synthetic_key("Immunization", "immunization", ctx.subject.key.system, ctx.subject.key.value,
                            cwe_code(rxa.rep(5)), rxa.get(3))
    immunization: dict[str, Any] = {"vaccineCode": vaccine, "patient": ctx.patient_ref(),
                                    "encounter": ctx.encounter_ref(), "occurrenceDateTime": occurrence,
                                    "identifier": ids.listed()}
    _status(rxa, immunization)
    source = rxa.get(9).upper()
    if source:
        immunization["primarySource"] = source == "00"
        if source != "00":
            immunization["reportOrigin"] = cwe_concept(rxa.rep(9), "NIP001")
    dose = _dose(ctx, rxa)
    if dose:
        immunization["doseQuantity"] = dose
    if rxa.get(15):
        immunization["lotNumber"] = rxa.get(15)
    expiry = ctx.date(rxa, 16)
    if expiry:
        immunization["expirationDate"] = expiry
    maker = rxa.rep(17)
    if maker.c(1) or maker.c(2):
        immunization["manufacturer"] = organization(ctx, maker.c(2) or maker.c(1), maker.c(1),
                                                    MVX_SYSTEM if maker.c(1) else None)
    performers = []
    for field, code, display in ((10, "AP", "Administering Provider"), (None, "OP", "Ordering Provider")):
        value = rxa.rep(10) if field else (orc.rep(12) if orc is not None else None)
        ref = practitioner(ctx, value) if value is not None and not value.empty else None
        if ref:
            performers.append({"function": {"coding": [{"system": FUNCTION, "code": code, "display": display}]},
                               "actor": ref})
    immunization["performer"] = performers
    if rxr is not None:
        for field, name, table in ((1, "route", "0162"), (2, "site", "0163")):
            concept = cwe_concept(rxr.rep(field), table)
            if concept:
                immunization[name] = concept
    remaining = _fold_observations(ctx, observations, immunization)
    if not immunization.get("vaccineCode"):
        immunization["vaccineCode"] = {"coding": [{"system": V3_NULL, "code": "UNK"}]}
        ctx.issue(rxa, 5, REQUIRED_FIELD_MISSING, "RXA-5 holds no code", fatal=False)
    return ctx.upsert(key, immunization), remaining
