"""MLLP framing: the same frames however the bytes are split, oversized frames reported in their place."""
from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from adapters.mllp.framing import END, START, AbandonedFrame, FrameReader, OversizedFrame

LIMIT = 40

payloads = st.binary(max_size=90).map(lambda b: b.replace(START, b"").replace(b"\x1c", b""))


def expected(messages: list[bytes]) -> list[bytes | OversizedFrame]:
    return [m if len(m) <= LIMIT else OversizedFrame(m[:LIMIT], LIMIT) for m in messages]


@settings(max_examples=300, deadline=None)
@given(st.lists(payloads, max_size=8), st.lists(st.integers(min_value=1, max_value=60), min_size=1, max_size=40))
def test_frames_come_out_in_order_whatever_the_reads(messages: list[bytes], cuts: list[int]) -> None:
    stream = b"".join(START + m + END for m in messages)
    reader, frames, position = FrameReader(LIMIT), [], 0
    for cut in cuts * (len(stream) // max(1, sum(cuts)) + 1):
        frames += reader.feed(stream[position:position + cut])
        position += cut
        if position >= len(stream):
            break
    assert frames == expected(messages)
    assert not reader.skipping and not reader.buffer


def test_good_frames_around_an_oversized_one_in_one_read_are_all_kept() -> None:
    reader = FrameReader(LIMIT)
    frames = reader.feed(START + b"MSH|one" + END + START + b"MSH|" + b"x" * 100 + END + START + b"MSH|two" + END)
    assert frames == [b"MSH|one", OversizedFrame(b"MSH|" + b"x" * (LIMIT - 4), LIMIT), b"MSH|two"]


def test_an_oversized_frame_is_reported_before_it_ends_and_one_abandoned_for_a_new_frame_is_left() -> None:
    reader = FrameReader(LIMIT)
    assert reader.feed(START + b"MSH|" + b"y" * 60) == [OversizedFrame(b"MSH|" + b"y" * (LIMIT - 4), LIMIT)]
    assert reader.feed(b"y" * 500) == [] and not reader.buffer, "the rest is skipped, not held"
    assert reader.feed(START + b"MSH|fresh" + END) == [b"MSH|fresh"]


def test_a_frame_cut_short_by_a_new_start_is_handed_over_for_the_error_queue() -> None:
    reader = FrameReader(LIMIT)
    frames = reader.feed(START + b"MSH|a|D" + START + b"oe|rest" + END + START + b"MSH|b" + END)
    assert frames == [AbandonedFrame(b"MSH|a|D"), b"oe|rest", b"MSH|b"]
    assert reader.feed(START + b"y" * 100 + START + b"MSH|c" + END) == [AbandonedFrame(b"y" * LIMIT), b"MSH|c"]


def test_line_breaks_or_a_stray_end_byte_cut_short_are_not_kept() -> None:
    reader = FrameReader(LIMIT)
    assert reader.feed(START + b"\r\n" + START + b"MSH|a" + END) == [b"MSH|a"]
    assert reader.feed(START + b"\x1c" + START + b"MSH|b" + END) == [b"MSH|b"]


def test_a_frame_of_exactly_the_limit_whose_end_block_is_split_is_not_oversized() -> None:
    reader = FrameReader(LIMIT)
    assert reader.feed(START + b"m" * LIMIT + END[:1]) == []
    assert reader.feed(END[1:]) == [b"m" * LIMIT] and not reader.skipping and not reader.buffer


def test_an_oversized_frame_whose_end_block_is_split_ends_the_skipping() -> None:
    reader = FrameReader(LIMIT)
    assert reader.feed(START + b"m" * (LIMIT + 1)) == [OversizedFrame(b"m" * LIMIT, LIMIT)]
    assert reader.feed(END[:1]) == [] and reader.skipping
    assert reader.feed(END[1:]) == [] and not reader.skipping and not reader.buffer
    reader = FrameReader(LIMIT)  # the same when the frame is found too long in the read that splits the end block
    assert reader.feed(START + b"m" * (LIMIT + 5) + END[:1]) == [OversizedFrame(b"m" * LIMIT, LIMIT)]
    assert reader.feed(END[1:] + START + b"MSH|next" + END) == [b"MSH|next"]
    assert not reader.skipping and not reader.buffer
