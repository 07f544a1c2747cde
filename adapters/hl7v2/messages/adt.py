"""ADT visit, tracking, leave, swap and cancel events, A28/A31, deletions A29, adverse reactions A60, links
A24/A37, merges A34/A39/A40, visit moves A45, account merges A41 and identifier corrections A47 (patient) and
A50 (visit) to Patient, Encounter and more.

HL7 v2-to-FHIR IG: message maps "ADT_A01 to Bundle" (http://hl7.org/fhir/uv/v2mappings/ConceptMap-message-adt-a01-to-bundle.html),
"ADT_A02/A03/A04/A05/A06/A07/A08/A11/A13/A28/A31 to Bundle", "ADT_A40 to Bundle" (MRG: the patient merged away).
A corrected identifier (MRG-1 for A47, MRG-5 for A50) is replaced by the message's (PID-3, PV1-19) on the
record it names before the message's own upsert, which then updates that record (chapter 3.6.2: one record,
its identifier corrected; a new identifier naming another record is a merge, not a correction). A visit moved
to another patient (A45) keeps its Encounter; what was recorded in it about the previous patient follows it.
ADT owns patient data: Patient and Encounter are conditional PUTs (other messages only create them if missing).
"""
from __future__ import annotations

from adapters.hl7v2.context import Context
from adapters.hl7v2.errors import SEGMENT_SEQUENCE_ERROR, MappingIssue
from adapters.hl7v2.messages.common import Result, map_results, note_text, require_segment
from adapters.hl7v2.datatypes.identifiers import cx_identifier, hd_system
from adapters.hl7v2.errors import REQUIRED_FIELD_MISSING
from adapters.hl7v2.identity import Key
from adapters.hl7v2.model import AccountMerge, IdentifierChange, Merge, PatientDeletion, PatientLink, VisitMove
from adapters.hl7v2.segments.billing import map_account
from adapters.hl7v2.segments.clinical import map_adverse_reaction, map_allergy, map_condition, map_procedure
from adapters.hl7v2.segments.in1 import map_coverage
from adapters.hl7v2.segments.nk1 import map_related_person
from adapters.hl7v2.segments.pid import identifier_key, map_patient, merge_queries
from adapters.hl7v2.segments.pv1 import map_encounter, visit_key
from adapters.hl7v2.tree import Segment

MERGE_TRIGGERS = frozenset({"A34", "A39", "A40"})
VISIT_TRIGGERS = frozenset({"A01", "A02", "A03", "A04", "A05", "A06", "A07", "A08", "A09", "A10", "A11", "A12",
                            "A13", "A14", "A15", "A16", "A21", "A22", "A23", "A25", "A26", "A27", "A32", "A33",
                            "A38", "A52", "A53", "A54", "A55"})
OWNED = frozenset({"AllergyIntolerance", "Condition", "Procedure", "Coverage"})
DELETE_TRIGGER = "A29"  # a person's record registered in error (chapter 3.3.29)
LINK_TRIGGERS = {"A24": True, "A37": False}  # link / unlink two records of one person (chapter 3.3.24, 3.3.37)
ACCOUNT_MERGE_TRIGGER = "A41"  # the MRG-3 account merges into the PID-18 account (chapter 3.3.41)
MOVE_TRIGGER = "A45"  # visits move from the MRG-1 patient to the PID patient (chapter 3.3.45)
SWAP_TRIGGER = "A17"  # two patients swap locations: each PID with its PV1 (chapter 3.3.17)
PATIENT_IDENTIFIER_TRIGGERS = frozenset({"A47"})  # not A46: it corrects the external id PID-2, not the key
VISIT_IDENTIFIER_TRIGGERS = frozenset({"A50"})
TRIGGERS = (VISIT_TRIGGERS | frozenset({"A17", "A28", "A29", "A31", "A41", "A45", "A60"}) | frozenset(LINK_TRIGGERS)
            | MERGE_TRIGGERS | PATIENT_IDENTIFIER_TRIGGERS
            | VISIT_IDENTIFIER_TRIGGERS)


def map_adt(ctx: Context, trigger: str) -> None:
    """Translate one ADT message into the context's Bundle."""
    ctx.owns_patient = True
    ctx.owned = OWNED
    message = ctx.message
    if trigger in MERGE_TRIGGERS:
        _merges(ctx)
        return
    if trigger in PATIENT_IDENTIFIER_TRIGGERS | VISIT_IDENTIFIER_TRIGGERS:
        _identifier_changes(ctx, trigger)
        return
    if trigger == SWAP_TRIGGER:
        _swap(ctx)
        return
    if trigger in LINK_TRIGGERS:
        _links(ctx, LINK_TRIGGERS[trigger])
        return
    if trigger == DELETE_TRIGGER:
        _deletion(ctx)
        return
    if trigger == MOVE_TRIGGER:
        _visit_moves(ctx)
        return
    if trigger == ACCOUNT_MERGE_TRIGGER:
        _account_merges(ctx)
        return
    pid = message.first("PID")
    if not require_segment(ctx, pid, "PID"):
        return
    if map_patient(ctx, pid, message.first("PD1")) is None:
        return
    pv1 = message.first("PV1")
    if pv1 is not None:
        map_encounter(ctx, pv1, message.first("PV2"), trigger=trigger)
    for nk1 in message.all("NK1"):
        map_related_person(ctx, nk1)
    for al1 in message.all("AL1"):
        map_allergy(ctx, al1)
    for iam in message.all("IAM"):  # A60: adverse reaction information
        map_adverse_reaction(ctx, iam)
    for dg1 in message.all("DG1"):
        map_condition(ctx, dg1)
    for pr1 in message.all("PR1"):
        map_procedure(ctx, pr1)
    for in1 in message.all("IN1"):
        map_coverage(ctx, in1)
    map_results(ctx, _results(message.segments), (ctx.sender_system, f"message^{ctx.header.control_id}"))


def _results(segments: list[Segment]) -> list[Result]:
    results: list[Result] = []
    previous = ""
    for segment in segments:
        if segment.name == "OBX":
            results.append(Result(segment))
        elif segment.name == "NTE" and previous in ("OBX", "NTE") and results:
            results[-1].notes.append(note_text(segment))
        if segment.name != "NTE":
            previous = segment.name
    return results


def _account_merges(ctx: Context) -> None:
    """A41: each PID (its account PID-18 survives) with the MRG after it (MRG-3, the account merged away)."""
    for pid, group, mrg in _patient_groups(ctx, "an account merge"):
        if map_patient(ctx, pid, next((s for s in group if s.name == "PD1"), None)) is None:
            continue
        pv1 = next((s for s in group if s.name == "PV1"), None)
        if pv1 is not None:
            map_encounter(ctx, pv1, next((s for s in group if s.name == "PV2"), None), trigger=ACCOUNT_MERGE_TRIGGER)
        if not pid.rep(18).c(1):
            ctx.issue(pid, 18, REQUIRED_FIELD_MISSING, "PID-18 (the surviving account) is required", fatal=True)
            continue
        merged = cx_identifier(mrg.rep(3), default_system=ctx.sender_system) if mrg.rep(3).c(1) else None
        if merged is None:
            ctx.issue(mrg, 3, REQUIRED_FIELD_MISSING, "MRG-3 (the account merged away) is required", fatal=True)
            continue
        map_account(ctx, pid, ACCOUNT_MERGE_TRIGGER, [], create_only=True)
        survivor = cx_identifier(pid.rep(18), default_system=ctx.sender_system) or {}
        keys = [Key("Account", item.get("system") or ctx.sender_system, item["value"]) for item in (survivor, merged)]
        if keys[0] != keys[1]:
            ctx.account_merges.append(AccountMerge(keys[0].readable_query, keys[1].readable_query,
                                                   ctx.subject.key.readable_query if ctx.subject else ""))


def _visit_moves(ctx: Context) -> None:
    """A45: each MRG (previous patient MRG-1, previous visit number MRG-5) with the PV1 after it (the visit)."""
    segments = ctx.message.segments
    pid = ctx.message.first("PID")
    if not require_segment(ctx, pid, "PID"):
        return
    subject = map_patient(ctx, pid, ctx.message.first("PD1"))
    mrgs = [segment for segment in segments if segment.name == "MRG"]
    if not require_segment(ctx, mrgs[0] if mrgs else None, "MRG") or subject is None:
        return
    for mrg in mrgs:
        pv1 = segments[mrg.index + 1] if mrg.index + 1 < len(segments) else None
        if pv1 is None or pv1.name != "PV1":
            ctx.issue(mrg, 1, SEGMENT_SEQUENCE_ERROR, "each MRG of a visit move needs the visit's PV1 after it",
                      fatal=True)
            continue
        previous = identifier_key(mrg.reps(1), ctx.sender_system)
        if previous is None:
            ctx.issue(mrg, 1, REQUIRED_FIELD_MISSING, "MRG-1 (the visit's previous patient) is required", fatal=True)
            continue
        if not pv1.rep(19).c(1):
            ctx.issue(pv1, 19, REQUIRED_FIELD_MISSING, "PV1-19 (the visit number) is required", fatal=True)
            continue
        visit = visit_key(ctx, pv1)
        map_encounter(ctx, pv1, None, trigger=MOVE_TRIGGER)
        prior = mrg.rep(5)
        old_visit = Key("Encounter", hd_system(prior.comp(4)) or ctx.sender_system, prior.c(1)) if prior.c(1) else None
        if old_visit is not None and old_visit != visit:
            _record_change(ctx, old_visit, visit, "MRG-5", "PV1-19")
        # checked before any write: the visit must be one of the two patients' (nothing moves when they are one)
        ctx.visit_moves.append(VisitMove(visit.readable_query, previous[0].readable_query,
                                             subject.key.readable_query,
                                             old_visit.readable_query if old_visit is not None else None))


def _deletion(ctx: Context) -> None:
    """A29: the PID patient goes (nothing of it is written: the message only names it)."""
    pid = ctx.message.first("PID")
    if not require_segment(ctx, pid, "PID"):
        return
    found = identifier_key(pid.reps(3), ctx.sender_system)
    if found is None:
        ctx.issue(pid, 3, REQUIRED_FIELD_MISSING, "PID-3 (the patient to delete) is required", fatal=True)
        return
    ctx.patient_deletions.append(PatientDeletion(found[0].readable_query))


def _links(ctx: Context, linked: bool) -> None:
    """A24/A37: the two PID patients (each with its PD1 and PV1) are, or are no longer, one person's records."""
    segments = ctx.message.segments
    pids = [segment.index for segment in segments if segment.name == "PID"]
    if len(pids) != 2:
        ctx.issues.append(MappingIssue("PID", max(1, len(pids)), None, SEGMENT_SEQUENCE_ERROR,
                                       f"a {'link' if linked else 'unlink'} names exactly two patients", "E"))
        return
    subjects = []
    for number, start in enumerate(pids):
        group = segments[start:pids[1] if number == 0 else len(segments)]
        subject = map_patient(ctx, group[0], next((s for s in group if s.name == "PD1"), None))
        pv1 = next((s for s in group if s.name == "PV1"), None)
        if subject is not None and pv1 is not None and pv1.rep(19).c(1):  # no visit keyed by the message alone
            map_encounter(ctx, pv1, None, trigger="A24" if linked else "A37")
        subjects.append(subject)
    if subjects[0] is not None and subjects[1] is not None and subjects[0].key != subjects[1].key:
        ctx.patient_links.append(PatientLink(subjects[0].key.readable_query, subjects[1].key.readable_query, linked))


def _swap(ctx: Context) -> None:
    """A17: each of the two patients' visits moves to the location its PV1 names."""
    segments = ctx.message.segments
    pids = [segment.index for segment in segments if segment.name == "PID"]
    if len(pids) != 2:
        ctx.issues.append(MappingIssue("PID", max(1, len(pids)), None, SEGMENT_SEQUENCE_ERROR,
                                       "a swap (A17) names exactly two patients, each PID with its PV1", "E"))
        return
    for number, start in enumerate(pids):
        group = segments[start:pids[number + 1] if number == 0 else len(segments)]
        pv1 = next((s for s in group if s.name == "PV1"), None)
        if not require_segment(ctx, pv1, "PV1"):
            continue
        if map_patient(ctx, group[0], next((s for s in group if s.name == "PD1"), None)) is not None:
            map_encounter(ctx, pv1, next((s for s in group if s.name == "PV2"), None), trigger=SWAP_TRIGGER)
            map_results(ctx, _results(group), (ctx.sender_system, f"message^{ctx.header.control_id}^{number}"))


def _patient_groups(ctx: Context, kind: str) -> list[tuple[Segment, list[Segment], Segment]]:
    """Each PID with the segments up to the next PID and the MRG among them (an error for a PID without)."""
    segments = ctx.message.segments
    pids = [i for i, segment in enumerate(segments) if segment.name == "PID"]
    if not pids:
        require_segment(ctx, None, "PID")
    groups = []
    for number, index in enumerate(pids):
        end = pids[number + 1] if number + 1 < len(pids) else len(segments)
        group = segments[index:end]
        mrg = next((segment for segment in group if segment.name == "MRG"), None)
        if mrg is None:
            ctx.issues.append(MappingIssue("MRG", number + 1, None, SEGMENT_SEQUENCE_ERROR,
                                           f"each PID of {kind} message needs an MRG segment after it", "E"))
            continue
        groups.append((segments[index], group, mrg))
    return groups


def _identifier_changes(ctx: Context, trigger: str) -> None:
    """Upsert each PID's patient (and PV1's visit for A50) by its new identifier; record the correction."""
    for pid, group, mrg in _patient_groups(ctx, "an identifier change"):
        subject = map_patient(ctx, pid, next((s for s in group if s.name == "PD1"), None))
        if subject is None:
            continue
        if trigger in PATIENT_IDENTIFIER_TRIGGERS:
            old = identifier_key(mrg.reps(1), ctx.sender_system)
            if old is None:
                ctx.issue(mrg, 1, REQUIRED_FIELD_MISSING, "MRG-1 (prior patient identifier list) is required",
                          fatal=True)
            elif old[0] != subject.key:
                _record_change(ctx, old[0], subject.key, "MRG-1", "PID-3")
            continue
        pv1 = next((s for s in group if s.name == "PV1"), None)
        if not require_segment(ctx, pv1, "PV1"):
            continue
        if not pv1.rep(19).c(1):
            ctx.issue(pv1, 19, REQUIRED_FIELD_MISSING, "PV1-19 (the new visit number) is required", fatal=True)
            continue
        new = visit_key(ctx, pv1)
        map_encounter(ctx, pv1, next((s for s in group if s.name == "PV2"), None), trigger=trigger)
        prior = mrg.rep(5)
        if not prior.c(1):
            ctx.issue(mrg, 5, REQUIRED_FIELD_MISSING, "MRG-5 (prior visit number) is required", fatal=True)
            continue
        old_key = Key("Encounter", hd_system(prior.comp(4)) or ctx.sender_system, prior.c(1))
        if old_key != new:
            _record_change(ctx, old_key, new, "MRG-5", "PV1-19")


def _record_change(ctx: Context, old: Key, new: Key, old_field: str, new_field: str) -> None:
    identifier = {"system": new.system, "value": new.value}
    ctx.identifier_changes.append(IdentifierChange(new.resource_type, old.readable_query, (old.system, old.value),
                                                   new.readable_query, identifier, old_field, new_field))


def _merges(ctx: Context) -> None:
    """Each PID (survivor) with the MRG after it (merged away): upsert the survivor, record the merge."""
    for pid, group, mrg in _patient_groups(ctx, "a merge"):
        subject = map_patient(ctx, pid, next((s for s in group if s.name == "PD1"), None))
        merged = merge_queries(ctx, mrg)
        if subject is not None and merged:
            survivor = subject.key.readable_query
            if merged[0] == survivor:
                ctx.issue(mrg, 1, SEGMENT_SEQUENCE_ERROR, "MRG-1 names the surviving patient itself",
                          fatal=True)
                continue
            ctx.merges.append(Merge(survivor=survivor, merged=merged[0],
                                    alternatives=tuple(q for q in merged[1:] if q != survivor)))
