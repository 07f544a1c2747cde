"""Value objects of the feed pipeline."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from engine.services.account_merges import AccountMerge
from engine.services.feed_updates import EntryUpdate
from engine.services.identifier_changes import IdentifierChange
from engine.services.patient_deletions import PatientDeletion
from engine.services.patient_links import PatientLink
from engine.services.status_changes import StatusChange
from engine.services.visit_moves import VisitMove


@dataclass(frozen=True)
class FeedIssue:
    """One problem in an inbound message, located HL7-style (segment, occurrence, field)."""

    segment: str
    sequence: int
    field: int | None
    code: str
    text: str
    severity: str = "E"


@dataclass(frozen=True)
class MessageIdentity:
    """What identifies a message for duplicate detection and the message log."""

    sender: str
    control_id: str
    message_type: str
    institution: str | None = None  # the sending facility: owner of what the message writes


@dataclass
class TranslatedMessage:
    """A message as FHIR: one transaction Bundle, patient merges, identifier corrections, status changes of
    resources it names, and how it updates what exists."""

    bundle: dict[str, Any]
    merges: list[tuple[str, tuple[str, ...]]] = field(default_factory=list)  # (survivor, merged: key first)
    warnings: list[FeedIssue] = field(default_factory=list)
    updates: dict[str, EntryUpdate] = field(default_factory=dict)  # per entry fullUrl: deletions, reopening
    identifier_changes: list[IdentifierChange] = field(default_factory=list)  # applied before the Bundle
    status_changes: list[StatusChange] = field(default_factory=list)  # applied after it
    visit_moves: list[VisitMove] = field(default_factory=list)  # applied after it
    account_merges: list[AccountMerge] = field(default_factory=list)  # applied after it
    patient_links: list[PatientLink] = field(default_factory=list)  # applied after it
    patient_deletions: list[PatientDeletion] = field(default_factory=list)  # applied after it
    provenance: dict[str, Any] | None = None  # what records those writes when the Bundle has no Provenance


@dataclass(frozen=True)
class RawMessage:
    """A stored inbound message (the error queue is the subset with status failed, rejected or truncated)."""

    message_id: int
    received_us: int
    channel: str
    peer: str | None
    sender: str | None
    control_id: str | None
    message_type: str | None
    status: str  # received | processed | duplicate | failed | rejected | truncated
    reason: str | None
    raw: bytes


@dataclass(frozen=True)
class FeedOutcome:
    """The result of receiving one message, enough to acknowledge it."""

    ack_code: str  # AA | AE | AR
    message_id: int | None
    identity: MessageIdentity | None
    issues: list[FeedIssue] = field(default_factory=list)
    duplicate: bool = False
    resources: int = 0
