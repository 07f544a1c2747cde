"""What a caller may see of identity state: golden records, links and review items, filtered by visibility."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from engine.errors import ResourceNotFound
from engine.fhir.validation import ID_PATTERN
from engine.identity.golden import golden_patient
from engine.identity.ports import Link, Pair
from engine.identity.service import IdentityService
from engine.identity.survivorship import SurvivorshipPolicy
from engine.security.caller import Caller
from engine.store.model import StoredResource


def patient_id(reference: str) -> str:
    """The id of `Patient/{id}` or a bare id; 404 when it cannot be a FHIR id."""
    wanted = reference.split("/", 1)[1] if reference.startswith("Patient/") else reference
    if not ID_PATTERN.fullmatch(wanted):
        raise ResourceNotFound(f"Patient/{wanted[:64]} is not known")
    return wanted


@dataclass
class Resolved:
    """A golden record and the members the caller may see (most recently updated last)."""

    golden_id: str
    members: list[StoredResource]
    links: dict[str, Link]
    survivorship: SurvivorshipPolicy | None = None

    @property
    def member_ids(self) -> list[str]:
        """Ids of the visible members."""
        return [m.resource_id for m in self.members]

    def golden(self) -> dict[str, Any]:
        """The golden Patient computed over the visible members only (what this caller may see of it)."""
        institutions = {pid: link.institution for pid, link in self.links.items()}
        return golden_patient(self.golden_id, self.members, self.survivorship, institutions)


def visible_patients(service: IdentityService, ids: list[str], caller: Caller) -> dict[str, StoredResource]:
    """The Patients among `ids` the caller may see."""
    with service.store.unit_of_work(read_only=True, visibility=caller.visibility) as uow:
        return {s.resource_id: s for s in uow.read_many(("Patient", i) for i in ids)}


def resolve(service: IdentityService, reference: str, caller: Caller) -> Resolved:
    """The golden record of a member or golden id, with its visible members; 404 when nothing is visible."""
    service.sync()
    wanted = patient_id(reference)
    link = service.repo.links([wanted]).get(wanted)
    if link is not None:
        if wanted not in visible_patients(service, [wanted], caller):
            raise ResourceNotFound(f"Patient/{wanted} is not known")
        golden_id = link.golden_id
    else:
        golden_id = wanted  # a golden id, when it has members
    member_ids = service.repo.members([golden_id]).get(golden_id, [])
    seen = visible_patients(service, member_ids, caller)
    if not seen:
        raise ResourceNotFound(f"Patient/{wanted} is not known")
    members = sorted(seen.values(), key=lambda s: (s.last_updated_us, s.resource_id))
    return Resolved(golden_id, members, service.repo.links(list(seen)), service.survivorship)


def golden_records(service: IdentityService, caller: Caller, *, offset: int, count: int) -> tuple[list[dict], bool]:
    """One page of golden records with their visible members; and whether more pages follow."""
    service.sync()
    ids = service.repo.golden_page(offset, count)
    members = service.repo.members(ids)
    seen = visible_patients(service, [m for group in members.values() for m in group], caller)
    items = []
    for golden_id in ids:
        visible = [f"Patient/{m}" for m in members.get(golden_id, []) if m in seen]
        if visible:
            items.append({"id": f"Patient/{golden_id}", "members": visible})
    return items, len(ids) == count


def link_view(service: IdentityService, reference: str, caller: Caller) -> dict[str, Any]:
    """A Patient's golden record: visible members with their link evidence, and scored pairs among them."""
    found = resolve(service, reference, caller)
    visible = set(found.member_ids)
    members = []
    for stored in found.members:
        link = found.links.get(stored.resource_id)
        if link is None:
            continue
        members.append({"patient": stored.key, "institution": link.institution, "decision": link.decision,
                        "probability": link.probability, "manual": link.manual,
                        "explanation": _visible_explanation(link.explanation, visible),
                        "actor": link.actor, "reason": link.reason, "updated": link.updated_us})
    pairs = [pair_view(p) for p in service.repo.pairs_touching(visible)
             if p.left_id in visible and p.right_id in visible]
    golden = found.golden()
    return {"patient": f"Patient/{patient_id(reference)}", "golden": f"Patient/{found.golden_id}",
            "goldenRecord": golden, "members": members, "pairs": pairs}


def _visible_explanation(explanation: dict[str, Any], visible: set[str]) -> dict[str, Any]:
    other = explanation.get("other")
    if isinstance(other, str) and patient_id(other) not in visible:
        return {k: v for k, v in explanation.items() if k not in ("other", "pair")}
    return explanation


def pair_view(pair: Pair) -> dict[str, Any]:
    """A pair as the API shows it."""
    return {"id": pair.pair_id, "patients": [f"Patient/{pair.left_id}", f"Patient/{pair.right_id}"],
            "probability": pair.probability, "decision": pair.decision, "manual": pair.manual,
            "explanation": pair.explanation, "actor": pair.actor, "reason": pair.reason, "updated": pair.updated_us}


def review_items(service: IdentityService, caller: Caller, *, limit: int) -> list[dict[str, Any]]:
    """Undecided "possible" pairs whose both Patients the caller may see."""
    service.sync()
    pairs = service.repo.review_queue(limit)
    seen = visible_patients(service, [x for p in pairs for x in (p.left_id, p.right_id)], caller)
    return [pair_view(p) for p in pairs if p.left_id in seen and p.right_id in seen]
