"""build_ack: AA/AE/AR, a mirrored MSH, MSA and ERR segments, parseable by python-hl7."""
from __future__ import annotations

import hl7
import pytest

from adapters.hl7v2 import MappingError, MappingIssue, build_ack, parse_message
from tests.hl7v2.builders import adt, pid, run


def _parse(ack: bytes) -> hl7.Message:
    assert ack.endswith(b"\r")
    return hl7.parse(ack.decode("utf-8"))


def test_aa_mirrors_the_sender_header():
    header = parse_message(adt(control_id="ORIG1", sender="ADTAPP", facility="GENHOSP^1.2.3^ISO")).header
    ack = _parse(build_ack(header, "AA", control_id="ACK1"))
    msh = ack.segment("MSH")
    assert str(msh[3]) == "TESSERA" and str(msh[4]) == "TESSERA"
    assert str(msh[5]) == "ADTAPP" and str(msh[6]) == "GENHOSP^1.2.3^ISO"
    assert str(msh[9]) == "ACK^A01^ACK" and str(msh[10]) == "ACK1"
    assert str(msh[11]) == "P" and str(msh[12]) == "2.5.1"
    assert [str(f) for f in ack.segment("MSA")][1:3] == ["AA", "ORIG1"]
    assert len(ack) == 2


def test_ae_has_one_err_per_issue():
    issues = [MappingIssue("PID", 1, 7, "102", "PID-7 is not a valid HL7 date/time"),
              MappingIssue("OBX", 3, 5, "102", "bad | value ^ text", "W")]
    header = parse_message(adt()).header
    ack = _parse(build_ack(header, "AE", issues=issues, text="message rejected", control_id="A2"))
    assert [str(f) for f in ack.segment("MSA")][1:4] == ["AE", "C1", "message rejected"]
    errs = ack.segments("ERR")
    assert len(errs) == 2
    assert str(errs[0][2]) == "PID^1^7"
    assert str(errs[0][3]) == "102^Data type error^HL70357"
    assert str(errs[0][4]) == "E" and str(errs[1][4]) == "W"
    assert str(errs[0][8]) == "PID-7 is not a valid HL7 date/time"
    assert ack.unescape(str(errs[1][8])) == "bad | value ^ text"


def test_ar_without_header_is_a_minimal_v25_ack():
    ack = _parse(build_ack(None, "AR", issues=[MappingIssue("MSH", 1, None, "207", "unreadable")],
                           text="not HL7", control_id="A3"))
    msh = ack.segment("MSH")
    assert str(msh[12]) == "2.5" and str(msh[10]) == "A3" and str(msh[9]) == "ACK"
    assert [str(f) for f in ack.segment("MSA")][1:4] == ["AR", "", "not HL7"]
    assert str(ack.segment("ERR")[2]) == "MSH^1"


def test_custom_delimiters_are_reused():
    text = adt().replace("|", "#").replace("^", "$")
    header = parse_message(text).header
    ack = build_ack(header, "AA", control_id="X1").decode()
    assert ack.startswith("MSH#$~\\&#TESSERA#TESSERA#ADT1#GENHOSP#")
    assert "ACK$A01$ACK" in ack and "\rMSA#AA#C1" in ack


def test_five_character_msh2_is_mirrored():
    header = parse_message(adt().replace("^~\\&", "^~\\&#", 1)).header
    assert build_ack(header, "AA", control_id="X").startswith(b"MSH|^~\\&#|")


def test_v23_ack_also_fills_err1():
    header = parse_message(adt(version="2.3")).header
    ack = _parse(build_ack(header, "AE", issues=[MappingIssue("PID", 1, 3, "101", "PID-3 is required")],
                           control_id="X"))
    err = ack.segment("ERR")
    assert str(err[1]) == "PID^1^3^101&Required field missing&HL70357" and str(err[2]) == "PID^1^3"


def test_mapping_errors_round_trip_into_an_ack():
    with pytest.raises(MappingError) as info:
        run(adt(pid=pid(birth="19991345")))
    header = parse_message(adt()).header
    ack = _parse(build_ack(header, "AE", issues=info.value.issues, control_id="X"))
    assert str(ack.segment("ERR")[2]) == "PID^1^7"
    assert "19991345" not in str(ack)


def test_unknown_ack_code_is_refused():
    with pytest.raises(ValueError):
        build_ack(None, "XX", control_id="1")


def test_the_ack_speaks_the_senders_character_set_and_says_so():
    raw = ("MSH|^~\\&|ADT|HÔPITAL|TESSERA|TESSERA|20260101120000||ADT^A01^ADT_A01|L1|P|2.5.1||||||8859/1\r"
           "PID|1||1^^^HÔPITAL^MR||Lefèvre^Zoé\r").encode("latin-1")
    header = parse_message(raw).header
    issues = [MappingIssue("PID", 1, 5, "102", "Lefèvre: nom refusé (ü → ?)")]
    ack = build_ack(header, "AE", issues=issues, control_id="A9")
    assert b"H\xd4PITAL" in ack and "HÔPITAL".encode("utf-8") not in ack
    parsed = hl7.parse(ack.decode("latin-1"))
    msh = parsed.segment("MSH")
    assert str(msh[6]) == "HÔPITAL" and str(msh[18]) == "8859/1"
    assert "Lefèvre: nom refusé" in str(parsed.segment("ERR")[8])
    utf8 = build_ack(parse_message(adt()).header, "AA", control_id="A10")
    assert len(_parse(utf8).segment("MSH")) == 13  # no MSH-18 when the sender named none


def test_a_sender_declaring_latin_1_but_sending_utf_8_gets_its_bytes_back():
    raw = ("MSH|^~\\&|ADT|HÔPITAL|TESSERA|TESSERA|20260101120000||ADT^A01^ADT_A01|L2|P|2.5.1||||||8859/1\r"
           "PID|1||1^^^X^MR||Lefèvre^Zoé\r").encode("utf-8")
    ack = build_ack(parse_message(raw).header, "AA", control_id="A11", received=raw)
    assert "HÔPITAL".encode("utf-8") in ack and str(hl7.parse(ack.decode("utf-8")).segment("MSH")[18]) == "8859/1"
