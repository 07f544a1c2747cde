"""nDCG, recall and code-based judgments, checked against values worked out by hand."""
from __future__ import annotations

import math

import pytest

from engine.indexing.relevance import CodeRule, Judgment, dcg_at, gain, mean_by_name, ndcg_at, recall_at

SCT = "http://snomed.info/sct"
LOINC = "http://loinc.org"

# b and e are exact, c related, a and d not relevant; e is never retrieved.
GRADES = {"a": 0, "b": 2, "c": 1, "e": 2}
RANKED = ["a", "b", "c", "d"]


def test_gain_is_exponential_in_the_grade() -> None:
    assert [gain(0), gain(1), gain(2)] == [0.0, 1.0, 3.0]


def test_dcg_discounts_by_log2_of_rank_plus_one() -> None:
    # ranks 1..3: 0/log2(2) + 3/log2(3) + 1/log2(4) = 1.892789 + 0.5
    assert dcg_at(RANKED, GRADES, 3) == pytest.approx(2.392789, abs=1e-6)


def test_ndcg_divides_by_the_ideal_ordering() -> None:
    # ideal top 3 is [2, 2, 1]: 3/1 + 3/log2(3) + 1/2 = 5.392789
    assert ndcg_at(RANKED, GRADES, 3) == pytest.approx(2.392789 / 5.392789, abs=1e-6)
    assert ndcg_at(RANKED, GRADES, 3) == pytest.approx(0.443702, abs=1e-6)


def test_ndcg_at_1_with_a_related_item_first() -> None:
    assert ndcg_at(["c"], {"c": 1, "b": 2}, 1) == pytest.approx(1 / 3)


def test_ndcg_of_the_ideal_ranking_is_one() -> None:
    assert ndcg_at(["b", "e", "c", "a"], GRADES, 10) == pytest.approx(1.0)
    assert ndcg_at(["e", "b", "c"], GRADES, 2) == pytest.approx(1.0)


def test_ndcg_with_only_irrelevant_or_no_results_is_zero() -> None:
    assert ndcg_at(["a", "d"], GRADES, 10) == 0.0
    assert ndcg_at([], GRADES, 10) == 0.0


def test_ndcg_when_nothing_is_relevant_is_zero() -> None:
    assert ndcg_at(["a", "b"], {"a": 0}, 10) == 0.0
    assert ndcg_at(["a", "b"], {}, 10) == 0.0


def test_repeated_keys_count_once() -> None:
    # [b, b, e] is read as [b, e]: the ideal ranking of the two exact items, then c missing
    expected = (3 + 3 / math.log2(3)) / (3 + 3 / math.log2(3) + 1 / 2)
    assert ndcg_at(["b", "b", "e"], GRADES, 3) == pytest.approx(expected)
    assert recall_at(["b", "b", "b"], GRADES, 2) == pytest.approx(1 / 3)


def test_recall_counts_related_and_exact_items() -> None:
    assert recall_at(RANKED, GRADES, 2) == pytest.approx(1 / 3)  # b of {b, c, e}
    assert recall_at(RANKED, GRADES, 50) == pytest.approx(2 / 3)  # b and c; e never retrieved
    assert recall_at(["e", "c", "b"], GRADES, 3) == 1.0
    assert recall_at(RANKED, {"a": 0}, 10) == 0.0


def test_mean_by_name_averages_each_score_separately() -> None:
    rows = [{"words": 1.0, "meaning": 0.5}, {"words": 0.0, "meaning": 0.25}, {"words": 0.5}]
    assert mean_by_name(rows) == {"words": pytest.approx(0.5), "meaning": pytest.approx(0.375)}
    assert mean_by_name([]) == {}


def condition(code: str, system: str = SCT) -> dict:
    return {"resourceType": "Condition", "code": {"coding": [{"system": system, "code": code}]}}


def test_a_rule_matches_the_naming_concept_of_its_type() -> None:
    rule = CodeRule.from_json({"type": "Condition", "system": SCT, "codes": ["38341003"]})
    assert rule.element == "code"
    assert rule.matches(condition("38341003"))
    assert not rule.matches(condition("44054006"))
    assert not rule.matches(condition("38341003", system=LOINC))
    assert not rule.matches({**condition("38341003"), "resourceType": "Observation"})


def test_a_rule_reads_the_element_it_names_in_every_repetition() -> None:
    rule = CodeRule.from_json({"type": "Encounter", "system": SCT, "codes": ["65363002"], "element": "reasonCode"})
    encounter = {"resourceType": "Encounter",
                 "type": [{"coding": [{"system": SCT, "code": "185345009"}]}],
                 "reasonCode": [{"coding": [{"system": SCT, "code": "444814009"}]},
                                {"coding": [{"system": SCT, "code": "65363002"}]}]}
    assert rule.matches(encounter)
    assert not CodeRule.from_json({"type": "Encounter", "system": SCT, "codes": ["65363002"]}).matches(encounter)


def test_a_rule_over_references_matches_the_concept_of_their_targets() -> None:
    rule = CodeRule.from_json({"type": "Procedure", "system": SCT, "codes": ["68496003"],
                               "element": "reasonReference"})
    procedure = {"resourceType": "Procedure", "reasonReference": [{"reference": "urn:uuid:1"}]}
    targets = {"urn:uuid:1": condition("68496003")}
    assert rule.matches(procedure, targets.get)
    assert not rule.matches(procedure, {"urn:uuid:1": condition("283371005")}.get)
    assert not rule.matches(procedure, {}.get)
    assert not rule.matches(procedure)


def test_a_judgment_grades_exact_before_related() -> None:
    judgment = Judgment.from_json({
        "grade2": [{"type": "Condition", "system": SCT, "codes": ["38341003"]}],
        "grade1": [{"type": "Condition", "system": SCT, "codes": ["38341003", "162864005"]}],
    })
    assert judgment.grade(condition("38341003")) == 2
    assert judgment.grade(condition("162864005")) == 1
    assert judgment.grade(condition("444814009")) == 0


def test_malformed_rules_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown keys"):
        CodeRule.from_json({"type": "Condition", "system": SCT, "codes": ["1"], "display": "x"})
    with pytest.raises(ValueError, match="at least one code"):
        CodeRule.from_json({"type": "Condition", "system": SCT, "codes": []})
    with pytest.raises(ValueError, match="must name its element"):
        CodeRule.from_json({"type": "Claim", "system": SCT, "codes": ["1"]})
