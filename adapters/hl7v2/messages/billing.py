"""BAR P01/P02/P05/P06/P12 (patient accounts) and DFT P03/P11 (financial transactions).

HL7 v2-to-FHIR IG: "BAR_P01 to Bundle Map", "DFT_P03 to Bundle Map" (http://hl7.org/fhir/uv/v2mappings/):
the account (PID-18) with its coverages (IN1), the visit's diagnoses (DG1), procedures (PR1), allergies (AL1)
and observations (OBX); DFT's charges (FT1) as ChargeItems naming the procedures of their group. A billing
system does not own the patient or the visit, and a DFT not the account: they are only created when missing.
BAR updates the diagnoses, procedures and coverages it carries (P12 exists to correct them); DFT only creates
them when missing.
"""
from __future__ import annotations

from adapters.hl7v2.context import Context
from adapters.hl7v2.messages.common import Result, map_results, note_text, require_segment
from adapters.hl7v2.segments.billing import map_account, map_charge
from adapters.hl7v2.segments.clinical import map_allergy, map_condition, map_procedure
from adapters.hl7v2.segments.in1 import map_coverage
from adapters.hl7v2.segments.pid import map_patient
from adapters.hl7v2.segments.pv1 import map_encounter
from adapters.hl7v2.tree import Segment

BAR_TRIGGERS = frozenset({"P01", "P02", "P05", "P06", "P12"})
DFT_TRIGGERS = frozenset({"P03", "P11"})
ACCOUNTING_OWNS = frozenset({"Condition", "Procedure", "Coverage"})  # BAR: coded diagnoses, procedures, insurance
GROUP_ENDS = ("FT1", "DG1", "DRG", "GT1", "IN1", "ACC")  # what closes a financial transaction's group


def map_billing(ctx: Context, trigger: str) -> None:
    """Translate a BAR or DFT message into the context's Bundle: each PID with the segments up to the next."""
    message = ctx.message
    if message.header.message_type.upper() == "BAR":
        ctx.owned = ACCOUNTING_OWNS
    starts = [segment.index for segment in message.segments if segment.name == "PID"]
    if not starts:
        require_segment(ctx, None, "PID")
        return
    charges = 0
    for number, start in enumerate(starts):
        end = starts[number + 1] if number + 1 < len(starts) else len(message.segments)
        charges += _map_patient_group(ctx, trigger, message.segments[start:end])
    if message.header.message_type.upper() == "DFT" and not charges:
        require_segment(ctx, None, "FT1")


def _map_patient_group(ctx: Context, trigger: str, segments: list[Segment]) -> int:
    """One patient's accounts, visits and transactions; the number of FT1 segments met."""
    pid = segments[0]
    ctx.encounter = None
    if map_patient(ctx, pid, next((s for s in segments if s.name == "PD1"), None)) is None:
        return 0
    results: list[Result] = []
    coverages: list[str] = []
    charges: list[tuple[Segment, str | None, list[str]]] = []  # (FT1, its visit, its procedures)
    open_charge = False
    previous = ""
    for position, segment in enumerate(segments):
        name = segment.name
        if name == "PV1":
            pv2 = segments[position + 1] if position + 1 < len(segments) and segments[position + 1].name == "PV2" \
                else None
            map_encounter(ctx, segment, pv2)
        elif name == "IN1":
            coverages += [url for url in (map_coverage(ctx, segment),) if url]
        elif name == "DG1":
            map_condition(ctx, segment)
        elif name == "AL1":
            map_allergy(ctx, segment)
        elif name == "OBX":
            results.append(Result(segment))
        elif name == "NTE" and previous == "OBX" and results:
            results[-1].notes.append(note_text(segment))
        elif name == "PR1":
            procedure = map_procedure(ctx, segment)
            if procedure and open_charge:
                charges[-1][2].append(procedure)
        if name == "FT1":
            charges.append((segment, ctx.encounter, []))
        if name in GROUP_ENDS:
            open_charge = name == "FT1"  # a PR1 after its FT1 is that charge's procedure
        if name != "NTE":
            previous = name
    map_results(ctx, results, (ctx.sender_system, f"message^{ctx.header.control_id}^{pid.index}"))
    financial = ctx.header.message_type.upper() == "DFT"
    account = map_account(ctx, pid, trigger, coverages, create_only=financial)  # BAR owns the account
    if financial:
        for ft1, visit, services in charges:
            ctx.encounter = visit
            map_charge(ctx, ft1, account=account, services=services)
    return len(charges)
