"""HL7 v2 as a feed: the engine's MessageTranslator port implemented with adapters.hl7v2."""
from __future__ import annotations

from functools import lru_cache

from engine.feeds.model import FeedIssue, FeedOutcome, MessageIdentity, TranslatedMessage
from engine.feeds.ports import MessageTranslator, UnreadableMessage, UntranslatableMessage
from engine.services.account_merges import AccountMerge
from engine.services.feed_updates import EntryUpdate
from engine.services.identifier_changes import IdentifierChange
from engine.services.patient_deletions import PatientDeletion
from engine.services.patient_links import PatientLink
from engine.services.status_changes import StatusChange
from engine.services.visit_moves import VisitMove
from adapters import hl7v2


@lru_cache(maxsize=32)
def _parsed(raw: bytes) -> hl7v2.ParsedMessage:
    """Parse once per message even though identify, translate and acknowledge all need it."""
    return hl7v2.parse_message(raw)


def _issue(issue: hl7v2.MappingIssue) -> FeedIssue:
    return FeedIssue(issue.segment, issue.sequence, issue.field, issue.code, issue.text, issue.severity)


def _identity(header: hl7v2.MessageHeader) -> MessageIdentity:
    sender = f"{header.sending_application}|{header.sending_facility}"
    return MessageIdentity(sender, header.control_id, f"{header.message_type}^{header.trigger_event}",
                           institution=header.sending_facility or header.sending_application or None)


class Hl7v2Translator(MessageTranslator):
    """Parses with python-hl7 and maps with the v2-to-FHIR translators."""

    channel = "hl7v2"

    def identify(self, raw: bytes) -> MessageIdentity:
        try:
            header = _parsed(raw).header
        except hl7v2.Hl7ParseError as exc:
            readable = hl7v2.readable_header(raw)  # e.g. a batch: its first header still names the sender
            raise UnreadableMessage(exc.reason, _identity(readable) if readable else None) from exc
        identity = _identity(header)
        for number, value in ((3, header.sending_application), (4, header.sending_facility),
                              (9, f"{header.message_type}^{header.trigger_event}"), (10, header.control_id)):
            if "\x00" in value:  # the message log keeps such a value with U+FFFD in place of NUL
                reason = f"MSH-{number} contains the NUL character (U+0000)"
                raise UnreadableMessage(reason, identity, issue=FeedIssue("MSH", 1, number, "102", reason))
        return identity

    def translate(self, raw: bytes, *, message_id: int, received: str) -> TranslatedMessage:
        try:
            message = _parsed(raw)
            result = hl7v2.map_message(message, raw_message_id=str(message_id), received_at=received)
        except hl7v2.Hl7ParseError as exc:
            raise UnreadableMessage(exc.reason) from exc
        except hl7v2.UnsupportedMessage as exc:
            raise UnreadableMessage(exc.reason, issue=FeedIssue("MSH", 1, exc.field, exc.code, exc.reason)) from exc
        except hl7v2.MappingError as exc:
            raise UntranslatableMessage([_issue(i) for i in exc.issues]) from exc
        updates = {url: EntryUpdate(rule.cleared, rule.reopens, rule.unsent, rule.placeholders)
                   for url, rule in result.updates.items()}
        merges = [(m.survivor, (m.merged, *m.alternatives)) for m in result.merges]
        changes = [IdentifierChange(c.resource_type, c.old_query, c.old, c.new_query, c.new_identifier, c.old_field,
                                    c.new_field) for c in result.identifier_changes]
        statuses = [StatusChange(c.resource_type, c.query, c.status, c.from_statuses, c.patient_query)
                    for c in result.status_changes]
        moves = [VisitMove(m.visit_query, m.from_patient_query, m.to_patient_query, m.old_visit_query)
                 for m in result.visit_moves]
        accounts = [AccountMerge(m.survivor_query, m.merged_query, patient_query=m.patient_query)
                    for m in result.account_merges]
        links = [PatientLink(link.first_query, link.second_query, link.linked) for link in result.patient_links]
        deletions = [PatientDeletion(d.patient_query) for d in result.patient_deletions]
        return TranslatedMessage(result.bundle, merges, [_issue(w) for w in result.warnings], updates, changes,
                                 statuses, moves, accounts, links, deletions, result.provenance_template)

    def same_content(self, first: bytes, second: bytes) -> bool:
        """A re-send repeats every segment, whatever its segment endings and framing; MSH-7 may be renewed."""
        return first == second or hl7v2.resend_key(first) == hl7v2.resend_key(second)


def acknowledgement(raw: bytes, outcome: FeedOutcome, control_id: str) -> bytes:
    """The HL7 ACK for an outcome, mirroring the sender's MSH when the message could be read."""
    try:
        header: hl7v2.MessageHeader | None = _parsed(raw).header
    except hl7v2.Hl7ParseError:
        header = hl7v2.readable_header(raw)
    issues = [hl7v2.MappingIssue(i.segment, i.sequence, i.field, i.code, i.text, i.severity) for i in outcome.issues]
    text = {"AA": "duplicate message, already processed" if outcome.duplicate else None,
            "AE": "message rejected: see ERR", "AR": "message refused: see ERR"}.get(outcome.ack_code)
    return hl7v2.build_ack(header, outcome.ack_code, issues=issues, text=text, control_id=control_id,
                           received=raw)
