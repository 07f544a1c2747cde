"""Exceptions and issue records raised by the HL7 v2 adapter (acknowledged AR / AE by the feed)."""
from __future__ import annotations

from dataclasses import dataclass

# HL7 table 0357 (message error condition codes) used in ERR-3
SEGMENT_SEQUENCE_ERROR = "100"
REQUIRED_FIELD_MISSING = "101"
DATA_TYPE_ERROR = "102"
TABLE_VALUE_NOT_FOUND = "103"
UNSUPPORTED_MESSAGE_TYPE = "200"
UNSUPPORTED_EVENT_CODE = "201"
UNSUPPORTED_VERSION = "203"
INTERNAL_ERROR = "207"


class Hl7ParseError(Exception):
    """The input is not a readable HL7 v2 message (no MSH, bad encoding characters, ...): ACK AR."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class UnsupportedMessage(Exception):
    """The message parses, but its type or trigger event is not one Tessera maps: ACK AR."""

    def __init__(self, reason: str, code: str = UNSUPPORTED_MESSAGE_TYPE, field: int = 9):
        super().__init__(reason)
        self.reason = reason
        self.code = code
        self.field = field  # the MSH field at fault: 9 (message type) or 12 (version)


@dataclass(frozen=True)
class MappingIssue:
    """One problem located HL7-style; `text` never carries patient data values."""

    segment: str
    sequence: int
    field: int | None
    code: str
    text: str
    severity: str = "E"

    @property
    def location(self) -> str:
        """ERR-2 style location, e.g. `PID^1^7`."""
        parts = [self.segment, str(self.sequence)]
        if self.field is not None:
            parts.append(str(self.field))
        return "^".join(parts)


class MappingError(Exception):
    """The message content cannot be mapped (missing/invalid required data): ACK AE with ERR segments."""

    def __init__(self, issues: list[MappingIssue]):
        super().__init__(issues[0].text if issues else "the message could not be mapped")
        self.issues = list(issues)
