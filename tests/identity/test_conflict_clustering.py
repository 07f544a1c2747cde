"""Clustering that never joins two groups holding a clear conflict: the twin chain John - "Jack" - Jacob."""

from __future__ import annotations

import math

import pytest

from engine.identity import MatchIndex, MatchSettings, PersonRecord, ScoredPair, clusters
from engine.identity.golden import cluster, match_components
from engine.identity.ports import Pair, pair_key
from engine.identity.strings import within_two_edits


def scored(a: str, b: str, probability: float, decision: str = "match") -> ScoredPair:
    return ScoredPair(a, b, probability, math.log2(probability / (1 - probability)), decision, [])


def test_a_chain_through_a_clear_conflict_is_cut_and_the_stronger_link_wins():
    pairs = [scored("a", "b", 0.999), scored("b", "c", 0.995)]
    assert clusters(pairs, ["a", "b", "c"]) == [{"a", "b", "c"}]
    assert clusters(pairs, ["a", "b", "c"], conflicts={("a", "c")}) == [{"a", "b"}, {"c"}]
    stronger_bc = [scored("a", "b", 0.995), scored("b", "c", 0.999)]
    assert clusters(stronger_bc, ["a", "b", "c"], conflicts={("a", "c")}) == [{"a"}, {"b", "c"}]


def test_a_conflict_between_unrelated_records_changes_nothing():
    pairs = [scored("a", "b", 0.999), scored("c", "d", 0.999)]
    assert clusters(pairs, ["a", "b", "c", "d"], conflicts={("a", "c")}) == [{"a", "b"}, {"c", "d"}]


def auto(a: str, b: str, probability: float) -> Pair:
    return Pair(*pair_key(a, b), probability=probability, decision="match")


def test_golden_clustering_cuts_the_chain_but_a_manual_match_overrides_the_conflict():
    pairs = [auto("a", "b", 0.999), auto("b", "c", 0.995)]
    assert cluster({"a", "b", "c"}, pairs, {("a", "c")}) == [{"a", "b"}, {"c"}]
    manual = Pair(*pair_key("a", "c"), manual="match", updated_us=1)
    assert cluster({"a", "b", "c"}, [*pairs, manual], {("a", "c")}) == [{"a", "b", "c"}]
    # a manual match vouches for its records: b, automatically matched to a, joins despite b-c
    assert cluster({"a", "b", "c"}, [*pairs, manual], {("b", "c")}) == [{"a", "b", "c"}]
    # records no person touched still stay apart
    assert cluster({"a", "b", "c", "d"}, [*pairs, auto("c", "d", 0.999)], {("a", "d")}) == [{"a", "b"}, {"c", "d"}]
    assert match_components({"a", "b", "c", "d"}, pairs) == [{"a", "b", "c"}, {"d"}]


def test_a_manual_no_match_still_separates_when_no_conflict_is_scored():
    pairs = [auto("a", "b", 0.999), auto("b", "c", 0.995),
             Pair(*pair_key("a", "c"), manual="no-match", updated_us=1)]
    assert cluster({"a", "b", "c"}, pairs) == [{"a", "b"}, {"c"}]


def twin(record_id: str, given: str, source: str) -> PersonRecord:
    return PersonRecord(record_id=record_id, source=source, given=(given,), family="Okafor",
                        birth_date="1990-07-14", sex="male", postcode="02139", address="12 Kirkland Street",
                        city="Cambridge", phone="617-555-0142")


@pytest.fixture
def twins_index(trained_model) -> MatchIndex:
    index = MatchIndex(trained_model)
    for record in (twin("john", "John", "a"), twin("jack", "Jack", "b"), twin("jacob", "Jacob", "c")):
        index.add(record)
    return index


def test_the_index_finds_the_twin_conflict_and_keeps_the_twins_apart(twins_index):
    pairs = twins_index.link_all()
    matched = {frozenset((p.left_id, p.right_id)) for p in pairs if p.decision == "match"}
    assert {frozenset(("john", "jack")), frozenset(("jack", "jacob"))} <= matched  # the chain exists
    assert frozenset(("john", "jacob")) not in matched
    assert clusters(pairs, ["john", "jack", "jacob"]) == [{"jack", "jacob", "john"}]  # plain union merges them
    assert twins_index.conflicts([{"john", "jack", "jacob"}]) == {("jacob", "john")}
    # "Jack" matches both twins equally well: it joins neither, and the twins stay apart
    assert twins_index.clusters(pairs) == [{"jack"}, {"jacob"}, {"john"}]


def test_the_conflict_check_can_be_turned_off(trained_model):
    index = MatchIndex(trained_model, MatchSettings(conflict_probability=0.0))
    for record in (twin("john", "John", "a"), twin("jack", "Jack", "b"), twin("jacob", "Jacob", "c")):
        index.add(record)
    assert index.conflicts([{"john", "jack", "jacob"}]) == set()
    with pytest.raises(ValueError, match="conflict_probability"):
        MatchSettings(conflict_probability=0.6)


def test_conflict_scores_are_recomputed_when_a_record_changes(twins_index):
    assert twins_index.conflicts([{"john", "jack", "jacob"}]) == {("jacob", "john")}
    twins_index.add(twin("jacob", "John", "c"))  # now the same person as john
    assert twins_index.conflicts([{"john", "jack", "jacob"}]) == set()
    twins_index.remove("jack")
    twins_index.add(twin("jack", "Jacob", "b"))
    assert twins_index.conflicts([{"john", "jack", "jacob"}]) == {("jack", "jacob"), ("jack", "john")}


def test_a_record_matching_both_sides_of_a_conflict_equally_well_joins_neither():
    tie = [ScoredPair("jack", "john", 0.999, 20.0, "match", []), ScoredPair("jack", "jacob", 0.999, 20.3, "match", [])]
    assert clusters(tie, ["jack", "jacob", "john"], conflicts={("jacob", "john")}) == [{"jack"}, {"jacob"}, {"john"}]
    stronger = [ScoredPair("jack", "john", 0.9999, 24.0, "match", []), tie[1]]
    assert clusters(stronger, ["jack", "jacob", "john"], conflicts={("jacob", "john")}) == [{"jack", "john"}, {"jacob"}]
    pairs = [Pair(*pair_key("jack", "john"), probability=0.999, decision="match", explanation={"weight": 20.0}),
             Pair(*pair_key("jack", "jacob"), probability=0.999, decision="match", explanation={"weight": 20.0})]
    assert cluster({"jack", "john", "jacob"}, pairs, {("jacob", "john")}) == [{"jack"}, {"jacob"}, {"john"}]
    assert cluster({"jack", "john", "jacob"}, pairs) == [{"jack", "jacob", "john"}]


@pytest.mark.parametrize("a, b, expected", [
    ("linda", "linda", True), ("aym", "amy", True), ("londa", "linna", True), ("decnan", "dclan", True),
    ("ab", "abcd", True), ("ab", "abcde", False), ("john", "jacob", False), ("carol", "charles", False),
])
def test_two_keying_slips(a, b, expected):
    assert within_two_edits(a, b) is expected and within_two_edits(b, a) is expected
