"""Per-message mapping state: the sender, the Bundle being built, collected issues, shared references."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from adapters.hl7v2.bundle import BundleBuilder
from adapters.hl7v2.datatypes.identifiers import hd_label, hd_system
from adapters.hl7v2.datatypes.time import Dtm, fhir_date, fhir_datetime, fhir_instant, offset_of, parse_dtm
from adapters.hl7v2.errors import DATA_TYPE_ERROR, REQUIRED_FIELD_MISSING, MappingIssue
from adapters.hl7v2.identity import Key, authority_system, source_uri
from adapters.hl7v2.model import (AccountMerge, IdentifierChange, Merge, ParsedMessage, PatientDeletion, PatientLink,
                                  StatusChange, UpdateRule, VisitMove)
from adapters.hl7v2.tree import HL7_NULL, Segment


@dataclass
class Subject:
    """The patient a group of segments is about."""

    key: Key
    full_url: str
    display: str = ""


class Context:
    """Everything the segment translators of one message share."""

    def __init__(self, message: ParsedMessage, *, raw_message_id: str, received_at: str):
        self.message = message
        self.header = message.header
        self.raw_message_id = raw_message_id
        self.received_at = received_at
        msh = message.segments[0]
        self.sender_application = hd_label(msh.rep(3))
        self.sender_facility = hd_label(msh.rep(4))
        self.sender_system = (hd_system(msh.rep(4)) or hd_system(msh.rep(3))
                              or authority_system("unknown"))
        self.receiver_system = (hd_system(msh.rep(6)) or hd_system(msh.rep(5))
                                or authority_system("unknown"))
        self.sender_places_orders = False  # ORM/OML: the sender assigns placer numbers, else filler numbers
        self.offset = offset_of(self.header.timestamp)
        self.builder = BundleBuilder(source_uri(self.sender_application, self.sender_facility))
        self.issues: list[MappingIssue] = []
        self.warnings: list[MappingIssue] = list(message.warnings)
        self.merges: list[Merge] = []
        self.identifier_changes: list[IdentifierChange] = []
        self.status_changes: list[StatusChange] = []
        self.visit_moves: list[VisitMove] = []
        self.account_merges: list[AccountMerge] = []
        self.patient_links: list[PatientLink] = []
        self.patient_deletions: list[PatientDeletion] = []
        self.updates: dict[str, UpdateRule] = {}
        self.attached: set[int] = set()  # ids of OBX segments whose ED value a report carries as presentedForm
        self.subject: Subject | None = None
        self.encounter: str | None = None
        self.owns_patient = False  # True for ADT: Patient/Encounter are PUT, else created only if missing
        self.owned: frozenset[str] = frozenset()  # segment-borne types the sender may update (else create only)

    # -- issues -----------------------------------------------------------------------------------------
    def issue(self, segment: Segment, field: int | None, code: str, text: str, *, fatal: bool) -> None:
        """Record an error (fatal: the message is answered AE) or a warning."""
        item = MappingIssue(segment.name, segment.sequence, field, code, text, "E" if fatal else "W")
        (self.issues if fatal else self.warnings).append(item)

    def require(self, segment: Segment, field: int, what: str) -> bool:
        """True when the field is valued, else record a fatal 101 issue."""
        if segment.has(field):
            return True
        self.issue(segment, field, REQUIRED_FIELD_MISSING, f"{segment.name}-{field} ({what}) is required", fatal=True)
        return False

    # -- dates --------------------------------------------------------------------------------------------
    def dtm(self, segment: Segment, field: int, comp: int = 1, *, fatal: bool = False,
            text: str | None = None) -> Dtm | None:
        """The parsed date/time in a field (None when empty or invalid; invalid values are reported)."""
        raw = segment.get(field, comp) if text is None else text
        raw = raw.split(segment.enc.subcomponent, 1)[0].strip()  # TS.1 when a TS sits inside a component
        if not raw:
            return None
        try:
            return parse_dtm(raw)
        except ValueError:
            self.issue(segment, field, DATA_TYPE_ERROR, f"{segment.name}-{field} is not a valid HL7 date/time",
                       fatal=fatal)
            return None

    def datetime(self, segment: Segment, field: int, comp: int = 1, *, fatal: bool = False,
                 text: str | None = None) -> str | None:
        """FHIR dateTime of a field at the precision sent."""
        value = self.dtm(segment, field, comp, fatal=fatal, text=text)
        return fhir_datetime(value, self.offset) if value else None

    def date(self, segment: Segment, field: int, comp: int = 1, *, fatal: bool = False) -> str | None:
        """FHIR date of a field at the precision sent (time dropped)."""
        value = self.dtm(segment, field, comp, fatal=fatal)
        return fhir_date(value) if value else None

    def instant(self, segment: Segment, field: int, comp: int = 1, *, text: str | None = None) -> str | None:
        """FHIR instant of a field; None (with no issue) when the value has no time of day."""
        value = self.dtm(segment, field, comp, text=text)
        return fhir_instant(value, self.offset) if value else None

    # -- resources ------------------------------------------------------------------------------------
    def upsert(self, key: Key, resource: dict[str, Any], *, create_only: bool = False) -> str:
        """Add a keyed resource to the Bundle; returns its fullUrl."""
        return self.builder.upsert(key, resource, create_only=create_only)

    def owns(self, resource_type: str) -> bool:
        """Whether this message may update (not only create) a resource of this type it carries."""
        return resource_type in self.owned

    def note_update(self, full_url: str, segment: Segment, elements: dict[int, tuple[str, ...]], *,
                    reopens: frozenset[str] = frozenset(), parts: dict[int, str] | None = None,
                    clears: frozenset[str] = frozenset()) -> None:
        """Record which elements the message deletes (fields sent as `""`, and `clears` by its event), what it
        may reopen, and which `parts` (`element:use` filled by one field of a shared list) it left unsent."""
        cleared = clears | frozenset(name for n, names in elements.items() if segment.raw(n).strip() == HL7_NULL
                                     for name in names)
        unsent = frozenset(part for n, part in (parts or {}).items() if not segment.raw(n).strip())
        if cleared or reopens or unsent:
            known = self.updates.get(full_url, UpdateRule())
            self.updates[full_url] = UpdateRule(known.cleared | cleared, known.reopens | reopens,
                                                known.unsent | unsent, known.placeholders)

    def note_placeholders(self, full_url: str, *elements: str) -> None:
        """Record elements sent only because FHIR requires them: what the store holds for them wins."""
        known = self.updates.get(full_url, UpdateRule())
        self.updates[full_url] = UpdateRule(known.cleared, known.reopens, known.unsent,
                                            known.placeholders | frozenset(elements))

    def assigner(self, role: str) -> str:
        """Default identifier system for placer/filler numbers without an assigning authority.

        The placer number belongs to the ordering side and the filler number to the performing side, so
        the default follows the message direction and stays the same in the order and in its result.
        """
        sender_role = "placer" if self.sender_places_orders else "filler"
        return self.sender_system if role == sender_role else self.receiver_system

    def patient_ref(self) -> dict[str, Any] | None:
        """Reference to the current subject Patient."""
        if self.subject is None:
            return None
        ref: dict[str, Any] = {"reference": self.subject.full_url}
        if self.subject.display:
            ref["display"] = self.subject.display
        return ref

    def encounter_ref(self) -> dict[str, Any] | None:
        """Reference to the current Encounter, if any."""
        return {"reference": self.encounter} if self.encounter else None
