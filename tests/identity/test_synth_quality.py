"""Linkage quality on `tessera synth` data: overlapping institutions, corrupted records, households, twins."""

from __future__ import annotations

import random
from collections import Counter
from itertools import combinations

import numpy as np
import pytest

from adapters.cli.synth import FAMILY, generate, patient_resource, pick_family
from adapters.cli.synth_names import GIVEN_F, GIVEN_M
from engine.identity import MatchIndex, MatchModel, person_from_patient
from engine.identity.nicknames import are_nicknames
from engine.identity.training import date_u, random_pairs

PEOPLE = 4000


def _linked(seed: int):
    registrations, persons = generate(institutions=3, patients=PEOPLE, seed=seed)
    records, truth = [], {}
    for institution, rows in registrations.items():
        for mrn, person in rows:
            record = person_from_patient(patient_resource(person, institution, mrn), source=institution)
            records.append(record)
            truth[record.record_id] = person.person
    model = MatchModel.train(records)
    index = MatchIndex(model)
    for record in records:
        index.add(record)
    groups = index.clusters(index.link_all())  # never across a clear conflict (twin chains)
    return persons, truth, groups


def _pairs(groups) -> set[frozenset[str]]:
    return {frozenset(p) for group in groups for p in combinations(sorted(group), 2)}


def test_synthetic_institutions_link_with_high_precision_and_recall_and_no_twins_merged():
    persons, truth, groups = _linked(seed=7)
    by_person: dict[str, list[str]] = {}
    for record, person in truth.items():
        by_person.setdefault(person, []).append(record)
    expected = {frozenset(p) for records in by_person.values() for p in combinations(records, 2)}
    found = _pairs(groups)
    precision = len(found & expected) / len(found)
    recall = len(found & expected) / len(expected)
    homes: dict[tuple, list[str]] = {}
    for p in persons:
        homes.setdefault((p.family, p.line, p.postcode, p.birth), []).append(p.person)
    twins = {frozenset(p) for members in homes.values() for p in combinations(members, 2)}
    merged = [pair for pair in found if frozenset(truth[r] for r in pair) in twins]
    print(f"\nsynth {PEOPLE} people, {len(truth)} records: precision {precision:.4f}, recall {recall:.4f}, "
          f"{len(twins)} twin pairs, {len(merged)} twin record pairs merged")
    assert len(twins) > 100  # the data holds twins to be kept apart
    assert precision >= 0.995 and recall >= 0.97
    assert not merged


def test_synthetic_name_pools_are_wide_and_twins_get_names_of_their_own():
    registrations, persons = generate(institutions=3, patients=3000, seed=3)
    family = Counter(p.family for p in persons)
    given = Counter(p.given for p in persons)
    assert family.most_common(1)[0][1] / len(persons) < 0.03 and len(family) > 300
    assert given.most_common(1)[0][1] / len(persons) < 0.05 and len(given) > 150
    assert len(set(GIVEN_F) & set(GIVEN_M)) == 0 and len(set(FAMILY)) == len(FAMILY)
    homes: dict[tuple, list] = {}
    for p in persons:
        homes.setdefault((p.family, p.line, p.birth), []).append(p)
    twins = [m for m in homes.values() if len(m) > 1]
    assert twins
    for pair in twins:
        for a, b in combinations(pair, 2):
            assert a.given != b.given and not are_nicknames(a.given, b.given)
    # households share addresses; married names and moves still corrupt the other institutions' records
    changed = Counter()
    for rows in registrations.values():
        for _, version in rows:
            original = persons[int(version.person[1:])]
            changed["family"] += version.family != original.family
            changed["postcode"] += version.postcode != original.postcode
            changed["given"] += version.given != original.given
    assert all(changed[field] > 100 for field in ("family", "postcode", "given"))


def test_picks_follow_a_skewed_frequency_curve():
    rng = random.Random(1)
    counts = Counter(pick_family(rng) for _ in range(20000))
    assert counts[FAMILY[0]] > counts[FAMILY[200]] > 0


def test_date_u_matches_the_empirical_rate_of_different_people():
    rng = np.random.default_rng(4)
    n = 20000
    years = rng.integers(1930, 2016, n).astype(np.int16)
    months = rng.integers(1, 13, n).astype(np.int8)
    days = rng.integers(1, 29, n).astype(np.int8)
    u = np.array([0, 1e-3, 1e-3, 0, 2e-3, 5e-4, 0.9955])  # exact and transposed wrong on purpose
    out = date_u(years, months, days, u)
    assert abs(out[1:].sum() - 1) < 1e-9
    left, right = random_pairs(np.zeros(n, dtype=np.int64), 3_000_000, within_source=True, rng=rng)
    same = (years[left] == years[right]) & (months[left] == months[right]) & (days[left] == days[right])
    assert abs(out[1] - same.mean()) / same.mean() < 0.2  # 1 / (86 * 12 * 28) = 3.5e-5
    assert out[3] < out[1]  # a transposed date is rarer than an equal one (days > 12 cannot transpose)
    assert out[2] == pytest.approx(u[2] * (1 - out[1] - out[3]) / (1 - u[1] - u[3]))  # other levels keep shares
    few = date_u(years[:10], months[:10], days[:10], u)
    assert np.array_equal(few, u)  # too few dates: left as estimated
