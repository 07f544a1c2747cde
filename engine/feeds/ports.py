"""The translator port: turns raw inbound bytes into FHIR (implemented by adapters.hl7v2)."""
from __future__ import annotations

import abc

from engine.feeds.model import FeedIssue, MessageIdentity, RawMessage, TranslatedMessage


class UnreadableMessage(Exception):
    """The bytes are not a message of the feed's format, or of a supported type (acknowledged AR)."""

    def __init__(self, reason: str, identity: MessageIdentity | None = None, *,
                 issue: FeedIssue | None = None):
        super().__init__(reason)
        self.reason = reason
        self.identity = identity
        self.issue = issue or FeedIssue("MSH", 1, None, "207", reason)


class UntranslatableMessage(Exception):
    """The message is readable but its content fails mapping or validation (acknowledged AE)."""

    def __init__(self, issues: list[FeedIssue]):
        super().__init__(issues[0].text if issues else "message could not be translated")
        self.issues = issues


class MessageTranslator(abc.ABC):
    """Reads and translates one feed format."""

    channel: str = "hl7v2"

    @abc.abstractmethod
    def identify(self, raw: bytes) -> MessageIdentity:
        """Sender, control id and type of a message; raises UnreadableMessage."""

    @abc.abstractmethod
    def translate(self, raw: bytes, *, message_id: int, received: str) -> TranslatedMessage:
        """The message as FHIR; raises UnreadableMessage or UntranslatableMessage."""

    def same_content(self, first: bytes, second: bytes) -> bool:
        """True when two messages under one control id are the same message sent again (here: same bytes)."""
        return first == second


class MessageLog(abc.ABC):
    """The raw message store, part of a unit of work so a message's status commits with its resources."""

    @abc.abstractmethod
    def add_message(self, *, received_us: int, channel: str, peer: str | None, identity: MessageIdentity | None,
                    status: str, reason: str | None, raw: bytes) -> int:
        """Store an inbound message as received; return its id."""

    def add_message_once(self, *, received_us: int, channel: str, peer: str | None, identity: MessageIdentity,
                         raw: bytes) -> tuple[int, bool]:
        """Store an inbound message as received, or as a duplicate when the same bytes were processed under
        its sender and control id.

        Returns the new row's id and whether it is a duplicate; stores may do it in one statement.
        """
        duplicate = bool(identity.control_id) and any(
            stored == raw for _, stored in self.processed_messages(identity.sender, identity.control_id, 1_000))
        message_id = self.add_message(received_us=received_us, channel=channel, peer=peer, identity=identity,
                                      status="duplicate" if duplicate else "received", reason=None, raw=raw)
        return message_id, duplicate

    @abc.abstractmethod
    def processed_messages(self, sender: str, control_id: str, limit: int) -> list[tuple[int, bytes]]:
        """Id and raw bytes of the `limit` latest processed messages with this sender and control id."""

    @abc.abstractmethod
    def set_message_status(self, message_id: int, status: str, reason: str | None = None) -> None:
        """Record the outcome of processing a message."""

    @abc.abstractmethod
    def set_message_identity(self, message_id: int, identity: MessageIdentity) -> None:
        """Record the sender, control id and type of a message that could not be read when it arrived."""

    @abc.abstractmethod
    def messages(self, *, statuses: tuple[str, ...], limit: int = 100, after_id: int = 0,
                 stuck_before_us: int | None = None) -> list[RawMessage]:
        """Stored messages with one of `statuses`, and when `stuck_before_us` is given also those received
        before it and never finished (status still `received`), oldest first."""

    @abc.abstractmethod
    def message(self, message_id: int) -> RawMessage | None:
        """One stored message."""
