"""Bulk loading on SQLite and PostgreSQL: later references, repeated ids, batches, cycles and Bundle kinds."""
from __future__ import annotations

from typing import Any

import pytest

from engine.errors import ResourceGone, ResourceNotFound
from engine.services.bulk_load import BulkLoader


def _loader(container) -> tuple[BulkLoader, list[tuple[str, str]]]:
    rejected: list[tuple[str, str]] = []
    loader = BulkLoader(container.resources, container.bundles, on_reject=lambda where, why: rejected.append(
        (where, why)), source="urn:test:bulk")
    return loader, rejected


def _patient(pid: str, **extra: Any) -> dict[str, Any]:
    return {"resourceType": "Patient", "id": pid, "name": [{"family": "Bulk"}], **extra}


def _observation(oid: str, patient: str, status: str = "final") -> dict[str, Any]:
    return {"resourceType": "Observation", "id": oid, "status": status, "code": {"text": "weight"},
            "subject": {"reference": f"Patient/{patient}"}}


def _current(container, resource_type: str, resource_id: str) -> dict[str, Any]:
    return container.resources.read(resource_type, resource_id).body


def test_a_transaction_waits_for_a_patient_loaded_after_it(container):
    loader, rejected = _loader(container)
    loader.load("a.json", {"resourceType": "Bundle", "type": "transaction", "entry": [
        {"resource": _observation("o1", "p1"), "request": {"method": "PUT", "url": "Observation/o1"}}]})
    loader.load("b.json", _patient("p1"))
    loader.finish()
    assert rejected == [] and loader.accepted == 2
    assert _current(container, "Observation", "o1")["subject"]["reference"] == "Patient/p1"


def test_the_last_version_in_the_input_wins_even_when_an_earlier_one_waited(container):
    loader, rejected = _loader(container)
    loader.load("f:1", _observation("o3", "p3", "preliminary"))
    loader.load("f:2", _patient("p3"))
    loader.load("f:3", _observation("o3", "p3", "amended"))
    loader.finish()
    assert rejected == []
    observation = _current(container, "Observation", "o3")
    assert observation["status"] == "amended" and observation["meta"]["versionId"] == "2"


def test_a_batch_counts_each_entry_and_names_the_failing_one(container):
    loader, rejected = _loader(container)
    entries = [{"resource": _patient(f"b{i}"), "request": {"method": "PUT", "url": f"Patient/b{i}"}} for i in range(4)]
    entries[2]["resource"]["birthDate"] = "notadate"
    entries.append({"resource": _observation("bo", "late"), "request": {"method": "PUT", "url": "Observation/bo"}})
    loader.load("batch.json", {"resourceType": "Bundle", "type": "batch", "entry": entries})
    loader.load("late.json", _patient("late"))
    loader.finish()
    assert [where for where, _ in rejected] == ["batch.json entry[2]"]
    assert "birthDate" in rejected[0][1]
    assert loader.accepted == 3 + 1 + 1  # three Patients, the Observation once its patient came, the late Patient
    assert _current(container, "Observation", "bo")["subject"]["reference"] == "Patient/late"


def test_resources_that_refer_to_each_other_load_together_and_a_dangling_one_is_rejected(container):
    loader, rejected = _loader(container)
    link = lambda other: [{"other": {"reference": f"Patient/{other}"}, "type": "seealso"}]  # noqa: E731
    loader.load("pat1.json", _patient("pat1", link=link("pat2")))
    loader.load("dangling.json", _observation("od", "nobody"))
    loader.load("pat2.json", _patient("pat2", link=link("pat1")))
    loader.finish()
    assert [where for where, _ in rejected] == ["dangling.json"]
    assert "Patient/nobody" in rejected[0][1]
    assert _current(container, "Patient", "pat1")["link"][0]["other"]["reference"] == "Patient/pat2"
    assert _current(container, "Patient", "pat2")["link"][0]["other"]["reference"] == "Patient/pat1"
    with pytest.raises(ResourceNotFound):
        container.resources.read("Observation", "od")


def test_collection_entries_are_loaded_and_a_document_is_kept_as_a_bundle(container):
    loader, rejected = _loader(container)
    loader.load("c.json", {"resourceType": "Bundle", "type": "collection", "entry": [
        {"resource": _patient("c1")}, {"fullUrl": "urn:uuid:x"}, {"resource": _observation("c2", "c1")}]})
    loader.load("s.json", {"resourceType": "Bundle", "type": "searchset", "entry": [
        {"resource": _patient("s1"), "search": {"mode": "match"}},
        {"resource": {"resourceType": "OperationOutcome", "issue": [{"severity": "warning", "code": "informational"}]},
         "search": {"mode": "outcome"}}]})
    document = {"resourceType": "Bundle", "id": "doc1", "type": "document",
                "identifier": {"system": "urn:test", "value": "doc1"}, "timestamp": "2026-01-01T00:00:00Z",
                "entry": [{"fullUrl": "urn:uuid:c", "resource": {
                    "resourceType": "Composition", "status": "final", "type": {"text": "note"},
                    "date": "2026-01-01", "title": "Note", "author": [{"display": "Dr"}]}}]}
    loader.load("d.json", document)
    loader.finish()
    assert rejected == [("c.json entry[1]", "the entry holds no resource")]
    assert loader.accepted == 4
    assert _current(container, "Observation", "c2")["subject"]["reference"] == "Patient/c1"
    assert _current(container, "Patient", "s1")["id"] == "s1"
    assert _current(container, "Bundle", "doc1")["type"] == "document"


def test_records_that_are_not_resources_or_too_deep_are_rejected_and_the_rest_load(container):
    loader, rejected = _loader(container)
    deep: dict[str, Any] = {"url": "urn:x", "valueString": "v"}
    for _ in range(100):
        deep = {"url": "urn:x", "extension": [deep]}
    loader.load("n:1", [1, 2])
    loader.load("n:2", _patient("deep", extension=[deep]))
    loader.load("n:3", _patient("fine"))
    loader.finish()
    assert [where for where, _ in rejected] == ["n:1", "n:2"]
    assert "nesting deeper than 64" in rejected[1][1]
    assert loader.accepted == 1 and _current(container, "Patient", "fine")["id"] == "fine"


def test_a_chain_of_forward_references_resolves_in_one_round_and_keeps_the_input_order(container):
    loader, rejected = _loader(container)
    calls = 0
    update = container.resources.update

    def counting_update(*args, **kwargs):
        nonlocal calls
        calls += 1
        return update(*args, **kwargs)

    container.resources.update = counting_update
    chain = 40
    for i in range(chain):  # each links to the next, which comes later in the input
        loader.load(f"c:{i}", _patient(f"ch{i}", link=[{"other": {"reference": f"Patient/ch{i + 1}"},
                                                         "type": "seealso"}]))
    loader.load(f"c:{chain}", _patient(f"ch{chain}"))
    loader.finish()
    assert rejected == [] and loader.accepted == chain + 1
    assert calls <= 3 * (chain + 1)  # not one round per link


def test_a_version_whose_reference_fails_does_not_reject_records_a_later_version_satisfies(container):
    loader, rejected = _loader(container)
    loader.load("f:1", _observation("ox", "x"))
    loader.load("f:2", _patient("x", managingOrganization={"reference": "Organization/missing"}))
    loader.load("f:3", _patient("x"))
    loader.finish()
    assert [where for where, _ in rejected] == ["f:2"]
    assert _current(container, "Observation", "ox")["subject"]["reference"] == "Patient/x"


def test_malformed_entries_and_history_bundles(container):
    loader, rejected = _loader(container)
    loader.load("bad.json", {"resourceType": "Bundle", "type": "collection", "entry": [
        {"resource": _patient("m1"), "search": "match"}, "not an entry", {"resource": _patient("m2")}]})
    loader.load("tx.json", {"resourceType": "Bundle", "type": "transaction", "entry": [{"request": "POST"}]})
    history = {"resourceType": "Bundle", "type": "history", "entry": [  # newest first, as _history answers
        {"request": {"method": "DELETE", "url": "Patient/h2"}},
        {"resource": _patient("h1", name=[{"family": "New"}]), "request": {"method": "PUT", "url": "Patient/h1"}},
        {"resource": _patient("h2"), "request": {"method": "POST", "url": "Patient"}},
        {"resource": _patient("h1", name=[{"family": "Old"}]), "request": {"method": "POST", "url": "Patient"}}]}
    loader.load("history.json", history)
    loader.finish()
    assert [where for where, _ in rejected] == ["bad.json entry[1]", "tx.json"]
    assert _current(container, "Patient", "m1")["id"] == "m1" and _current(container, "Patient", "m2")["id"] == "m2"
    assert _current(container, "Patient", "h1")["name"] == [{"family": "New"}]
    with pytest.raises(ResourceGone):
        container.resources.read("Patient", "h2")


def test_a_collection_refers_between_its_entries_by_their_urn_full_urls(container):
    loader, rejected = _loader(container)
    observation = {**_observation("u2", "ignored"), "subject": {"reference": "urn:uuid:7d1c"}}
    loader.load("c.json", {"resourceType": "Bundle", "type": "collection", "entry": [
        {"fullUrl": "urn:uuid:9f3b", "resource": observation},  # before the patient it refers to
        {"fullUrl": "urn:uuid:7d1c", "resource": _patient("u1")},
        {"fullUrl": "urn:uuid:0a4c", "resource": {**observation, "id": "u3", "subject": {"reference": "urn:uuid:5e"}}}]})
    loader.finish()
    assert [where for where, _ in rejected] == ["c.json entry[2]"]  # urn:uuid:5e names no entry
    assert loader.accepted == 2
    assert _current(container, "Observation", "u2")["subject"]["reference"] == "Patient/u1"


@pytest.mark.parametrize("bad_id, kind", [(123, "a number"), (None, "null"), (["p"], "an array")])
def test_an_id_that_is_not_a_string_is_rejected_not_replaced(container, bad_id, kind):
    loader, rejected = _loader(container)
    loader.load("n:1", {"resourceType": "Patient", "id": bad_id, "name": [{"family": "Numeric"}]})
    loader.load("n:2", _patient("fine-id"))
    loader.load("n:3", {"resourceType": "Bundle", "id": bad_id, "type": "collection",  # a container, not stored
                        "entry": [{"resource": _patient("in-collection")}]})
    loader.finish()
    assert rejected == [("n:1", f"Patient.id must be a string (FHIR id), not {kind}")]
    assert loader.accepted == 2
    found = container.search.search("Patient", [("family", "Numeric")], base_url="http://t")
    assert found["total"] == 0
