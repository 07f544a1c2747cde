"""Batch linking (`tessera link`) over `tessera synth` data, and the synthetic files themselves."""
from __future__ import annotations

import csv
from itertools import combinations

from engine.security.caller import Caller
from adapters.cli.synth import generate, patient_resource, write


def _load(container, registrations) -> dict[str, str]:
    truth = {}
    for institution, rows in registrations.items():
        for mrn, person in rows:
            body = patient_resource(person, institution, mrn)
            container.resources.update("Patient", body["id"], body, caller=Caller.institution_only(institution))
            truth[body["id"]] = person.person
    return truth


def test_batch_linking_puts_every_patient_in_one_golden_record_and_finds_the_duplicates(container):
    registrations, _ = generate(institutions=3, patients=120, seed=3)
    container.store.listeners.clear()  # load first, link in batch
    truth = _load(container, registrations)
    stats = container.identity.link_all(retrain=False)
    assert stats["records"] == len(truth)
    links = container.identity.repo.links()
    assert set(links) == set(truth)
    groups: dict[str, set[str]] = {}
    for patient_id, link in links.items():
        groups.setdefault(link.golden_id, set()).add(patient_id)
    found = {frozenset(p) for g in groups.values() for p in combinations(sorted(g), 2)}
    expected = {frozenset((a, b)) for a, b in combinations(sorted(truth), 2) if truth[a] == truth[b]}
    precision = len(found & expected) / max(len(found), 1)
    recall = len(found & expected) / max(len(expected), 1)
    assert precision >= 0.97 and recall >= 0.85, (precision, recall)
    again = container.identity.link_all(retrain=False)  # idempotent: same golden ids
    assert again["golden_records"] == stats["golden_records"]
    assert {p: l.golden_id for p, l in container.identity.repo.links().items()} == \
           {p: l.golden_id for p, l in links.items()}


def test_synth_writes_hl7_ndjson_and_ground_truth_that_the_feed_accepts(container, tmp_path):
    registrations, persons = generate(institutions=3, patients=40, seed=5)
    counts = write(tmp_path, registrations)
    assert sum(counts.values()) > len(persons)  # overlapping populations
    with (tmp_path / "truth.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == sum(counts.values())
    assert len({r["person"] for r in rows}) == len(persons)
    messages = (tmp_path / "inst1.hl7").read_bytes().split(b"\n")  # one message a line, segments end in CR
    for raw in [m for m in messages if m][:5]:
        assert container.feeds.receive(raw).ack_code == "AA"
    assert len((tmp_path / "inst2.ndjson").read_text().splitlines()) == counts["inst2"]
