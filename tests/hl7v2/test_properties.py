"""Property-based robustness: any input ends in success, Hl7ParseError, UnsupportedMessage or MappingError.

Never another exception type, never an internal-error (207) issue, never a hang (SIGALRM per example), and a
successful mapping always yields resources that validate.
"""
from __future__ import annotations

import contextlib
import signal
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from adapters.hl7v2 import Hl7ParseError, MappingError, UnsupportedMessage, map_message, parse_message, split_file
from adapters.hl7v2.errors import INTERNAL_ERROR
from adapters.hl7v2.parse import decode
from engine.fhir.validation import validate_resource
from tests.hl7v2.samples import all_samples

PER_EXAMPLE_SECONDS = 5
SETTINGS = settings(max_examples=300, deadline=2000, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
GARBAGE = ["|", "^", "~", "&", "\\", "\\X0\\", "\\XZZ\\", '""', "\\.br\\", "\\F\\", "99999999999999999999999",
           "abc", "\x00", "é", "MSH|", "\r", "-1", "1e9", "20201345", "+9999", "&&&^^^", "19991345", "\\", "\n",
           "𝔘", "\ufeff", "NaN", "inf", "0" * 50, "~" * 20]


@contextlib.contextmanager
def time_limit(seconds: int) -> Iterator[None]:
    def expired(signum, frame):  # noqa: ARG001
        raise TimeoutError(f"parsing/mapping took longer than {seconds}s")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def check(raw: bytes | str, *, validate: bool = False) -> None:
    """Parse and map; only the three documented exceptions may escape, and no internal error."""
    with time_limit(PER_EXAMPLE_SECONDS):
        try:
            result = map_message(parse_message(raw), raw_message_id="p", received_at="2026-01-01T00:00:00Z")
        except (Hl7ParseError, UnsupportedMessage) as exc:
            event(type(exc).__name__)
            return
        except MappingError as exc:
            event("MappingError")
            assert exc.issues and all(issue.code != INTERNAL_ERROR for issue in exc.issues), exc.issues
            return
        event("mapped")
        if validate:
            for entry in result.bundle["entry"]:
                validate_resource(entry["resource"])


SAMPLE_TEXTS = [decode(path.read_bytes()).replace("\r\n", "\r").replace("\n", "\r").strip()
                for path in all_samples()]


@st.composite
def mutated(draw) -> str:
    """A real sample with 1-4 structural or field-level mutations."""
    segments = draw(st.sampled_from(SAMPLE_TEXTS)).split("\r")
    for _ in range(draw(st.integers(1, 4))):
        operation = draw(st.sampled_from(["delete", "duplicate", "swap", "truncate", "separator", "garbage",
                                          "field"]))
        index = draw(st.integers(0, len(segments) - 1))
        if operation == "delete" and len(segments) > 1 and index > 0:
            del segments[index]
        elif operation == "duplicate":
            segments.insert(index, segments[index])
        elif operation == "swap" and len(segments) > 2:
            other = draw(st.integers(0, len(segments) - 1))
            segments[index], segments[other] = segments[other], segments[index]
        elif operation == "truncate":
            text = "\r".join(segments)
            segments = text[:draw(st.integers(0, len(text)))].split("\r")
        elif operation == "separator":
            old, new = draw(st.sampled_from("|^~&\\")), draw(st.sampled_from("|^~&\\#$!*"))
            segments = [segment.replace(old, new) for segment in segments]
        elif operation == "garbage" and segments[index]:
            position = draw(st.integers(0, len(segments[index])))
            segments[index] = segments[index][:position] + draw(st.sampled_from(GARBAGE)) + segments[index][position:]
        elif operation == "field":
            fields = segments[index].split("|")
            if len(fields) > 1:
                fields[draw(st.integers(1, len(fields) - 1))] = draw(
                    st.one_of(st.sampled_from(GARBAGE), st.text(max_size=30)))
                segments[index] = "|".join(fields)
    return "\r".join(segments)


@SETTINGS
@given(st.binary(max_size=3000))
def test_random_bytes(raw):
    check(raw)


@SETTINGS
@given(st.one_of(st.text(max_size=3000), st.text(max_size=2000).map(lambda text: "MSH|^~\\&|" + text),
                 st.lists(st.sampled_from(GARBAGE + ["PID|", "OBX|1|NM|", "PV1|", "\r"]), max_size=60)
                 .map(lambda parts: "MSH|^~\\&|A|B|C|D|20200101||ADT^A01|1|P|2.5\r" + "".join(parts))))
def test_random_text(text):
    check(text)
    split_file(text.encode("utf-8", "replace"))


@SETTINGS
@given(mutated())
def test_mutated_samples(text):
    check(text, validate=True)


def test_the_time_limit_works():
    with pytest.raises(TimeoutError), time_limit(1):
        while True:
            pass
