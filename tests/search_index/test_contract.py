"""The `SearchIndex` contract, run against Elasticsearch and the embedded SQLite index alike."""
from __future__ import annotations

import math
import sys

import numpy as np
import pytest

from engine.indexing.model import Deletion, IndexFilter
from engine.indexing.ports import SearchIndex
from tests.search_index.builders import DAY_US, DIMENSIONS, JAN_2024_US, axis, indexed
from tests.support.services import require

EVERYTHING = IndexFilter()


def keys(hits) -> list[str]:
    return [hit.key for hit in hits]


def applied(index: SearchIndex, documents=(), deletions=()):
    report = index.apply(list(documents), list(deletions))
    index.refresh()
    return report


# --------------------------------------------------------------------------------------------------- words

def test_words_finds_the_matching_document_with_a_highlighted_snippet(index: SearchIndex) -> None:
    applied(index, [
        indexed("Condition/fracture", title="Condition: Fracture of femur",
                text="Closed fracture of the left femur after a fall. Healing well.",
                displays=("Fracture of femur",)),
        indexed("Condition/asthma", title="Condition: Asthma",
                text="Mild intermittent asthma, inhaler as needed."),
        indexed("Observation/glucose", title="Observation: Glucose", text="Glucose 5.4 mmol/L fasting."),
    ])
    hits = index.words("femur fracture", EVERYTHING, 10)
    assert keys(hits) == ["Condition/fracture"]
    best = hits[0]
    assert "<em>" in best.snippet and "</em>" in best.snippet
    assert (best.resource_type, best.resource_id, best.version, best.patient, best.date_us) == (
        "Condition", "fracture", 1, "Patient/p1", JAN_2024_US)
    assert best.score > 0


def test_snippets_can_be_highlighted_after_ranking_for_one_page(index: SearchIndex) -> None:
    applied(index, [
        indexed("Condition/fracture", title="Condition: Fracture of femur",
                text="Closed fracture of the left femur after a fall. Healing well."),
        indexed("Condition/asthma", title="Condition: Asthma <b>", text="Mild intermittent asthma."),
    ])
    [plain] = index.words("femur fracture", EVERYTHING, 10, snippets=False)
    assert plain.snippet == "Condition: Fracture of femur"  # the title, unhighlighted
    [highlighted] = index.words("femur fracture", EVERYTHING, 10)
    found = index.highlight("femur fracture", ["Condition/fracture", "Condition/asthma", "Condition/gone"])
    assert found == {"Condition/fracture": highlighted.snippet} and "<em>" in highlighted.snippet
    assert index.highlight("asthma", ["Condition/asthma"]) == {
        "Condition/asthma": index.words("asthma", EVERYTHING, 10)[0].snippet}
    assert index.highlight("femur", []) == {}


def test_words_matches_any_word_and_ranks_by_bm25(index: SearchIndex) -> None:
    applied(index, [
        indexed("Condition/both", title="Condition: Migraine with aura", text="Migraine with visual aura."),
        indexed("Condition/one", title="Condition: Aura", text="Aura reported once."),
        indexed("Condition/none", title="Condition: Asthma", text="Asthma."),
    ])
    hits = index.words("migraine aura", EVERYTHING, 10)
    assert keys(hits) == ["Condition/both", "Condition/one"]
    assert hits[0].score > hits[1].score
    assert index.count_words("migraine aura", EVERYTHING) == 2


def test_a_title_match_ranks_above_a_passing_mention(index: SearchIndex) -> None:
    filler = " ".join(["Routine follow-up visit, vitals stable, no acute distress."] * 5)
    applied(index, [
        indexed("Condition/mention", title="Encounter: Follow-up",
                text=f"{filler} History of gout. {filler}"),
        indexed("Condition/titled", title="Condition: Gout", text="Gout of the right big toe.",
                displays=("Gout",)),
    ])
    assert keys(index.words("gout", EVERYTHING, 10)) == ["Condition/titled", "Condition/mention"]


def test_words_find_singular_plural_and_possessive_forms(index: SearchIndex) -> None:
    applied(index, [
        indexed("Condition/fractures", text="Multiple rib fractures."),
        indexed("Condition/alzheimer", text="Alzheimer's disease, early onset."),
        indexed("Condition/allergy", text="Peanut allergy."),
    ])
    assert keys(index.words("fracture", EVERYTHING, 10)) == ["Condition/fractures"]
    assert keys(index.words("alzheimer", EVERYTHING, 10)) == ["Condition/alzheimer"]
    assert keys(index.words("Alzheimers", EVERYTHING, 10)) == ["Condition/alzheimer"]
    assert keys(index.words("allergies", EVERYTHING, 10)) == ["Condition/allergy"]


def test_words_find_other_endings_of_a_longer_word_exact_ones_first(index: SearchIndex) -> None:
    applied(index, [
        indexed("Condition/hypertensive", title="Condition: Hypertensive disorder, systemic arterial",
                text="Hypertensive disorder, systemic arterial (disorder)."),
        indexed("Condition/hypertension", title="Condition: Essential hypertension",
                text="Essential hypertension."),
        indexed("Condition/retinopathy", title="Condition: Diabetic retinopathy", text="Diabetic retinopathy."),
    ])
    hits = index.words("hypertension", EVERYTHING, 10)
    assert keys(hits) == ["Condition/hypertension", "Condition/hypertensive"]
    assert "<em>Hypertensive</em>" in hits[1].snippet
    assert keys(index.words("diabetes", EVERYTHING, 10)) == ["Condition/retinopathy"]
    assert index.count_words("hypertension", EVERYTHING) == 2


def test_snippets_are_escaped_and_fall_back_to_the_title(index: SearchIndex) -> None:
    applied(index, [
        indexed("Observation/markup", title="Observation: <b>Potassium</b>",
                text="Potassium <script>alert(1)</script> & sodium in range."),
        indexed("Condition/display-only", title="Condition: Gout & arthritis", text="Seen in clinic.",
                displays=("Podagra",)),
    ])
    [hit] = index.words("potassium", EVERYTHING, 10)
    assert "<script>" not in hit.snippet and "&lt;script&gt;" in hit.snippet and "&amp;" in hit.snippet
    assert "<em>Potassium</em>" in hit.snippet
    [hit] = index.words("podagra", EVERYTHING, 10)
    assert hit.snippet == "Condition: Gout &amp; arthritis"


SYNTAX_QUERIES = [
    '"', '""', "*", "head*", "AND", "OR", "NOT", "x AND", "AND headache", "(", ")", "(((", "-", "-headache",
    "NEAR", "NEAR(headache aura)", "NEAR(headache", "title:headache", "{title text}: headache", "^headache",
    "'", "\\", "+headache", "headache\"", "\x00", "…", "🙂 headache", "headache OR", "a.b.c", "1/2",
]


def test_query_syntax_characters_never_fail(index: SearchIndex) -> None:
    applied(index, [indexed("Condition/headache", title="Condition: Headache", text="Tension headache.")])
    for query in SYNTAX_QUERIES:
        expected = ["Condition/headache"] if "headache" in query.lower() else []
        assert keys(index.words(query, EVERYTHING, 10)) == expected, query
        assert index.count_words(query, EVERYTHING) == len(expected), query


def test_a_query_without_words_finds_nothing(index: SearchIndex) -> None:
    applied(index, [indexed("Condition/headache", text="Tension headache.")])
    for query in ("", "   ", "!!!", "*** ---", "()"):
        assert index.words(query, EVERYTHING, 10) == [], query
        assert index.count_words(query, EVERYTHING) == 0, query


# ------------------------------------------------------------------------------------------------- meaning

def test_meaning_returns_the_nearest_vector_first(index: SearchIndex) -> None:
    applied(index, [
        indexed("Condition/far", vector=axis(3)),
        indexed("Condition/near", vector=axis(0, lean=1, amount=0.2)),
        indexed("Condition/nearer", vector=axis(0, lean=2, amount=0.05)),
        indexed("Condition/middle", vector=axis(0, lean=1, amount=1.0)),
    ])
    hits = index.meaning(axis(0), EVERYTHING, 10)
    assert keys(hits) == ["Condition/nearer", "Condition/near", "Condition/middle", "Condition/far"]
    assert [hit.snippet for hit in hits][:1] == ["Condition: nearer"]
    scores = [hit.score for hit in hits]
    assert scores == sorted(scores, reverse=True)
    assert scores[0] == pytest.approx(1.0, abs=0.02)  # (1 + cos) / 2
    assert scores[-1] == pytest.approx(0.5, abs=0.02)
    assert keys(index.meaning(axis(0), EVERYTHING, 2)) == ["Condition/nearer", "Condition/near"]


# ------------------------------------------------------------------------------------------------- filters

ALLOWED = {"patient": "Patient/p1", "source": "urn:source:lab", "institution": "urn:inst:north"}
SINCE, UNTIL = JAN_2024_US, JAN_2024_US + 30 * DAY_US
ODD = {  # name -> the one respect in which that document is not allowed
    "patient": {"patient": "Patient/p2"},
    "type": {"key": "Observation/odd-type"},
    "since": {"date_us": SINCE - DAY_US},
    "until": {"date_us": UNTIL},
    "source": {"source": "urn:source:feed"},
    "institution": {"institution": "urn:inst:south"},
}


def _filter_corpus():
    """Documents that all say "headache"; each odd one differs from the allowed ones in one respect only.

    The odd documents are the nearest to `axis(0)` and repeat the word most, so a filter applied after
    ranking instead of inside it would lose the allowed documents behind them.
    """
    documents = []
    for number, (name, change) in enumerate(ODD.items()):
        attributes = {**ALLOWED, "date_us": SINCE + DAY_US, **change}
        key = attributes.pop("key", f"Condition/odd-{name}")
        vector = axis(0, lean=1 + number % 7, amount=0.1 + 0.05 * number)
        documents.append(indexed(key, title="Headache headache", text="Headache, headache, headache.",
                                 vector=vector, **attributes))
    for number in range(4):
        vector = axis(0, lean=7, amount=1.2 + 0.3 * number)
        documents.append(indexed(f"Condition/base-{number}", text=f"Headache on day {number}.", vector=vector,
                                 date_us=SINCE + number * DAY_US, **ALLOWED))
    documents.append(indexed("Condition/undated", text="Headache, date unknown.", vector=axis(7),
                             date_us=None, **ALLOWED))
    return documents


def _passes(item, filters: IndexFilter) -> bool:
    document = item.document
    chosen = ((filters.patients, document.patient), (filters.types, document.resource_type),
              (filters.sources, document.source), (filters.institutions, document.institution))
    if any(allowed and value not in allowed for allowed, value in chosen):
        return False
    date = document.date_us
    if filters.since_us is not None and (date is None or date < filters.since_us):
        return False
    return filters.until_us is None or (date is not None and date < filters.until_us)


FILTERS = {
    "patient": IndexFilter(patients=("Patient/p1",)),
    "type": IndexFilter(types=("Condition",)),
    "since": IndexFilter(since_us=SINCE),
    "until": IndexFilter(until_us=UNTIL),
    "source": IndexFilter(sources=("urn:source:lab",)),
    "institution": IndexFilter(institutions=("urn:inst:north",)),
    "several values": IndexFilter(patients=("Patient/p1", "Patient/p2"), types=("Observation",)),
    "all at once": IndexFilter(patients=("Patient/p1",), types=("Condition",), since_us=SINCE, until_us=UNTIL,
                               sources=("urn:source:lab",), institutions=("urn:inst:north",)),
}


@pytest.mark.parametrize("name", list(FILTERS))
def test_filters_apply_inside_both_rankings(index: SearchIndex, name: str) -> None:
    filters = FILTERS[name]
    corpus = _filter_corpus()
    applied(index, corpus)
    allowed = [item for item in corpus if _passes(item, filters)]
    allowed_keys = {item.document.key for item in allowed}
    assert 0 < len(allowed) < len(corpus)
    nearest = max(allowed, key=lambda item: float(item.vector @ axis(0))).document.key

    assert set(keys(index.words("headache", filters, 50))) == allowed_keys
    assert index.count_words("headache", filters) == len(allowed)
    meaning = index.meaning(axis(0), filters, 50)
    assert set(keys(meaning)) == allowed_keys
    assert meaning[0].key == nearest

    size = min(2, len(allowed))
    for hits in (index.words("headache", filters, size), index.meaning(axis(0), filters, size)):
        assert len(hits) == size and set(keys(hits)) <= allowed_keys


# ---------------------------------------------------------------------------------------------- versions

def test_an_older_or_equal_version_is_stale_and_changes_nothing(index: SearchIndex) -> None:
    assert applied(index, [indexed("Condition/a", 2, text="Second version says migraine.")]).indexed == 1
    report = applied(index, [indexed("Condition/a", 1, text="First version says asthma."),
                             indexed("Condition/a", 2, text="Same version says asthma.")])
    assert (report.indexed, report.stale, report.rejected) == (0, 2, [])
    assert keys(index.words("migraine", EVERYTHING, 10)) == ["Condition/a"]
    assert index.words("asthma", EVERYTHING, 10) == []
    assert [(v.key, v.version) for v in index.versions()] == [("Condition/a", 2)]
    assert applied(index, [indexed("Condition/a", 3, text="Third says asthma.")]).indexed == 1
    assert index.words("migraine", EVERYTHING, 10) == []
    assert [hit.version for hit in index.words("asthma", EVERYTHING, 10)] == [3]


def test_the_newest_of_two_versions_in_one_batch_wins_in_either_order(index: SearchIndex) -> None:
    report = applied(index, [indexed("Condition/a", 5, text="newer"),
                             indexed("Condition/a", 4, text="older"),
                             indexed("Condition/b", 4, text="older"),
                             indexed("Condition/b", 5, text="newer")])
    assert (report.indexed, report.stale) == (3, 1)
    assert sorted((v.key, v.version) for v in index.versions()) == [("Condition/a", 5), ("Condition/b", 5)]
    assert index.words("older", EVERYTHING, 10) == []


def test_a_deletion_removes_the_document_from_everything(index: SearchIndex) -> None:
    applied(index, [indexed("Condition/a", 1, text="Gout.", vector=axis(1)),
                    indexed("Condition/b", 1, text="Gout.", vector=axis(2))])
    report = applied(index, deletions=[Deletion("Condition", "a", 2)])
    assert (report.deleted, report.stale) == (1, 0)
    assert keys(index.words("gout", EVERYTHING, 10)) == ["Condition/b"]
    assert keys(index.meaning(axis(1), EVERYTHING, 10)) == ["Condition/b"]
    assert index.count_words("gout", EVERYTHING) == 1
    assert [v.key for v in index.versions()] == ["Condition/b"]


def test_a_deleted_document_is_not_resurrected_by_an_older_index_operation(index: SearchIndex) -> None:
    applied(index, [indexed("Condition/a", 2, text="Gout.")])
    assert applied(index, deletions=[Deletion("Condition", "a", 3)]).deleted == 1
    for late in (2, 3):
        report = applied(index, [indexed("Condition/a", late, text="Gout.")])
        assert (report.indexed, report.stale) == (0, 1)
    assert index.words("gout", EVERYTHING, 10) == [] and list(index.versions()) == []
    assert applied(index, [indexed("Condition/a", 4, text="Gout again.")]).indexed == 1
    assert [hit.version for hit in index.words("gout", EVERYTHING, 10)] == [4]


def test_a_deletion_before_any_document_still_blocks_older_versions(index: SearchIndex) -> None:
    report = applied(index, deletions=[Deletion("Condition", "ghost", 5)])
    assert (report.deleted, report.stale, report.rejected) == (0, 0, [])
    assert applied(index, [indexed("Condition/ghost", 4, text="Gout.")]).stale == 1
    assert applied(index, [indexed("Condition/ghost", 6, text="Gout.")]).indexed == 1


def test_an_older_deletion_is_stale_and_an_equal_one_deletes(index: SearchIndex) -> None:
    applied(index, [indexed("Condition/a", 3, text="Gout."), indexed("Condition/b", 3, text="Gout.")])
    report = applied(index, deletions=[Deletion("Condition", "a", 2), Deletion("Condition", "b", 3)])
    assert (report.deleted, report.stale) == (1, 1)
    assert [v.key for v in index.versions()] == ["Condition/a"]


# -------------------------------------------------------------------------------------------- rejections

def test_poison_documents_are_rejected_and_the_rest_of_the_batch_is_indexed(index: SearchIndex) -> None:
    poison = [
        indexed("Condition/short-vector", text="Gout.", vector=np.ones(DIMENSIONS - 3, dtype=np.float32)),
        indexed("Condition/nan-vector", text="Gout.", vector=np.full(DIMENSIONS, math.nan, dtype=np.float32)),
        indexed("Condition/zero-vector", text="Gout.", vector=np.zeros(DIMENSIONS, dtype=np.float32)),
        indexed("Condition/bad-text", text="Gout \ud800 broken."),
    ]
    good = [indexed("Condition/good-1", text="Gout."), indexed("Condition/good-2", 7, text="Gout.")]
    report = applied(index, [poison[0], good[0], *poison[1:], good[1]])
    assert report.indexed == 2
    assert sorted((r.key, r.version) for r in report.rejected) == sorted((p.document.key, 1) for p in poison)
    assert all(r.reason for r in report.rejected)
    assert "dimension" in next(r.reason for r in report.rejected if r.key == "Condition/short-vector")
    assert sorted(v.key for v in index.versions()) == ["Condition/good-1", "Condition/good-2"]


# ----------------------------------------------------------------------------------- versions, clear, admin

def test_versions_lists_every_document_across_pages(index: SearchIndex,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys.modules[type(index).__module__], "VERSIONS_PAGE", 2)
    documents = [indexed(f"Condition/c{n}", n + 1) for n in range(5)] + [indexed("Observation/o1", 9)]
    applied(index, documents)
    assert sorted((v.key, v.version) for v in index.versions()) == sorted(
        (d.document.key, d.document.version) for d in documents)
    assert sorted(v.key for v in index.versions("Observation")) == ["Observation/o1"]
    assert list(index.versions("Patient")) == []


def test_clear_one_type_then_everything(index: SearchIndex) -> None:
    applied(index, [indexed("Condition/a", 3, text="Gout.", vector=axis(1)),
                    indexed("Condition/b", 3, text="Gout.", vector=axis(2)),
                    indexed("Observation/c", 3, text="Gout.", vector=axis(3))])
    index.clear("Condition")
    index.refresh()
    assert [v.key for v in index.versions()] == ["Observation/c"]
    assert keys(index.words("gout", EVERYTHING, 10)) == ["Observation/c"]
    assert keys(index.meaning(axis(1), EVERYTHING, 10)) == ["Observation/c"]
    rebuilt = applied(index, [indexed("Condition/a", 3, text="Gout.")])  # the same version as before
    assert rebuilt.indexed == 1
    index.clear()
    index.refresh()
    assert list(index.versions()) == [] and index.words("gout", EVERYTHING, 10) == []
    assert applied(index, [indexed("Observation/c", 3, text="Gout.")]).indexed == 1


def test_ensure_is_idempotent_and_ping_answers(index: SearchIndex) -> None:
    applied(index, [indexed("Condition/a", text="Gout.")])
    index.ensure()
    index.ensure()
    assert index.ping()
    assert [v.key for v in index.versions()] == ["Condition/a"]


def test_an_index_made_for_other_dimensions_is_refused(index: SearchIndex) -> None:
    if index.name == "embedded":
        from adapters.search.embedded_index import EmbeddedIndex

        with pytest.raises(ValueError, match="dimension"):
            EmbeddedIndex(index.path, DIMENSIONS + 1)
    else:
        from adapters.search.elastic_index import ElasticsearchIndex

        other = ElasticsearchIndex(require("TESSERA_ELASTICSEARCH_URL", "Elasticsearch"), index.index_name,
                                   DIMENSIONS + 1)
        with pytest.raises(ValueError, match="dimension"):
            other.ensure()
        other.close()


def test_filters_that_allow_nothing_find_nothing(index: SearchIndex) -> None:
    applied(index, [indexed("Condition/a", text="Gout.")])
    nobody = IndexFilter(patients=("Patient/nobody",))
    assert index.words("gout", nobody, 10) == [] and index.meaning(axis(0), nobody, 10) == []
    assert index.count_words("gout", nobody) == 0


def test_an_empty_index_answers_with_nothing(index: SearchIndex) -> None:
    assert index.words("gout", EVERYTHING, 10) == []
    assert index.meaning(axis(0), EVERYTHING, 10) == []
    assert index.count_words("gout", EVERYTHING) == 0
    assert list(index.versions()) == []
    assert index.apply([], []).indexed == 0
