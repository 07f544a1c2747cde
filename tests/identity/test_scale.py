"""Scale: 100,000 synthetic records (~20% duplicates with typos): batch linking and incremental matching."""

from __future__ import annotations

import statistics
import time
from collections import Counter

import pytest

from engine.identity import MatchIndex, MatchModel
from tests.identity.synthetic import Population, population

RECORDS = 100_000
BATCH_LIMIT_S = 120.0
INCREMENTAL_P95_LIMIT_MS = 50.0


@pytest.mark.scale
def test_batch_and_incremental_matching_at_100k():
    records, person = population(RECORDS, seed=23)
    started = time.perf_counter()
    model = MatchModel.train(records)
    train_s = time.perf_counter() - started

    index = MatchIndex(model)
    started = time.perf_counter()
    for record in records:
        index.add(record)
    add_s = time.perf_counter() - started
    started = time.perf_counter()
    pairs = index.link_all()
    link_s = time.perf_counter() - started

    matches = [p for p in pairs if p.decision == "match"]
    correct = sum(1 for p in matches if person[p.left_id] == person[p.right_id])
    true_pairs = sum(n * (n - 1) // 2 for n in Counter(person.values()).values())

    fresh = Population(seed=99)
    probes = [fresh.person(10**7 + n, "probe") for n in range(100)]
    probes += [
        fresh.duplicate(records[n], f"probe-dup-{n}", "probe") for n in range(0, RECORDS, RECORDS // 100)
    ]
    match_ms, add_ms, found = [], [], 0
    for probe in probes:
        started = time.perf_counter()
        result = index.match(probe)
        match_ms.append((time.perf_counter() - started) * 1000)
        found += bool(result and result[0].decision == "match")
        started = time.perf_counter()
        index.add(probe)
        add_ms.append((time.perf_counter() - started) * 1000)
    p95 = statistics.quantiles(match_ms, n=20)[-1]

    print(
        f"\nscale: {RECORDS} records, train {train_s:.1f} s ({model.training['candidate_pairs']} candidate "
        f"pairs), add {add_s:.1f} s, link_all {link_s:.1f} s -> {len(pairs)} pairs >= review "
        f"({len(matches)} match: precision {correct / max(len(matches), 1):.4f}, "
        f"recall {correct / true_pairs:.4f}); incremental match p50 {statistics.median(match_ms):.1f} ms, "
        f"p95 {p95:.1f} ms, max {max(match_ms):.1f} ms; "
        f"add p95 {statistics.quantiles(add_ms, n=20)[-1]:.2f} ms; "
        f"probes matched {found}/200 (100 are duplicates); warnings {len(index.warnings)}"
    )
    assert link_s < BATCH_LIMIT_S and add_s + link_s < BATCH_LIMIT_S
    assert p95 < INCREMENTAL_P95_LIMIT_MS
    assert correct / max(len(matches), 1) > 0.99 and correct / true_pairs > 0.9
