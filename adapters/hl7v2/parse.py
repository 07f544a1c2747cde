"""Read raw bytes into a ParsedMessage: decode, normalize segment endings, check MSH, parse with python-hl7."""
from __future__ import annotations

import re

import hl7

from adapters.hl7v2.errors import SEGMENT_SEQUENCE_ERROR, Hl7ParseError, MappingIssue
from adapters.hl7v2.header import read_header
from adapters.hl7v2.model import Encoding, MessageHeader, ParsedMessage
from adapters.hl7v2.tree import Segment

MAX_MESSAGE_CHARS = 16 * 1024 * 1024
_LINE_BREAK = re.compile(r"\r\n|\r|\n")
_SEGMENT_ID = re.compile(r"[A-Z][A-Z0-9]{2}")
_WRAPPERS = ("FHS", "BHS", "BTS", "FTS")
_FRAMING = "\x0b\x1c\x00 \t\r\n\ufeff"
_LINE_JUNK = " \t\x00\x0b\x1c"  # blanks and stray MLLP framing bytes around a segment
_CHARSETS = {"ASCII": "ascii", "8859/1": "latin-1", "8859/2": "iso8859-2", "8859/3": "iso8859-3",
             "8859/4": "iso8859-4", "8859/5": "iso8859-5", "8859/6": "iso8859-6", "8859/7": "iso8859-7",
             "8859/8": "iso8859-8", "8859/9": "iso8859-9", "8859/15": "iso8859-15",
             "UNICODE UTF-8": "utf-8", "UNICODE UTF-16": "utf-16", "UNICODE UTF-32": "utf-32",
             "WINDOWS-1252": "cp1252", "CP1252": "cp1252"}


def _plain_container() -> object:
    def build(sequence: list, **_: object) -> list:
        """The parsed parts, as a plain list."""
        return sequence
    return staticmethod(build)


class PlainFactory(hl7.Factory):
    """python-hl7 factory building plain nested lists instead of container objects (about 1.7x faster).

    python-hl7 tells the levels apart by comparing these callables, so each level gets its own.
    """

    create_message = _plain_container()
    create_segment = _plain_container()
    create_field = _plain_container()
    create_repetition = _plain_container()
    create_component = _plain_container()


def decode(raw: bytes | str) -> str:
    """Text of a message: UTF-8 (BOM stripped), else the MSH-18 character set, else latin-1."""
    if isinstance(raw, str):
        return raw.lstrip("\ufeff")
    if not isinstance(raw, (bytes, bytearray, memoryview)):
        raise Hl7ParseError(f"expected bytes or str, got {type(raw).__name__}")
    data = bytes(raw)
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    elif data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError as exc:
            raise Hl7ParseError("the message starts with a UTF-16 byte order mark but is not UTF-16") from exc
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    hinted = _charset_hint(data)
    if hinted:
        try:
            return data.decode(hinted)
        except (UnicodeDecodeError, LookupError):
            pass
    return data.decode("latin-1")


def sent_in_utf8(raw: bytes) -> bool:
    """True when bytes hold non-ASCII text that reads as UTF-8 (which `decode` then takes them for)."""
    return not raw.isascii() and _reads_as_utf8(raw)


def _reads_as_utf8(raw: bytes) -> bool:
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def codec_of(character_set: str | None) -> str | None:
    """The Python codec of an HL7 MSH-18 character set (table 0211), None when unknown or absent."""
    return _CHARSETS.get((character_set or "").strip().upper())


def _charset_hint(data: bytes) -> str | None:
    head = data[:4096].decode("latin-1").lstrip(_FRAMING)
    if not head.startswith("MSH") or len(head) < 4:
        return None
    first = _LINE_BREAK.split(head, 1)[0]
    fields = first.split(head[3])
    if len(fields) <= 17:
        return None
    charset = fields[17].split("~")[0].split("^")[0].strip().upper()
    return _CHARSETS.get(charset)


def _lines(text: str) -> list[str]:
    text = text.strip(_FRAMING)
    if len(text) > MAX_MESSAGE_CHARS:
        raise Hl7ParseError(f"the message is longer than {MAX_MESSAGE_CHARS} characters")
    return [line.strip(_LINE_JUNK) for line in _LINE_BREAK.split(text) if line.strip(_LINE_JUNK)]


def _is_segment_start(line: str, field_sep: str) -> bool:
    return _SEGMENT_ID.fullmatch(line[:3]) is not None and (len(line) == 3 or line[3] == field_sep)


def _encoding(msh: str) -> tuple[Encoding, str, list[MappingIssue]]:
    """Delimiters from MSH-1/MSH-2; returns them, the MSH line (MSH-2 repaired if needed) and warnings."""
    if len(msh) < 5:
        raise Hl7ParseError("the MSH segment is too short to hold MSH-1 and MSH-2")
    sep = msh[3]
    if sep.isalnum() or sep.isspace() or not sep.isprintable():
        raise Hl7ParseError("MSH-1 (field separator) must be a printable, non-alphanumeric character")
    end = msh.find(sep, 4)
    if end < 0:
        raise Hl7ParseError("the MSH segment ends after MSH-2")
    chars = msh[4:end]
    warnings: list[MappingIssue] = []
    if len(chars) not in (4, 5) or len(set(chars)) != len(chars):
        repaired = "".join(c for i, c in enumerate(chars) if c not in chars[:i])
        if len(chars) > 4 and len(repaired) in (4, 5):
            warnings.append(MappingIssue("MSH", 1, 2, SEGMENT_SEQUENCE_ERROR,
                                         "MSH-2 repeats an encoding character; the repeat was ignored", "W"))
            msh = msh[:4] + repaired + msh[end:]
            chars = repaired
        else:
            raise Hl7ParseError("MSH-2 must hold 4 or 5 distinct encoding characters")
    for char in chars:
        if char.isalnum() or char.isspace() or char == sep or not char.isprintable():
            raise Hl7ParseError("MSH-2 encoding characters must be distinct printable non-alphanumeric characters")
    enc = Encoding(field=sep, component=chars[0], repetition=chars[1], escape=chars[2], subcomponent=chars[3],
                   truncation=chars[4] if len(chars) == 5 else None)
    return enc, msh, warnings


def readable_header(raw: bytes | str) -> MessageHeader | None:
    """The header of the first readable MSH segment of input that is not one parseable message (a batch,
    a broken segment further on), so that a refusal can still mirror the sender; None when there is none."""
    try:
        for line in _lines(decode(raw)):
            if line.startswith("MSH"):
                enc, msh, _ = _encoding(line)
                parsed = hl7.parse(msh, factory=PlainFactory)
                return read_header(Segment("MSH", parsed[0], 0, 1, enc), enc)
    except Exception:  # noqa: BLE001 - best effort: no header is a valid answer
        return None
    return None


def parse_message(raw: bytes | str) -> ParsedMessage:
    """Parse one HL7 v2 message; raises Hl7ParseError (with a reason) for anything unreadable."""
    try:
        return _parse(raw)
    except Hl7ParseError:
        raise
    except RecursionError as exc:  # pragma: no cover - defensive
        raise Hl7ParseError("the message is nested too deeply to parse") from exc
    except Exception as exc:  # python-hl7 or decoding surprises: still an unreadable message
        raise Hl7ParseError(f"the message could not be parsed ({type(exc).__name__})") from exc


def _parse(raw: bytes | str) -> ParsedMessage:
    lines = _lines(decode(raw))
    if not lines:
        raise Hl7ParseError("the message is empty")
    if lines[0][:3] in _WRAPPERS:
        lines = [line for line in lines if line[:3] not in _WRAPPERS]
        if not lines:
            raise Hl7ParseError("the batch holds no message")
    if not lines[0].startswith("MSH"):
        raise Hl7ParseError("the message does not start with an MSH segment")
    enc, lines[0], warnings = _encoding(lines[0])
    segments_text: list[str] = [lines[0]]
    names = ["MSH"]
    for line in lines[1:]:
        if _is_segment_start(line, enc.field):
            if line.startswith("MSH"):
                raise Hl7ParseError("the input holds more than one message (a second MSH); split it first")
            if line[:3] in _WRAPPERS:
                continue
            segments_text.append(line)
            names.append(line[:3])
        else:
            segments_text[-1] += "\n" + line
            warnings.append(MappingIssue(names[-1], names.count(names[-1]), None, SEGMENT_SEQUENCE_ERROR,
                                         "a line that is not a segment was joined to the segment before it",
                                         "W"))
    text = "\r".join(segments_text)
    message = hl7.parse(text, factory=PlainFactory)
    segments: list[Segment] = []
    counts: dict[str, int] = {}
    for index, (name, raw_segment) in enumerate(zip(names, message)):
        counts[name] = counts.get(name, 0) + 1
        segments.append(Segment(name, raw_segment, index, counts[name], enc))
    if len(segments) != len(names):
        raise Hl7ParseError("the segment structure could not be read")
    header = read_header(segments[0], enc)
    return ParsedMessage(header=header, text=text, encoding=enc, segments=segments, warnings=warnings)


_BYTE_LINE_BREAK = re.compile(rb"\r\n|\n|\r")
_FRAME_BYTE = re.compile(rb"([\x0b\x1c])")  # an MLLP frame's start and end bytes end a segment too
_BOM = b"\xef\xbb\xbf"


def resend_key(raw: bytes) -> list[bytes]:
    """What a re-send of a message repeats: its segments whatever their endings and framing, with MSH-7
    (the send time, which a sender may renew when it sends again) left out."""
    junk = _LINE_JUNK.encode()
    lines = [line.strip(junk) for line in _BYTE_LINE_BREAK.split(raw.strip(junk + b"\r\n").removeprefix(_BOM))]
    lines = [line for line in lines if line]
    if lines and lines[0].startswith(b"MSH") and len(lines[0]) > 3:
        fields = lines[0].split(lines[0][3:4])
        lines[0] = lines[0][3:4].join(fields[:6] + fields[7:])
    return lines


def split_file(raw: bytes) -> tuple[list[bytes], list[int]]:
    """Split a file of messages by its bytes, each message keeping its own encoding (MSH-18 decides later):
    (messages, line numbers of content outside any message: before the first MSH, or after a frame's end
    byte and before the next MSH). Segments end at any line break or MLLP frame byte; a UTF-8 byte order
    mark may start any line. UTF-16 files are re-encoded as UTF-8 first;
    raises Hl7ParseError when such a file does not decode."""
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            raw = raw.decode("utf-16").encode("utf-8")
        except UnicodeDecodeError as exc:
            raise Hl7ParseError(f"the file starts with a UTF-16 byte order mark but is not UTF-16 "
                                f"(byte {exc.start})") from None
    messages: list[list[bytes]] = []
    outside: list[int] = []
    junk = _LINE_JUNK.encode()
    ended = True  # no message open: before the first MSH, or after a frame's end byte
    for number, whole_line in enumerate(_BYTE_LINE_BREAK.split(raw), start=1):
        for line in _FRAME_BYTE.split(whole_line):
            if line in (b"\x0b", b"\x1c"):
                ended = ended or line == b"\x1c"
                continue
            line = line.strip(junk)
            if line.startswith(_BOM):  # files joined together keep each one's byte order mark
                line = line[len(_BOM):].strip(junk)
            if not line or line[:3].decode("latin-1") in _WRAPPERS:
                continue
            if line.startswith(b"MSH"):
                messages.append([line])
                ended = False
            elif not ended:
                messages[-1].append(line)
            elif not outside or outside[-1] != number:
                outside.append(number)
    return [b"\r".join(lines) for lines in messages], outside
