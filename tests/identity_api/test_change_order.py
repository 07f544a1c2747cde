"""Matching follows the change log in commit order: a Patient whose transaction commits after a later one's is
still matched (PostgreSQL, where two writers commit in either order)."""
from __future__ import annotations

import threading
from pathlib import Path

from engine.security.caller import SYSTEM
from engine.settings import Settings
from adapters.bootstrap import build_container
from tests.identity_api.conftest import patient


def test_a_patient_committed_after_a_later_change_is_still_matched(postgres_factory, tmp_path: Path):
    url = postgres_factory.create(tmp_path)
    container = build_container(Settings(database_url=url, data_dir=tmp_path, db_pool_size=4, jobs_inline=True,
                                         search_indexing="off"), migrate=False)
    try:
        resources = container.resources
        resources.update("Patient", "seed", {**patient("Seed", "Person", "1950-01-01", mrn="1"), "id": "seed"})
        slow = container.store.unit_of_work()
        slow.__enter__()
        resources._update_in(slow, "Patient", "early", {**patient("Alma", "Early", "1970-01-01", mrn="2"),
                                                         "id": "early"}, None, None, SYSTEM)
        later = threading.Thread(target=lambda: resources.update(
            "Patient", "later", {**patient("Bruno", "Later", "1971-02-02", mrn="3"), "id": "later"}))
        later.start()
        later.join()
        assert "later" in container.identity.repo.links()
        slow.commit()  # its change number is lower than the one already read
        slow.__exit__(None, None, None)
        assert {"seed", "early", "later"} <= set(container.identity.repo.links())
    finally:
        container.close()
        postgres_factory.drop(url)


def test_patients_whose_matching_failed_are_matched_on_the_next_sync(container, monkeypatch):
    identity = container.identity
    resources = container.resources
    resources.update("Patient", "first", {**patient("Ada", "First", "1960-01-01", mrn="11"), "id": "first"})
    real = identity._process
    failures = []

    def failing_once(ids):
        if not failures:
            failures.append(ids)
            raise RuntimeError("a concurrent matcher wrote the same links first")
        return real(ids)

    monkeypatch.setattr(identity, "_process", failing_once)
    resources.update("Patient", "second", {**patient("Ben", "Second", "1961-02-02", mrn="12"), "id": "second"})
    assert failures and "second" not in identity.repo.links()  # the inline matching failed (and was logged)
    identity.sync()
    assert {"first", "second"} <= set(identity.repo.links())
