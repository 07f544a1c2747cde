"""Value objects shared by parsing, mapping and acknowledgement."""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

from adapters.hl7v2.errors import MappingIssue

if TYPE_CHECKING:  # pragma: no cover
    from adapters.hl7v2.tree import Segment


@dataclass(frozen=True)
class Encoding:
    """The message's delimiters (MSH-1 and MSH-2)."""

    field: str = "|"
    component: str = "^"
    repetition: str = "~"
    escape: str = "\\"
    subcomponent: str = "&"
    truncation: str | None = None

    @property
    def characters(self) -> str:
        """MSH-2 as it must be written."""
        return self.component + self.repetition + self.escape + self.subcomponent + (self.truncation or "")


@dataclass(frozen=True)
class MessageHeader:
    """The MSH segment; HD-valued fields keep their raw (escaped) text so an ACK can mirror them."""

    field_separator: str
    encoding_characters: str
    sending_application: str
    sending_facility: str
    receiving_application: str
    receiving_facility: str
    message_type: str
    trigger_event: str
    message_structure: str | None
    control_id: str
    processing_id: str
    version: str
    timestamp: str | None
    character_set: str | None = None  # MSH-18 as sent (its first repetition), e.g. `8859/1`


@dataclass
class ParsedMessage:
    """A parsed message: header, normalized text, the python-hl7 tree and an indexed segment view."""

    header: MessageHeader
    text: str
    encoding: Encoding
    segments: list[Segment]
    warnings: list[MappingIssue] = field(default_factory=list)

    @cached_property
    def hl7(self) -> Any:
        """The message as a python-hl7 `hl7.Message` (built on first use)."""
        import hl7

        return hl7.parse(self.text)

    def first(self, name: str) -> Segment | None:
        """The first segment with this id, or None."""
        for segment in self.segments:
            if segment.name == name:
                return segment
        return None

    def all(self, name: str) -> list[Segment]:
        """Every segment with this id, in message order."""
        return [segment for segment in self.segments if segment.name == name]


@dataclass
class Merge:
    """ADT A34/A39/A40 merge instruction, executed by the feed service."""

    survivor: str
    merged: str  # the key of the patient merged away (its MRG-1 medical record number)
    alternatives: tuple[str, ...] = ()  # its other MRG-1 identifiers, tried when the key names no one


@dataclass
class IdentifierChange:
    """ADT A47 (patient) or A50 (visit) identifier correction, executed by the feed service before the Bundle."""

    resource_type: str
    old_query: str  # names the record by the identifier the message retires (MRG-1 / MRG-5)
    old: tuple[str, str]  # that identifier's (system, value)
    new_query: str  # the record's key from now on (PID-3 / PV1-19)
    new_identifier: dict[str, Any]
    old_field: str
    new_field: str


@dataclass
class StatusChange:
    """A status a message sets on a resource it names but does not carry (MDM T09/T10: the replaced document)."""

    resource_type: str
    query: str
    status: str
    from_statuses: tuple[str, ...]
    patient_query: str | None = None  # the resource must belong to this patient


@dataclass
class PatientDeletion:
    """ADT A29: the PID patient's record was registered in error and goes. Executed by the feed service."""

    patient_query: str


@dataclass
class PatientLink:
    """ADT A24 (link) or A37 (unlink): the two PID patients are (no longer) records of one person. Executed by
    the feed service after the Bundle."""

    first_query: str
    second_query: str
    linked: bool


@dataclass
class AccountMerge:
    """ADT A41: the account MRG-3 names merges into the PID-18 account. Executed by the feed service after the
    Bundle."""

    survivor_query: str
    merged_query: str
    patient_query: str = ""  # both accounts must be this patient's


@dataclass
class VisitMove:
    """ADT A45: the visit (by its number) now belongs to the message's patient; what was recorded in it about the
    previous patient (MRG-1) follows it. Executed by the feed service after the Bundle."""

    visit_query: str
    from_patient_query: str
    to_patient_query: str = ""
    old_visit_query: str | None = None


@dataclass(frozen=True)
class UpdateRule:
    """How an upserted resource changes the stored one beyond its content (HL7 v2 `""` deletes a value)."""

    cleared: frozenset[str] = frozenset()  # FHIR elements the message deleted, e.g. `address`, `period.end`
    reopens: frozenset[str] = frozenset()  # closed Encounter statuses the message may reopen
    unsent: frozenset[str] = frozenset()  # `element:use` (`element:!use`) entries of a field not sent
    placeholders: frozenset[str] = frozenset()  # elements sent only as FHIR requires them: a stored value wins


@dataclass
class MappingResult:
    """A message as FHIR: one transaction Bundle, merges to perform, non-fatal issues, update rules."""

    bundle: dict[str, Any]
    merges: list[Merge] = field(default_factory=list)
    identifier_changes: list[IdentifierChange] = field(default_factory=list)
    status_changes: list[StatusChange] = field(default_factory=list)
    visit_moves: list[VisitMove] = field(default_factory=list)
    account_merges: list[AccountMerge] = field(default_factory=list)
    patient_links: list[PatientLink] = field(default_factory=list)
    patient_deletions: list[PatientDeletion] = field(default_factory=list)
    provenance_template: dict[str, Any] | None = None  # when the Bundle has no Provenance of its own
    warnings: list[MappingIssue] = field(default_factory=list)
    updates: dict[str, UpdateRule] = field(default_factory=dict)  # per Bundle entry fullUrl
