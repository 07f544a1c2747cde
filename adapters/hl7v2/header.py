"""Read the MSH segment into a MessageHeader (HD-valued fields kept raw so an ACK can mirror them)."""
from __future__ import annotations

from adapters.hl7v2.model import Encoding, MessageHeader
from adapters.hl7v2.tree import Segment


def read_header(msh: Segment, enc: Encoding) -> MessageHeader:
    """The MessageHeader of a parsed MSH segment."""
    return MessageHeader(
        field_separator=enc.field,
        encoding_characters=enc.characters,
        sending_application=msh.raw(3).strip(),
        sending_facility=msh.raw(4).strip(),
        receiving_application=msh.raw(5).strip(),
        receiving_facility=msh.raw(6).strip(),
        message_type=msh.get(9, 1),
        trigger_event=msh.get(9, 2),
        message_structure=msh.get(9, 3) or None,
        control_id=msh.get(10),
        processing_id=msh.raw(11).strip(),
        version=msh.get(12, 1),
        timestamp=msh.get(7, 1) or None,
        character_set=msh.rep(18).text() or None,
    )
