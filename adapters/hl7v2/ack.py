"""build_ack: the HL7 acknowledgement (original mode) with MSA and one ERR per issue."""
from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from adapters.hl7v2.errors import MappingIssue
from adapters.hl7v2.escape import escape
from adapters.hl7v2.model import Encoding, MessageHeader
from adapters.hl7v2.parse import codec_of, sent_in_utf8

ERROR_TEXT = {"0": "Message accepted", "100": "Segment sequence error", "101": "Required field missing",
              "102": "Data type error", "103": "Table value not found", "200": "Unsupported message type",
              "201": "Unsupported event code", "202": "Unsupported processing id",
              "203": "Unsupported version id", "204": "Unknown key identifier", "205": "Duplicate key identifier",
              "206": "Application record locked", "207": "Application internal error"}
ACK_CODES = {"AA", "AE", "AR", "CA", "CE", "CR"}


def _encoding(header: MessageHeader | None) -> Encoding:
    if header is None:
        return Encoding()
    chars = header.encoding_characters
    return Encoding(field=header.field_separator, component=chars[0], repetition=chars[1], escape=chars[2],
                    subcomponent=chars[3], truncation=chars[4] if len(chars) > 4 else None)


def _err(issue: MappingIssue, enc: Encoding, old_style: bool) -> str:
    c, f = enc.component, enc.field
    code = issue.code
    text = escape(ERROR_TEXT.get(code, "Error"), enc)
    location = c.join([escape(issue.segment, enc), str(issue.sequence)]
                      + ([str(issue.field)] if issue.field is not None else []))
    fields = ["ERR"]
    if old_style:  # v2.3/2.4: ERR-1 error code and location (ELD)
        s = enc.subcomponent
        fields.append(c.join([escape(issue.segment, enc), str(issue.sequence),
                              str(issue.field) if issue.field is not None else "",
                              s.join([code, text, "HL70357"])]))
    else:
        fields.append("")
    fields += [location, c.join([code, text, "HL70357"]), issue.severity if issue.severity in "EWI" else "E",
               "", "", "", escape(issue.text, enc)]
    return f.join(fields)


def _ack_codec(header: MessageHeader | None) -> str | None:
    """The sender's one-byte or UTF-8 character set (MLLP frames bytes: no UTF-16 or UTF-32 answers)."""
    codec = codec_of(header.character_set) if header is not None else None
    return codec if codec not in ("utf-16", "utf-32") else None


def build_ack(header: MessageHeader | None, code: str, *, issues: Sequence[MappingIssue] = (),
              text: str | None = None, control_id: str, received: bytes | None = None) -> bytes:
    """An ACK for `header` (None for unparseable input: a minimal v2.5 AR) with MSA and ERR segments, in
    the sender's MSH-18 character set; when the `received` bytes were UTF-8 whatever MSH-18 said, in
    UTF-8 like them (so the mirrored names come back as sent)."""
    if code not in ACK_CODES:
        raise ValueError(f"unknown acknowledgement code {code!r}")
    enc = _encoding(header)
    f = enc.field
    now = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%d%H%M%S+0000")
    version = (header.version if header is not None else "") or "2.5"
    if header is not None:
        msh = ["MSH", enc.characters, header.receiving_application, header.receiving_facility,
               header.sending_application, header.sending_facility, now, "",
               enc.component.join(["ACK", escape(header.trigger_event, enc), "ACK"]), escape(control_id, enc),
               header.processing_id or "P", escape(version, enc)]
        if _ack_codec(header):  # answered in the sender's character set, and saying so
            msh += ["", "", "", "", "", escape(header.character_set or "", enc)]
        original = header.control_id
    else:
        msh = ["MSH", enc.characters, "", "", "", "", now, "", "ACK", escape(control_id, enc), "P", version]
        original = ""
    msa = ["MSA", code, escape(original, enc)]
    if text:
        msa.append(escape(text[:200], enc))
    old_style = version.startswith(("2.1", "2.2", "2.3", "2.4"))
    segments = [f.join(msh), f.join(msa)] + [_err(issue, enc, old_style) for issue in issues]
    codec = "utf-8" if received is not None and sent_in_utf8(received) else (_ack_codec(header) or "utf-8")
    return ("\r".join(segments) + "\r").encode(codec, errors="replace")
