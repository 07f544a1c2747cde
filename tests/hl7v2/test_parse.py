"""parse_message / split_file: segment endings, BOM, delimiters, escapes, repetitions, versions, errors."""
from __future__ import annotations

import pytest

from adapters.hl7v2 import Hl7ParseError, parse_message, split_file
from adapters.hl7v2.escape import escape, unescape
from adapters.hl7v2.model import Encoding
from tests.hl7v2.builders import adt, msh, pid, run

BASE = adt()


@pytest.mark.parametrize("ending", ["\r", "\n", "\r\n"])
def test_segment_endings_are_normalized(ending):
    message = parse_message(BASE.replace("\r", ending))
    assert [s.name for s in message.segments] == ["MSH", "EVN", "PID", "PV1"]
    assert message.text == BASE


def test_mixed_endings_bom_framing_and_surrounding_whitespace():
    raw = b"\xef\xbb\xbf \x0b" + BASE.replace("\r", "\r\n", 1).replace("\rPID", "\nPID").encode() + b"\r\n\x1c\r  "
    message = parse_message(raw)
    assert [s.name for s in message.segments] == ["MSH", "EVN", "PID", "PV1"]
    assert parse_message("\ufeff" + BASE).header.control_id == "C1"


def test_header_fields():
    header = parse_message(BASE).header
    assert (header.message_type, header.trigger_event, header.message_structure) == ("ADT", "A01", "ADT_A01")
    assert (header.sending_application, header.sending_facility) == ("ADT1", "GENHOSP")
    assert (header.control_id, header.processing_id, header.version) == ("C1", "P", "2.5.1")
    assert header.field_separator == "|" and header.encoding_characters == "^~\\&"
    assert header.timestamp == "20260101120000+0100"


def test_five_character_msh2_sets_the_truncation_character():
    message = parse_message(BASE.replace("^~\\&", "^~\\&#", 1))
    assert message.encoding.truncation == "#"
    assert message.header.encoding_characters == "^~\\&#"
    assert message.first("PID").get(5, 1) == "Doe"


def test_custom_separators():
    text = BASE.replace("|", "#").replace("^", "$").replace("~", "!").replace("&", "%")
    text = text.replace("MSH#$!\\%", "MSH#$!\\%", 1)
    message = parse_message(text)
    assert message.encoding == Encoding("#", "$", "!", "\\", "%")
    assert message.first("PID").get(3, 1) == "MRN1" and message.first("PID").get(3, 4) == "GENHOSP"
    patient = [e["resource"] for e in run(text).bundle["entry"] if e["resource"]["resourceType"] == "Patient"][0]
    assert patient["name"][0]["family"] == "Doe"


def test_repeated_backslash_in_msh2_is_repaired_with_a_warning():
    message = parse_message(BASE.replace("^~\\&", "^~\\\\&", 1))
    assert message.encoding.subcomponent == "&" and message.encoding.escape == "\\"
    assert message.warnings and message.warnings[0].segment == "MSH" and message.warnings[0].severity == "W"


@pytest.mark.parametrize("escaped, plain", [
    ("A\\F\\B", "A|B"), ("A\\S\\B", "A^B"), ("A\\T\\B", "A&B"), ("A\\R\\B", "A~B"), ("A\\E\\B", "A\\B"),
    ("line1\\.br\\line2", "line1\nline2"), ("\\X41424344\\", "ABCD"), ("\\XC3A9\\", "é"), ("\\H\\bold\\N\\", "bold"),
    ("50\\E\\F\\E\\", "50\\F\\"), ("broken \\F", "broken \\F"), ("odd \\Q\\ kept", "odd \\Q\\ kept"),
])
def test_escape_sequences(escaped, plain):
    assert unescape(escaped, Encoding()) == plain


def test_escape_round_trip():
    text = "a|b^c&d~e\\f\nnext line"
    assert unescape(escape(text, Encoding()), Encoding()) == text


def test_escaped_values_are_unescaped_when_read():
    message = parse_message(adt(pid=pid(name="O\\S\\Brien^Mary\\T\\Ann")))
    patient = message.first("PID")
    assert patient.get(5, 1) == "O^Brien" and patient.get(5, 2) == "Mary&Ann"


def test_repetitions_components_subcomponents():
    message = parse_message(adt(pid=pid("M1^^^A&1.2.3&ISO^MR~M2^^^B^PI")))
    reps = message.first("PID").reps(3)
    assert [r.c(1) for r in reps] == ["M1", "M2"]
    assert reps[0].comp(4).c(2) == "1.2.3" and reps[0].s(4, 3) == "ISO"


@pytest.mark.parametrize("version", ["2.3", "2.3.1", "2.4", "2.5", "2.5.1", "2.6", "2.7", "2.7.1", "2.8", "2.8.2"])
def test_versions_23_to_28_parse_and_map(version):
    result = run(adt(version=version))
    assert parse_message(adt(version=version)).header.version == version
    assert not [w for w in result.warnings if w.code == "203"]


def test_version_outside_range_maps_with_a_warning():
    assert any(w.code == "203" for w in run(adt(version="2.2")).warnings)


def test_non_utf8_bytes_fall_back_to_latin1():
    raw = adt(pid=pid(name="M\xfcller^J\xf6rg")).encode("latin-1")
    assert parse_message(raw).first("PID").get(5, 1) == "Müller"


def test_msh18_character_set_hint():
    text = msh("ADT^A01", version="2.5") + "||||||8859/15\r" + pid(name="Caf\u20ac^Eve")
    assert parse_message(text.encode("iso8859-15")).first("PID").get(5, 1) == "Caf€"


def test_a_line_that_is_not_a_segment_is_joined_with_a_warning():
    text = BASE.replace("\rPV1", "\rcontinued text\rPV1")
    message = parse_message(text)
    assert [s.name for s in message.segments] == ["MSH", "EVN", "PID", "PV1"]
    assert message.warnings[0].code == "100"


def test_python_hl7_message_is_available():
    message = parse_message(BASE)
    assert str(message.hl7.segment("PID")[5]) == "Doe^Jane^Q"


@pytest.mark.parametrize("raw, reason", [
    (b"", "empty"), (b"   \r\n ", "empty"), (b"PID|1||X", "does not start with an MSH"),
    (b"MSH", "too short"), (b"MSH|^~\\&", "ends after MSH-2"), (b"MSH|^~|A|B", "4 or 5"),
    (b"MSH|^^\\&|A|B", "4 or 5"), (b"MSHa^~\\&|A", "field separator"), (b"MSH|^~\\a|A|B", "non-alphanumeric"),
    ((BASE + "\r" + BASE).encode(), "more than one message"), (12345, "expected bytes or str"),
])
def test_unreadable_input_raises_hl7parseerror_with_a_reason(raw, reason):
    with pytest.raises(Hl7ParseError) as info:
        parse_message(raw)
    assert reason in info.value.reason


def test_split_file_drops_wrappers_and_splits_on_msh():
    first, second = adt(control_id="B1"), adt(control_id="B2")
    batch = "\n".join(["FHS|^~\\&|X", "BHS|^~\\&|X", first, second, "BTS|2", "FTS|1"])
    parts, outside = split_file(batch.encode())
    assert [parse_message(p).header.control_id for p in parts] == ["B1", "B2"] and outside == []
    assert split_file(b"") == ([], []) and split_file(b"junk\nmore junk") == ([], [1, 2])


def test_split_file_splits_files_joined_with_their_byte_order_marks():
    joined = b"".join(b"\xef\xbb\xbf" + adt(control_id=f"J{n}").replace("\r", "\r\n").encode() + b"\r\n"
                      for n in range(3))
    parts, outside = split_file(joined)
    assert [parse_message(p).header.control_id for p in parts] == ["J0", "J1", "J2"] and outside == []
    assert [parse_message(p).segments[-1].name for p in parts] == ["PV1"] * 3


def test_split_file_splits_mllp_frames_without_line_breaks_around_them():
    framed = b"".join(b"\x0b" + adt(control_id=f"F{n}").encode() + b"\x1c" for n in range(3))
    parts, outside = split_file(framed)
    assert [parse_message(p).header.control_id for p in parts] == ["F0", "F1", "F2"] and outside == []
    assert all(b"\x0b" not in p and b"\x1c" not in p for p in parts)
    assert split_file(b"junk\x0bmore\r\n" + framed)[1] == [1]  # the line, counted once
    logged = framed.replace(b"\x1c", b"\x1c\r\n2026-01-01 12:00:01 INFO frame sent\r\n")
    parts, outside = split_file(logged)
    assert [parse_message(p).header.control_id for p in parts] == ["F0", "F1", "F2"] and outside == [5, 10, 15]
    assert all(parse_message(p).warnings == [] for p in parts)


def test_a_single_message_in_batch_wrappers_parses():
    assert parse_message("BHS|^~\\&|X\r" + BASE + "\rBTS|1").header.control_id == "C1"
