"""ORC + RXE/RXO (+RXR, TQ1) to MedicationRequest, RXD to MedicationDispense.

HL7 v2-to-FHIR IG: "Segment RXE to MedicationRequest Map", "Segment RXO to MedicationRequest Map",
"Segment RXR to MedicationRequest/MedicationDispense Map" (route), "Segment RXD to MedicationDispense Map"
(http://hl7.org/fhir/uv/v2mappings/) and "Segment ORC to MedicationRequest Map" (identifiers, requester,
authored time, status through tables 0038/0119: a cancelled order is `cancelled`, a discontinued one `stopped`).
The encoded order RXE wins over the requested one RXO where both say the same thing.
"""
from __future__ import annotations

from typing import Any

from adapters.hl7v2.context import Context
from adapters.hl7v2.datatypes.codes import concept_text, cwe_concept
from adapters.hl7v2.datatypes.identifiers import ei_identifier
from adapters.hl7v2.datatypes.quantity import parse_number, quantity, small_int, unit_fields
from adapters.hl7v2.errors import DATA_TYPE_ERROR, REQUIRED_FIELD_MISSING
from adapters.hl7v2.identity import Key, synthetic_key
from adapters.hl7v2.segments.orders import OrderIds, request_status
from adapters.hl7v2.segments.practitioners import practitioner
from adapters.hl7v2.tree import Segment

# ServiceRequest-style request status (tables 0038 / 0119) -> MedicationRequest.status
MEDICATION_STATUS = {"active": "active", "on-hold": "on-hold", "completed": "completed",
                     "entered-in-error": "entered-in-error", "revoked": "cancelled", "unknown": "unknown"}
STOPPED_CONTROLS = frozenset({"DC", "OD", "DR"})  # discontinued: the medication was started, then stopped
# field numbers of the encoded (RXE) and requested (RXO) order: code, dose min, dose max, dose units,
# administration instructions, dispense amount, dispense units, refills, indication
RXE_FIELDS = {"code": 2, "min": 3, "max": 4, "units": 5, "instructions": 7, "dispense": 10, "dispense_units": 11,
              "refills": 12, "indication": 27}
RXO_FIELDS = {"code": 1, "min": 2, "max": 3, "units": 4, "instructions": 7, "dispense": 11, "dispense_units": 12,
              "refills": 13, "indication": 20}


def _fields(segment: Segment) -> dict[str, int]:
    return RXE_FIELDS if segment.name == "RXE" else RXO_FIELDS


def _amount(ctx: Context, segment: Segment, field: int, units: dict[str, Any]) -> dict[str, Any] | None:
    text = segment.get(field)
    if not text:
        return None
    try:
        return quantity(parse_number(text), units)
    except ValueError:
        ctx.issue(segment, field, DATA_TYPE_ERROR, f"{segment.name}-{field} is not a number; it was left out",
                  fatal=False)
        return None


def _routes(rxrs: list[Segment]) -> list[dict[str, Any]]:
    return [concept for concept in (cwe_concept(rxr.rep(1), "0162") for rxr in rxrs) if concept]


def _dosage(ctx: Context, detail: Segment, rxrs: list[Segment], tq1: Segment | None) -> dict[str, Any]:
    numbers = _fields(detail)
    dosage: dict[str, Any] = {}
    instructions = "; ".join(text for text in (concept_text(cwe_concept(rep)) for rep in
                                               detail.reps(numbers["instructions"])) if text)
    if instructions:
        dosage["text"] = instructions
    units = unit_fields(detail.rep(numbers["units"]))
    low, high = (_amount(ctx, detail, numbers[name], units) for name in ("min", "max"))
    if low and high and high.get("value") != low.get("value"):
        dosage["doseAndRate"] = [{"doseRange": {"low": low, "high": high}}]
    elif low:
        dosage["doseAndRate"] = [{"doseQuantity": low}]
    routes = _routes(rxrs)
    if routes:
        dosage["route"] = routes[0]
    if tq1 is not None:
        timing: dict[str, Any] = {}
        pattern = tq1.rep(3)
        if pattern.text():
            timing["code"] = {"text": pattern.text()}
        bounds = {name: when for name, field in (("start", 7), ("end", 8)) if (when := ctx.datetime(tq1, field))}
        if bounds:
            timing["repeat"] = {"boundsPeriod": bounds}
        if timing:
            dosage["timing"] = timing
    return dosage


def medication_status(orc: Segment | None) -> str:
    """MedicationRequest.status from ORC-5 / ORC-1."""
    if orc is not None and (orc.get(5).upper() == "DC" or (orc.get(1).upper() in STOPPED_CONTROLS
                                                           and not orc.get(5))):
        return "stopped"
    return MEDICATION_STATUS.get(request_status(orc, "active"), "unknown")


def map_medication_request(ctx: Context, orc: Segment | None, detail: Segment, *, key: Key, ids: OrderIds,
                           rxrs: list[Segment], tq1: Segment | None, notes: list[str],
                           supporting: list[str], reasons: list[str] | None = None,
                           create_only: bool = False) -> str | None:
    """Upsert the MedicationRequest of an ORC with its RXE (else RXO); None without a medication code."""
    if ctx.subject is None:
        return None
    numbers = _fields(detail)
    medication = cwe_concept(detail.rep(numbers["code"]))
    if medication is None:
        ctx.issue(detail, numbers["code"], REQUIRED_FIELD_MISSING,
                  f"{detail.name}-{numbers['code']} (the medication) is required", fatal=True)
        return None
    request: dict[str, Any] = {"status": medication_status(orc), "intent": "order",
                               "medicationCodeableConcept": medication, "subject": ctx.patient_ref(),
                               "identifier": ids.listed()}
    encounter = ctx.encounter_ref()
    if encounter:
        request["encounter"] = encounter
    if ids.group:
        request["groupIdentifier"] = ids.group
    if orc is not None:
        authored = ctx.datetime(orc, 9) if orc.get(9) else None
        if authored:
            request["authoredOn"] = authored
        requester = practitioner(ctx, orc.rep(12)) if orc.has(12) else None
        if requester:
            request["requester"] = requester
    dosage = _dosage(ctx, detail, rxrs, tq1)
    if dosage:
        request["dosageInstruction"] = [dosage]
    dispense: dict[str, Any] = {}
    amount = _amount(ctx, detail, numbers["dispense"], unit_fields(detail.rep(numbers["dispense_units"])))
    if amount:
        dispense["quantity"] = amount
    refills = small_int(detail.get(numbers["refills"]), minimum=0)
    if refills is not None:
        dispense["numberOfRepeatsAllowed"] = refills
    if dispense:
        request["dispenseRequest"] = dispense
    indication = cwe_concept(detail.rep(numbers["indication"]))
    if indication:
        request["reasonCode"] = [indication]
    if reasons:
        request["reasonReference"] = [{"reference": url} for url in reasons]
    if supporting:
        request["supportingInformation"] = [{"reference": url} for url in supporting]
    if notes:
        request["note"] = [{"text": text} for text in notes]
    return ctx.upsert(key, request, create_only=create_only)


def map_dispensed_order(ctx: Context, orc: Segment | None, rxd: Segment, *, key: Key,
                        ids: OrderIds) -> str | None:
    """Create (when missing) the MedicationRequest a dispense fills when only its ORC numbers are sent; only by
    the placer number, the prescriber's key (the pharmacy's filler number alone would make a second order)."""
    medication = cwe_concept(rxd.rep(2))
    if ctx.subject is None or medication is None or not ids.placer:
        return None
    request: dict[str, Any] = {"status": medication_status(orc), "intent": "order",
                               "medicationCodeableConcept": medication, "subject": ctx.patient_ref(),
                               "encounter": ctx.encounter_ref(), "identifier": ids.listed()}
    return ctx.upsert(key, request, create_only=True)


def map_medication_dispense(ctx: Context, rxd: Segment, *, scope: tuple[str, str], request: str | None,
                            rxrs: list[Segment], notes: list[str]) -> str | None:
    """Upsert the MedicationDispense of an RXD, keyed by its prescription number (RXD-7) and counter (RXD-1)."""
    if ctx.subject is None:
        return None
    medication = cwe_concept(rxd.rep(2))
    if medication is None:
        ctx.issue(rxd, 2, REQUIRED_FIELD_MISSING, "RXD-2 (the medication dispensed) is required", fatal=True)
        return None
    prescription = ei_identifier(rxd.rep(7), default_system=ctx.sender_system)
    counter = rxd.get(1) or "1"
    named_by = (prescription["system"], prescription["value"]) if prescription else scope
    key = synthetic_key("MedicationDispense", "dispense", *named_by, counter)
    dispense: dict[str, Any] = {"status": "completed", "medicationCodeableConcept": medication,
                                "subject": ctx.patient_ref()}
    if prescription:
        dispense["identifier"] = [prescription]
    encounter = ctx.encounter_ref()
    if encounter:
        dispense["context"] = encounter
    if request:
        dispense["authorizingPrescription"] = [{"reference": request}]
    amount = _amount(ctx, rxd, 4, unit_fields(rxd.rep(5)))
    if amount:
        dispense["quantity"] = amount
    handed_over = ctx.datetime(rxd, 3) if rxd.get(3) else None
    if handed_over:
        dispense["whenHandedOver"] = handed_over
    performer = practitioner(ctx, rxd.rep(10)) if rxd.has(10) else None
    if performer:
        dispense["performer"] = [{"actor": performer}]
    routes = _routes(rxrs)
    if routes:
        dispense["dosageInstruction"] = [{"route": routes[0]}]
    texts = [text for text in [rxd.rep(9).text(), *notes] if text]
    if texts:
        dispense["note"] = [{"text": text} for text in texts]
    return ctx.upsert(key, dispense)
