"""The pieces both indexes share: query terms, FTS5 expressions, the vector matrix, bulk item outcomes."""
from __future__ import annotations

import sqlite3

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from adapters.search.elastic_bulk import outcome, rejection_reason
from adapters.search.embedded_schema import TOKENIZER
from adapters.search.fts_query import any_of
from adapters.search.query_terms import QueryTerms, query_terms, query_words, stem, word_forms
from adapters.search.snippets import MARK_END, MARK_START, marked_to_html
from adapters.search.vector_matrix import VectorMatrix


@pytest.mark.parametrize(("word", "forms"), [
    ("fracture", ["fracture", "fractures", "fracture's"]),
    ("fractures", ["fractures", "fracture"]),
    ("allergies", ["allergies", "allergy", "allergie"]),
    ("diagnoses", ["diagnoses", "diagnose", "diagnosis"]),
    ("diagnosis", ["diagnosis", "diagnoses"]),
    ("alzheimer's", ["alzheimer's", "alzheimer", "alzheimers"]),
    ("hba1c", ["hba1c"]),
    ("7.5", ["7.5"]),
    ("ab", ["ab"]),
])
def test_word_forms(word: str, forms: list[str]) -> None:
    assert word_forms(word) == forms


def test_query_words_drop_syntax_and_keep_inner_punctuation() -> None:
    assert query_words('NEAR("Alzheimer’s" OR title:x*) 7.5 -- HbA1c') == [
        "near", "alzheimer's", "or", "title", "x", "7.5", "hba1c"]
    assert not query_terms("  ***  ")


@pytest.mark.parametrize(("word", "expected"), [
    ("hypertension", "hypertens"), ("hypertensive", "hypertens"), ("infarction", "infarct"),
    ("diabetes", "diabet"), ("diabetic", "diabet"), ("fractures", "fractur"), ("vaccination", "vaccin"),
    ("alzheimer's", "alzheim"), ("arthritis", None), ("pain", None), ("anemia", None), ("hba1c", None),
])
def test_stems_of_longer_words(word: str, expected: str | None) -> None:
    assert stem(word) == expected


def test_query_terms_carry_forms_and_stems() -> None:
    assert query_terms("HTN hypertension") == QueryTerms(
        ("htn", "htns", "htn's", "hypertension", "hypertensions", "hypertension's"), ("hypertens",))


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_any_user_text_makes_a_valid_fts5_expression(text: str) -> None:
    connection = sqlite3.connect(":memory:")
    connection.execute(f"CREATE VIRTUAL TABLE t USING fts5(body, tokenize='{TOKENIZER}')")
    connection.execute("INSERT INTO t VALUES ('some words here')")
    expression = any_of(query_terms(text))
    if expression is not None:
        connection.execute("SELECT count(*) FROM t WHERE t MATCH ?", (expression,)).fetchone()


def test_highlight_marks_become_em_and_the_rest_is_escaped() -> None:
    fragment = f"a <b> & {MARK_START}gout{MARK_END}"
    assert marked_to_html(fragment) == "a &lt;b&gt; &amp; <em>gout</em>"


def test_the_vector_matrix_matches_a_brute_force_scan() -> None:
    rng = np.random.default_rng(7)
    vectors = rng.normal(size=(300, 16)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    matrix = VectorMatrix(16, capacity=4)
    held: dict[int, np.ndarray] = {}
    for row_id in rng.permutation(300):
        matrix.put(int(row_id) + 1, vectors[row_id])
        held[int(row_id) + 1] = vectors[row_id]
    for row_id in rng.choice(list(held), size=120, replace=False):
        matrix.remove(int(row_id))
        del held[int(row_id)]
    replaced = next(iter(held))
    matrix.put(replaced, vectors[0])
    held[replaced] = vectors[0]
    query = vectors[3]
    expected = sorted(held, key=lambda row_id: (-float(held[row_id] @ query), row_id))
    assert [row_id for row_id, _ in matrix.nearest(query, 10)] == expected[:10]
    assert len(matrix) == len(held)
    subset = np.array(sorted(held)[:40] + [99_999], dtype=np.int64)
    allowed = [row_id for row_id in expected if row_id in set(subset.tolist())]
    assert [row_id for row_id, _ in matrix.nearest(query, 5, subset)] == allowed[:5]
    wide = np.array(sorted(held), dtype=np.int64)
    assert [row_id for row_id, _ in matrix.nearest(query, 5, wide)] == expected[:5]
    reloaded = VectorMatrix.of(16, np.array(list(held)), np.stack(list(held.values())))
    assert [row_id for row_id, _ in reloaded.nearest(query, 10)] == expected[:10]


@pytest.mark.parametrize(("item", "result"), [
    ({"index": {"status": 201}}, "indexed"),
    ({"index": {"status": 409, "error": {"type": "version_conflict_engine_exception"}}}, "stale"),
    ({"delete": {"status": 200}}, "deleted"),
    ({"delete": {"status": 404, "result": "not_found"}}, "ignored"),
    ({"delete": {"status": 409, "error": {"type": "version_conflict_engine_exception"}}}, "stale"),
    ({"index": {"status": 429, "error": {"type": "es_rejected_execution_exception"}}}, "transient"),
    ({"index": {"status": 503, "error": {"type": "unavailable_shards_exception"}}}, "transient"),
    ({"index": {"status": 400, "error": {"type": "document_parsing_exception"}}}, "rejected"),
    ({"index": {"status": 404, "error": {"type": "index_not_found_exception"}}}, "transient"),
    ({"index": {"status": 403, "error": {"type": "cluster_block_exception"}}}, "transient"),
    ({"delete": {"status": 400, "error": {"type": "index_closed_exception"}}}, "transient"),
])
def test_bulk_item_outcomes(item: dict, result: str) -> None:
    assert outcome(item) == result


def test_rejection_reasons_keep_causes_and_withhold_values() -> None:
    item = {"index": {"status": 400, "error": {
        "type": "document_parsing_exception",
        "reason": "[1:30] failed to parse field [date_us] of type [long] in document with id 'Condition/a'. "
                  "Preview of field's value: 'Jane Doe 1970-01-01'",
        "caused_by": {"type": "illegal_argument_exception", "reason": "For input string: \"Jane Doe\""}}}}
    reason = rejection_reason(item)
    assert reason.startswith("document_parsing_exception: [1:30] failed to parse field [date_us]")
    assert "Preview of field's value withheld" in reason
    assert "Jane" not in reason and "1970" not in reason
    assert reason.endswith("caused by illegal_argument_exception")
