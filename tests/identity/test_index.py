"""MatchIndex: incremental add/update/remove, candidates, matching one record, batch linking, clusters."""

from __future__ import annotations

import pytest

from engine.identity import MatchIndex, MatchSettings, PersonRecord, ScoredPair, clusters

SSN = "http://hl7.org/fhir/sid/us-ssn"


def rec(record_id: str, source: str = "a", **changes) -> PersonRecord:
    base = dict(
        given=("Anna",),
        family="Kowalczyk",
        birth_date="1980-05-01",
        sex="female",
        postcode="02139",
        address="12 Kirkland Street",
        city="Cambridge",
        phone="617-555-0142",
    )
    base.update(changes)
    return PersonRecord(record_id=record_id, source=source, **base)


OTHERS = [
    rec(
        "o1",
        given=("Piotr",),
        family="Nowak",
        birth_date="1955-01-17",
        sex="male",
        postcode="10001",
        address="5 Broadway",
        city="New York",
        phone="212-555-0101",
    ),
    rec(
        "o2",
        given=("Chen",),
        family="Wei",
        birth_date="1990-12-30",
        postcode="94105",
        address="1 Market St",
        city="San Francisco",
        phone="415-555-0199",
    ),
    rec("o3", given=("Maria",), family="Kowalczyk", birth_date="1980-05-01"),  # twin sister, same household
]


@pytest.fixture
def index(trained_model) -> MatchIndex:
    index = MatchIndex(trained_model)
    for record in OTHERS:
        index.add(record)
    return index


def test_match_finds_the_same_person_first(index):
    index.add(rec("anna-a"))
    results = index.match(rec("anna-b", source="b", given=("Ana",), phone=None))
    assert [p.right_id for p in results][:1] == ["anna-a"]
    assert results[0].decision == "match" and results[0].left_id == "anna-b"
    assert [p.probability for p in results] == sorted((p.probability for p in results), reverse=True)
    assert {p.right_id for p in results} <= set(index.candidates(rec("anna-b", source="b", given=("Ana",))))
    assert next(p for p in results if p.right_id == "o3").decision == "no-match"
    assert "anna-b" not in index  # matching does not index


def test_candidates_exclude_the_record_itself_and_unrelated_records(index):
    index.add(rec("anna-a"))
    found = index.candidates(rec("anna-a"))
    assert "anna-a" not in found and "o3" in found
    assert "o1" not in found and "o2" not in found


def test_add_update_remove(index):
    index.add(rec("anna-a"))
    assert "anna-a" in index and len(index) == 4
    index.update(
        rec(
            "anna-a",
            given=("Zofia",),
            family="Zielinska",
            birth_date="1931-02-02",
            postcode="60601",
            address="9 Lake Shore Drive",
            city="Chicago",
            phone="312-555-0000",
        )
    )
    assert "anna-a" not in index.candidates(rec("probe", source="b"))
    assert index.remove("anna-a") is True
    assert index.remove("anna-a") is False
    assert "anna-a" not in index and len(index) == 3
    assert [p.right_id for p in index.match(rec("probe", source="b"))] == ["o3"]
    index.add(rec("anna-a"))  # slots are reused
    assert "anna-a" in index.candidates(rec("probe", source="b"))


def test_link_all_returns_pairs_above_the_review_threshold(index):
    index.add(rec("anna-a"))
    index.add(rec("anna-b", source="b", given=("Ana",)))
    index.add(rec("anna-c", source="c", phone=None, identifiers=((SSN, "123-45-6789"),)))
    pairs = index.link_all()
    assert all(isinstance(p, ScoredPair) for p in pairs)
    assert all(p.probability >= index.settings.review_probability for p in pairs)
    linked = {frozenset((p.left_id, p.right_id)) for p in pairs if p.decision == "match"}
    assert linked == {
        frozenset(x) for x in [("anna-a", "anna-b"), ("anna-a", "anna-c"), ("anna-b", "anna-c")]
    }
    groups = clusters(pairs, [r.record_id for r in OTHERS] + ["anna-a", "anna-b", "anna-c"])
    assert {"anna-a", "anna-b", "anna-c"} in groups and {"o3"} in groups and len(groups) == 4


def test_match_indexed_scores_each_record_as_match_would(index):
    probes = [rec("anna-a"), rec("anna-b", source="b", given=("Ana",), phone=None)]
    alone = {probe.record_id: [(p.right_id, p.probability, p.decision) for p in index.match(probe)]
             for probe in probes}
    for probe in probes:
        index.add(probe)
    batched = index.match_indexed([probe.record_id for probe in probes])
    assert set(batched) == {"anna-a", "anna-b"}
    for record_id, pairs in batched.items():
        others = {p.record_id for p in probes} - {record_id}
        got = [(p.right_id, p.probability, p.decision) for p in pairs if p.right_id not in others]
        assert got == alone[record_id]
        assert all(p.left_id == record_id for p in pairs)
    assert [p.right_id for p in batched["anna-b"]][:1] == ["anna-a"]  # each other, now both indexed


def test_link_across_sources_only(trained_model):
    index = MatchIndex(trained_model, MatchSettings(link_within_source=False))
    index.add(rec("a1", source="a"))
    index.add(rec("a2", source="a"))
    index.add(rec("b1", source="b"))
    pairs = index.link_all()
    assert {frozenset((p.left_id, p.right_id)) for p in pairs} == {
        frozenset(("a1", "b1")),
        frozenset(("a2", "b1")),
    }
    assert index.candidates(rec("a3", source="a")) == ["b1"]


def test_oversized_blocks_are_skipped_with_a_warning_without_data(trained_model):
    settings = MatchSettings(max_block_size=3, blocking_rules=(("family",), ("identifier",)))
    index = MatchIndex(trained_model, settings)
    for n in range(5):
        index.add(rec(f"k{n}", identifiers=((SSN, f"123-45-000{n}"),)))
    assert index.candidates(rec("probe", identifiers=((SSN, "123-45-0001"),))) == ["k1"]
    assert len(index.warnings) == 1
    warning = index.warnings[0]
    assert "family" in warning and "5" in warning and "kowalczyk" not in warning.lower()
    assert index.link_all() == [] and index.warnings and "kowalczyk" not in " ".join(index.warnings).lower()


def test_clusters_are_connected_components_of_matches():
    def pair(a: str, b: str, decision: str = "match") -> ScoredPair:
        return ScoredPair(a, b, 0.99, 7.0, decision, [])

    groups = clusters(
        [pair("a", "b"), pair("b", "c"), pair("d", "e", "possible"), pair("x", "y")],
        ["a", "b", "c", "d", "e"],
    )
    assert groups == [{"a", "b", "c"}, {"d"}, {"e"}, {"x", "y"}]
    assert clusters([], []) == []
