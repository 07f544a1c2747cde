"""`tessera bench link --json`: batch linking throughput and quality, incremental match latency (SQLite)."""
from __future__ import annotations

import random
import tempfile
import time
from itertools import combinations
from pathlib import Path
from typing import Any

from engine.security.caller import Caller
from engine.settings import Settings
from adapters.bootstrap import build_container
from adapters.cli.synth import corrupt, generate, patient_resource

INCREMENTAL_PROBES = 200


def _true_pairs(truth: dict[str, str]) -> set[frozenset[str]]:
    by_person: dict[str, list[str]] = {}
    for record, person in truth.items():
        by_person.setdefault(person, []).append(record)
    return {frozenset(pair) for records in by_person.values() for pair in combinations(sorted(records), 2)}


def _twin_pairs(persons: list[Any]) -> set[frozenset[str]]:
    """Pairs of different persons of one household born the same day (twins), by person id."""
    homes: dict[tuple[str, str, str, str], list[str]] = {}
    for person in persons:
        home = (person.family, person.line, person.postcode, person.birth)
        homes.setdefault(home, []).append(person.person)
    return {frozenset(pair) for members in homes.values() for pair in combinations(members, 2)}


def _found_pairs(links: dict[str, Any]) -> set[frozenset[str]]:
    groups: dict[str, list[str]] = {}
    for patient_id, link in links.items():
        groups.setdefault(link.golden_id, []).append(patient_id)
    return {frozenset(pair) for members in groups.values() for pair in combinations(sorted(members), 2)}


def bench_link(*, patients: int = 2000, institutions: int = 3, seed: int = 7) -> dict[str, Any]:
    """Load synthetic institutions, batch-link with a retrained model, then time inline matching."""
    registrations, persons = generate(institutions=institutions, patients=patients, seed=seed)
    truth = {f"{inst}-{mrn}": person.person for inst, rows in registrations.items() for mrn, person in rows}
    with tempfile.TemporaryDirectory() as folder:
        container = build_container(Settings(data_dir=Path(folder), database_url=f"sqlite:///{folder}/link.db",
                                                 search_indexing="off"))
        try:
            listeners = list(container.store.listeners)
            container.store.listeners.clear()  # load without inline matching; batch linking comes next
            for inst, rows in registrations.items():
                caller = Caller.institution_only(inst)
                for mrn, person in rows:
                    body = patient_resource(person, inst, mrn)
                    container.resources.update("Patient", body["id"], body, caller=caller)
            started = time.perf_counter()
            stats = container.identity.link_all(retrain=True)
            batch_seconds = time.perf_counter() - started
            index = container.identity.index
            left, right, _ = index.blocks.pairs(index.settings.max_block_size)
            found = _found_pairs(container.identity.repo.links())
            expected = _true_pairs(truth)
            hits = len(found & expected)
            span = len(index.ids) + 1
            candidates = set((left * span + right).tolist())
            slot = index.slots
            blocked = sum(1 for a, b in map(sorted, expected)
                          if min(slot[a], slot[b]) * span + max(slot[a], slot[b]) in candidates)
            blocking_recall = blocked / len(expected) if expected else 1.0
            twins = _twin_pairs(persons)
            twins_merged = sum(1 for pair in found if frozenset(truth[r] for r in pair) in twins)
            precision = hits / len(found) if found else 1.0
            recall = hits / len(expected) if expected else 1.0
            container.store.listeners.extend(listeners)
            container.identity.sync()  # catch up on the batch's own golden writes: probes time one write each
            latencies = []
            rng = random.Random(seed)
            for n in range(INCREMENTAL_PROBES):
                inst, rows = rng.choice(sorted(registrations.items()))
                _, person = rng.choice(rows)
                body = patient_resource(corrupt(person, rng, 0.3), inst, f"X{n:06d}")
                began = time.perf_counter()
                container.resources.update("Patient", body["id"], body, caller=Caller.institution_only(inst))
                latencies.append((time.perf_counter() - began) * 1000)
            latencies.sort()
        finally:
            container.close()
    records = len(truth)
    return {"benchmark": "link", "records": records, "institutions": institutions,
            "pairs_compared": int(left.size), "pairs_scored": stats["pairs_scored"],
            "blocking_recall": round(blocking_recall, 4), "precision": round(precision, 4),
            "recall": round(recall, 4),
            "f1": round(2 * precision * recall / (precision + recall), 4) if precision + recall else 0.0,
            "twin_pairs": len(twins), "twin_record_pairs_merged": twins_merged,
            "batch_seconds": round(batch_seconds, 3), "records_per_s": round(records / batch_seconds, 1),
            "incremental_p50_ms": round(latencies[len(latencies) // 2], 2),
            "incremental_p95_ms": round(latencies[int(len(latencies) * 0.95) - 1], 2)}
