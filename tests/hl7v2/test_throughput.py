"""Throughput of parse_message (all samples x 50) and map_message (supported samples x 50), printed with -s."""
from __future__ import annotations

import time

from adapters.hl7v2 import map_message, parse_message
from tests.hl7v2.samples import all_samples, supported_samples

ROUNDS = 50
FLOOR = 100  # messages/s; a regression guard, far below the measured figures


def test_parse_and_map_throughput():
    raws = [path.read_bytes() for path in all_samples()]
    started = time.perf_counter()
    for _ in range(ROUNDS):
        for raw in raws:
            parse_message(raw)
    parse_rate = ROUNDS * len(raws) / (time.perf_counter() - started)
    parsed = [parse_message(path.read_bytes()) for path in supported_samples()]
    started = time.perf_counter()
    resources = 0
    for _ in range(ROUNDS):
        for message in parsed:
            resources += len(map_message(message, raw_message_id="t", received_at="2026-01-01T00:00:00Z")
                             .bundle["entry"])
    elapsed = time.perf_counter() - started
    map_rate = ROUNDS * len(parsed) / elapsed
    print(f"\nparse_message: {parse_rate:,.0f} messages/s ({len(raws)} samples x {ROUNDS}, "
          f"{sum(map(len, raws)) / len(raws):,.0f} bytes average)")
    print(f"map_message:   {map_rate:,.0f} messages/s, {resources / elapsed:,.0f} resources/s "
          f"({len(parsed)} supported samples x {ROUNDS})")
    assert parse_rate > FLOOR and map_rate > FLOOR
