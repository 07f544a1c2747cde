"""The store's batched operations agree with their one-at-a-time forms, on SQLite and PostgreSQL."""
from __future__ import annotations

from engine.fhir.dates import parse_range
from engine.services.writes import prepare_delete, prepare_write
from engine.store.model import TokenLookup
from engine.store.ports import UnitOfWork

NOW = parse_range("2026-01-01T00:00:00Z")[0]


def _patient(pid: str, mrn: str, system: str | None = "urn:mrn", **extra: object) -> dict:
    identifier = {"value": mrn} if system is None else {"system": system, "value": mrn}
    return {"resourceType": "Patient", "id": pid, "identifier": [identifier], **extra}


def _write(uow: UnitOfWork, resource: dict, now: int = NOW) -> None:
    current = uow.current(resource["resourceType"], resource["id"])
    uow.save([prepare_write(resource, resource_id=resource["id"], current=current, now_us=now, source=None)])


def test_find_by_tokens_answers_each_lookup_like_find_by_token(container):
    with container.store.unit_of_work() as uow:
        _write(uow, _patient("a", "1"))
        _write(uow, _patient("b", "2"))
        _write(uow, _patient("c", "2"))  # a second match for urn:mrn|2
        _write(uow, _patient("d", "3", system=None))
        uow.commit()
    lookups = [TokenLookup("Patient", "identifier", "urn:mrn", "1"),
               TokenLookup("Patient", "identifier", "urn:mrn", "2"),
               TokenLookup("Patient", "identifier", None, "3"),
               TokenLookup("Patient", "identifier", None, "2", any_system=True),
               TokenLookup("Patient", "identifier", "urn:other", "1"),
               TokenLookup("Observation", "identifier", "urn:mrn", "1")]
    with container.store.unit_of_work(read_only=True) as uow:
        batched = uow.find_by_tokens(lookups, limit=2)
        single = [uow.find_by_token(x.resource_type, x.parameter, x.system, x.code, any_system=x.any_system,
                                    limit=2) for x in lookups]
    assert [[r.resource_id for r in found] for found in batched] == [["a"], ["b", "c"], ["d"], ["b", "c"], [], []]
    assert batched == single
    assert batched[0][0].body["identifier"] == [{"system": "urn:mrn", "value": "1"}]


def test_current_many_and_lock_keys(container):
    with container.store.unit_of_work() as uow:
        _write(uow, _patient("a", "1"))
        _write(uow, _patient("b", "2"))
        uow.commit()
    with container.store.unit_of_work() as uow:
        uow.lock_keys(["Patient?x", "Patient?y", "Patient?x"])
        found = uow.current_many([("Patient", "a"), ("Patient", "b"), ("Patient", "zz")], for_update=True)
        assert set(found) == {("Patient", "a"), ("Patient", "b")}
        assert found[("Patient", "a")] == uow.current("Patient", "a")
        assert uow.current_many([]) == {}


def test_batched_save_replaces_index_rows_and_records_deletes(container):
    with container.store.unit_of_work() as uow:
        _write(uow, _patient("a", "1", birthDate="1970-01-01"))
        _write(uow, {"resourceType": "Observation", "id": "o", "status": "final",
                     "code": {"text": "weight"}, "subject": {"reference": "Patient/a"},
                     "valueQuantity": {"value": 72.5, "unit": "kg", "system": "http://unitsofmeasure.org",
                                       "code": "kg"}})
        uow.commit()
    with container.store.unit_of_work() as uow:
        _write(uow, _patient("a", "9", birthDate="1980-02-02"), now=NOW + 1)  # update: old index rows go
        current = uow.current("Observation", "o")
        uow.save([prepare_delete("Observation", "o", current, NOW + 1)])
        uow.commit()
    search = container.search
    assert search.search("Patient", [("identifier", "urn:mrn|9")], base_url="http://t")["total"] == 1
    assert search.search("Patient", [("identifier", "urn:mrn|1")], base_url="http://t")["total"] == 0
    assert search.search("Patient", [("birthdate", "1980-02-02")], base_url="http://t")["total"] == 1
    assert search.search("Observation", [("value-quantity", "72.5")], base_url="http://t")["total"] == 0
    with container.store.unit_of_work(read_only=True) as uow:
        deleted = uow.read("Observation", "o")
        assert deleted is not None and deleted.deleted and deleted.body is None and deleted.version == 2
        assert uow.read("Observation", "o", 1).body["valueQuantity"]["value"] == 72.5
        patient = uow.read("Patient", "a")
        assert patient.version == 2 and patient.body["meta"]["versionId"] == "2"
        events = [(e.resource_id, e.version, e.operation) for e in uow.outbox(limit=100)
                  if (e.resource_type, e.resource_id) in (("Patient", "a"), ("Observation", "o"))]
    assert sorted(events) == [("a", 1, "upsert"), ("a", 2, "upsert"), ("o", 1, "upsert"), ("o", 2, "delete")]


def test_quantity_search_finds_what_the_batched_save_indexed(container):
    with container.store.unit_of_work() as uow:
        _write(uow, _patient("a", "1"))
        _write(uow, {"resourceType": "Observation", "id": "o", "status": "final", "code": {"text": "weight"},
                     "subject": {"reference": "Patient/a"}, "valueQuantity": {"value": 72.5, "unit": "kg"}})
        uow.commit()
    found = container.search.search("Observation", [("value-quantity", "72.5")], base_url="http://t")
    assert found["total"] == 1
