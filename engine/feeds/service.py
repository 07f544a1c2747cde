"""Receive one inbound message: store it raw, translate, write it atomically, say how to acknowledge."""
from __future__ import annotations

import logging
from typing import Any

from engine.errors import BundleEntryError, TesseraError, VersionConflict
from engine.feeds.model import FeedIssue, FeedOutcome, MessageIdentity, RawMessage
from engine.feeds.ports import MessageTranslator, UnreadableMessage, UntranslatableMessage
from engine.fhir.dates import format_instant
from engine.security.caller import Caller
from engine.services.account_merges import merge_accounts
from engine.services.bundles import BundleService
from engine.services.feed_updates import FeedUpdates
from engine.services.identifier_changes import change_identifier
from engine.services.status_changes import change_status
from engine.services.visit_moves import check_visit_move, move_visit
from engine.services.merges import merge_patients
from engine.services.patient_deletions import delete_patient
from engine.services.patient_links import link_patients
from engine.services.writes import Clock
from engine.store.ports import ResourceStore, UnitOfWork

log = logging.getLogger("tessera.feeds")
FAILED_STATUSES = ("failed", "rejected", "truncated")  # the error queue
RETRIED_STATUSES = ("failed", "rejected")  # what a replay without ids re-runs (and stuck `received` ones)
REPLAYABLE_STATUSES = ("failed", "rejected", "received")  # received: named by id, or stuck
# a message refused for its size is kept only in part: it can be read in the queue, never replayed
TRUNCATED = "truncated"
REPLAY_PAGE = 500
# a re-send is compared with the latest messages processed under its control id, so a sender that uses one
# control id for everything costs a bounded amount per message
RESEND_WINDOW = 20
STUCK_AFTER_US = 300_000_000  # a message still `received` this long after it arrived never finished


class FeedService:
    """The nothing-lost pipeline: raw message durable first, then resources and status in one transaction."""

    def __init__(self, store: ResourceStore, bundles: BundleService, translator: MessageTranslator, clock: Clock):
        self.store = store
        self.bundles = bundles
        self.translator = translator
        self.clock = clock

    def receive(self, raw: bytes, *, peer: str | None = None) -> FeedOutcome:
        """Process one message end to end and return the acknowledgement to send."""
        received = self.clock()
        try:
            identity = self.translator.identify(raw)
        except UnreadableMessage as exc:
            message_id = self._store_raw(raw, received, peer, exc.identity, "rejected", exc.reason)
            return FeedOutcome("AR", message_id, exc.identity, [exc.issue])
        with self.store.unit_of_work() as uow:  # one connection for both transactions of the message
            message_id, duplicate = uow.add_message_once(received_us=received, channel=self.translator.channel,
                                                         peer=peer, identity=identity, raw=raw)
            uow.commit()  # the raw message is durable before anything is derived from it
            if duplicate:  # the same bytes: a re-send that differs otherwise is found under the message's lock
                return FeedOutcome("AA", None, identity, duplicate=True)
            return self._process(uow, raw, message_id, received, identity)

    def reject(self, raw: bytes, reason: str, *, peer: str | None = None) -> FeedOutcome:
        """Keep a message refused before processing (e.g. too large: `raw` is its head) in the error queue;
        the AR to send."""
        received = self.clock()
        try:
            identity: MessageIdentity | None = self.translator.identify(raw)
        except UnreadableMessage as exc:
            identity = exc.identity
        message_id = self._store_raw(raw, received, peer, identity, TRUNCATED, reason)
        return FeedOutcome("AR", message_id, identity, [FeedIssue("MSH", 1, None, "207", reason)])

    def replay(self, *, message_ids: list[int] | None = None, limit: int | None = None) -> list[FeedOutcome]:
        """Re-run failed, rejected or never-finished messages (e.g. after a mapping fix), oldest first.

        Without ids, the whole queue is tried once, a page at a time (at most `limit` messages), so
        messages that keep failing never hide newer ones; a message still being processed is left
        alone: only those received more than STUCK_AFTER_US ago and never finished (a crash) count.
        """
        if message_ids:
            with self.store.unit_of_work(read_only=True) as uow:
                found = [uow.message(i) for i in message_ids]
            refused = [FeedOutcome("AR", m.message_id, None, [FeedIssue(
                "MSH", 1, None, "207", f"only part of this message was kept ({m.reason or 'truncated'}): "
                "it cannot be replayed; have the sender send it again")])
                for m in found if m is not None and m.status == TRUNCATED]
            replayable = [m for m in found if m is not None and m.status in REPLAYABLE_STATUSES]
            return refused + [self._replay_one(message) for message in replayable]
        outcomes: list[FeedOutcome] = []
        stuck_before, after_id = self.clock() - STUCK_AFTER_US, 0
        while limit is None or len(outcomes) < limit:
            size = REPLAY_PAGE if limit is None else min(REPLAY_PAGE, limit - len(outcomes))
            with self.store.unit_of_work(read_only=True) as uow:
                page = uow.messages(statuses=RETRIED_STATUSES, limit=size, after_id=after_id,
                                    stuck_before_us=stuck_before)
            if not page:
                break
            outcomes += [self._replay_one(message) for message in page]
            after_id = page[-1].message_id
        return outcomes

    def failed(self, *, limit: int = 100, after_id: int = 0) -> list[RawMessage]:
        """The error queue: messages that failed, were rejected or never finished, with their reasons."""
        with self.store.unit_of_work(read_only=True) as uow:
            return uow.messages(statuses=FAILED_STATUSES, limit=limit, after_id=after_id,
                                stuck_before_us=self.clock() - STUCK_AFTER_US)

    def _replay_one(self, message: RawMessage) -> FeedOutcome:
        try:
            identity = self.translator.identify(message.raw)
        except UnreadableMessage as exc:
            with self.store.unit_of_work() as uow:
                _set_status(uow, message.message_id, "rejected", exc.reason)
            return FeedOutcome("AR", message.message_id, None, [exc.issue])
        with self.store.unit_of_work() as uow:
            if (message.sender, message.control_id) != (identity.sender, identity.control_id):
                uow.set_message_identity(message.message_id, identity)  # read now (e.g. after a parser fix):
                uow.commit()  # a re-send of it is then a duplicate
            uow.rollback()
            return self._process(uow, message.raw, message.message_id, message.received_us, identity)

    def _process(self, uow: UnitOfWork, raw: bytes, message_id: int, received: int,
                 identity: MessageIdentity) -> FeedOutcome:
        """Translate and write one stored message; `uow` has no open work and is reused for each transaction."""
        try:
            translated = self.translator.translate(raw, message_id=message_id, received=format_instant(received))
        except UnreadableMessage as exc:
            _set_status(uow, message_id, "rejected", exc.reason)
            return FeedOutcome("AR", message_id, identity, [exc.issue])
        except UntranslatableMessage as exc:
            _set_status(uow, message_id, "failed", "; ".join(i.text for i in exc.issues)[:2000])
            return FeedOutcome("AE", message_id, identity, exc.issues)
        source = _source_of(translated.bundle) or ((translated.provenance or {}).get("meta") or {}).get("source")
        for attempt in range(3):  # a concurrent write to the same resources: retry with fresh reads
            try:
                return self._apply(uow, raw, translated, message_id, identity, source)
            except VersionConflict:
                uow.rollback()
                if attempt == 2:
                    issue = FeedIssue("MSH", 1, None, "207", "concurrent updates kept conflicting; retry later")
                    _set_status(uow, message_id, "failed", issue.text)
                    return FeedOutcome("AE", message_id, identity, [issue])
                # the Bundle was rewritten in place (ids, references): translate afresh for the next attempt
                translated = self.translator.translate(raw, message_id=message_id, received=format_instant(received))
        raise AssertionError("unreachable")

    def _already_processed(self, uow: UnitOfWork, raw: bytes, message_id: int,
                           identity: MessageIdentity) -> tuple[FeedOutcome | None, bool]:
        """Inside the message's transaction, after waiting for any copy of it in flight: the answer when this
        message was processed already (same sender, control id and content; by another copy, or by this one),
        else None; and whether a different message was processed under its control id."""
        uow.lock_key(f"hl7-message:{identity.sender}|{identity.control_id}")
        earlier = uow.processed_messages(identity.sender, identity.control_id, RESEND_WINDOW)
        done = next((earlier_id for earlier_id, stored in earlier if self.translator.same_content(raw, stored)), None)
        if done is None:
            return None, bool(earlier)
        if done != message_id:  # the sender re-sent it and that copy went through
            uow.set_message_status(message_id, "duplicate", f"processed as message {done}")
        uow.commit()
        return FeedOutcome("AA", message_id, identity, duplicate=True), False

    def _apply(self, uow: UnitOfWork, raw: bytes, translated: Any, message_id: int, identity: MessageIdentity,
               source: str | None) -> FeedOutcome:
        bundle = translated.bundle
        warnings = list(translated.warnings)
        if identity.control_id:
            done, reused = self._already_processed(uow, raw, message_id, identity)
            if done is not None:
                return done
            if reused:
                warnings.append(FeedIssue("MSH", 1, 10, "205", f"control id {identity.control_id[:60]} was used "
                                          "before by a different message from this sender: processed as a new "
                                          "message", "W"))
        try:
            provenance = _provenance_of(bundle) or translated.provenance
            for move in translated.visit_moves:
                check_visit_move(uow, move, owner=identity.institution)
            count = sum(change_identifier(uow, change, clock=self.clock, source=source, owner=identity.institution,
                                          provenance=provenance) for change in translated.identifier_changes)
            writes = self.bundles.apply_transaction(uow, bundle, source=source,
                                                    caller=Caller.institution_only(identity.institution),
                                                    updates=FeedUpdates(translated.updates))
            count += len(writes)
            for survivor, merged in translated.merges:
                count += merge_patients(uow, survivor_query=survivor, merged_queries=merged, clock=self.clock,
                                        source=source, owner=identity.institution, provenance=provenance)
            count += sum(merge_accounts(uow, merge, clock=self.clock, source=source, owner=identity.institution,
                                        provenance=provenance) for merge in translated.account_merges)
            count += sum(link_patients(uow, link, clock=self.clock, source=source, owner=identity.institution,
                                       provenance=provenance) for link in translated.patient_links)
            count += sum(move_visit(uow, move, clock=self.clock, source=source, owner=identity.institution,
                                    provenance=provenance) for move in translated.visit_moves)
            count += sum(change_status(uow, change, clock=self.clock, source=source, owner=identity.institution,
                                       provenance=provenance) for change in translated.status_changes)
            count += sum(delete_patient(uow, deletion, clock=self.clock, source=source, owner=identity.institution,
                                        provenance=provenance) for deletion in translated.patient_deletions)
            uow.set_message_status(message_id, "processed")
            uow.commit()
        except VersionConflict:
            raise
        except BundleEntryError as exc:
            if isinstance(exc.cause, VersionConflict):
                raise exc.cause from exc
            issues = _issues_from(exc)
            uow.rollback()
            _set_status(uow, message_id, "failed", "; ".join(i.text for i in issues)[:2000])
            log.info("message %s failed: %s", message_id, type(exc).__name__)
            return FeedOutcome("AE", message_id, identity, issues)
        except TesseraError as exc:
            issues = _issues_from(exc)
            uow.rollback()
            _set_status(uow, message_id, "failed", "; ".join(i.text for i in issues)[:2000])
            log.info("message %s failed: %s", message_id, type(exc).__name__)
            return FeedOutcome("AE", message_id, identity, issues)
        except Exception as exc:  # noqa: BLE001 - the sender gets an answer and the message waits in the queue
            uow.rollback()
            reason = f"the message could not be stored ({type(exc).__name__}); it waits in the error queue"
            _set_status(uow, message_id, "failed", reason)
            log.error("message %s could not be stored: %s", message_id, type(exc).__name__)
            return FeedOutcome("AE", message_id, identity, [FeedIssue("MSH", 1, None, "207", reason)])
        return FeedOutcome("AA", message_id, identity, warnings, resources=count)

    def _store_raw(self, raw: bytes, received: int, peer: str | None, identity: MessageIdentity | None,
                   status: str, reason: str | None) -> int:
        with self.store.unit_of_work() as uow:
            message_id = uow.add_message(received_us=received, channel=self.translator.channel, peer=peer,
                                         identity=identity, status=status, reason=reason, raw=raw)
            uow.commit()
        return message_id


def _set_status(uow: UnitOfWork, message_id: int, status: str, reason: str | None) -> None:
    uow.set_message_status(message_id, status, reason)
    uow.commit()


def _source_of(bundle: dict[str, Any]) -> str | None:
    for entry in bundle.get("entry") or ():
        source = ((entry.get("resource") or {}).get("meta") or {}).get("source")
        if source:
            return source
    return None


def _issues_from(exc: TesseraError) -> list[FeedIssue]:
    """Engine errors (validation, references, merges) as feed issues; the text names FHIR paths only."""
    issues = []
    for issue in exc.issues[:10]:
        where = issue.expression or ""
        segment, _, field = where.partition("-")
        if len(segment) == 3 and segment.isupper() and (field.isascii() and field.isdigit()):
            code = {"not-found": "204", "duplicate": "205"}.get(issue.code, "207")  # HL7 table 0357
            issues.append(FeedIssue(segment, 1, int(field), code, issue.diagnostics[:200]))
        else:
            issues.append(FeedIssue("MSH", 1, None, "207", f"{where}: {issue.diagnostics}"[:200]
                                    if where else issue.diagnostics[:200]))
    if isinstance(exc, BundleEntryError) and not issues:
        issues.append(FeedIssue("MSH", 1, None, "207", exc.message[:200]))
    return issues


def _provenance_of(bundle: dict[str, Any]) -> dict[str, Any] | None:
    """The Provenance a translated Bundle records its message with, if any."""
    for entry in bundle.get("entry") or []:
        resource = entry.get("resource") or {}
        if resource.get("resourceType") == "Provenance":
            return resource
    return None
