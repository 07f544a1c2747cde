"""TESSERA_IDENTITY_MATCHING=workers: a Patient write queues matching; a worker process (another container on
the same database) follows the outbox and writes links and golden Patients."""
from __future__ import annotations

from pathlib import Path

import pytest

from engine.identity.ports import is_golden
from engine.security.caller import Caller
from engine.settings import Settings
from adapters.bootstrap import build_container
from adapters.jobs.identity_trigger import IDENTITY_TASK, NUDGE_KEY
from tests.identity_api.conftest import patient
from tests.support.services import require


def _settings(store_url: str, folder: Path, broker: str) -> Settings:
    return Settings(database_url=store_url, data_dir=folder, db_pool_size=2, jobs_inline=True, broker_url=broker,
                    identity_matching="workers", search_indexing="off")


@pytest.fixture
def pair_of_processes(store_url: str, tmp_path: Path):
    broker = require("TESSERA_BROKER_URL", "Redis")
    api = build_container(_settings(store_url, tmp_path / "api", broker), migrate=False)
    worker = build_container(_settings(store_url, tmp_path / "worker", broker), migrate=False, indexing_trigger=False)
    yield api, worker
    api.close()
    worker.close()


def test_a_patient_write_queues_matching_and_a_worker_links_it(pair_of_processes):
    api, worker = pair_of_processes
    sent: list[tuple[str, str | None]] = []
    api.match_trigger.app.send_task = lambda name, **options: sent.append((name, options.get("queue")))
    api.match_trigger.redis.delete(NUDGE_KEY)
    api.match_trigger.dedupe_s = 60  # the burst below must fall in one window however slow the machine is
    first = {**patient("Jonathan", "Smith", "1980-03-12", mrn="77"), "id": "p-1"}
    api.resources.update("Patient", "p-1", first, caller=Caller.institution_only("general-hospital"))
    assert sent == [(IDENTITY_TASK, "index")]
    assert api.identity.index is None and api.identity.repo.links() == {}  # nothing matched in the API process
    second = {**patient("Jonathan", "Smith", "1980-03-12", mrn="C-5", system="urn:mrn:city"), "id": "p-2"}
    api.resources.update("Patient", "p-2", second, caller=Caller.institution_only("city-clinic"))
    assert len(sent) == 1  # a burst of writes queues one task

    assert worker.identity.sync() == 2
    links = worker.identity.repo.links()
    assert set(links) == {"p-1", "p-2"} and links["p-1"].golden_id == links["p-2"].golden_id
    with api.store.unit_of_work(read_only=True) as uow:
        golden = uow.read("Patient", links["p-1"].golden_id)
    assert golden is not None and is_golden(golden.body)
    assert {x["other"]["reference"] for x in golden.body["link"]} == {"Patient/p-1", "Patient/p-2"}
    assert worker.identity.sync() == 0  # its own golden writes are not matched again
