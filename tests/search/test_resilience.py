"""The production pipeline under failure: Elasticsearch unreachable mid-stream, a worker killed mid-batch."""
from __future__ import annotations

import json
import subprocess
import uuid
from pathlib import Path

import pytest
import redis
from urllib.parse import urlsplit

from tests.search import records
from tests.search.conftest import BROKER_DB, TESSERA, Production, client_for, wait_for
from tests.support.services import require
from tests.support.tcp_proxy import TcpProxy


@pytest.fixture
def unreliable(postgres_factory, tmp_path: Path):
    """The production profile reaching Elasticsearch through a proxy the test can cut."""
    es_url = require("TESSERA_ELASTICSEARCH_URL", "Elasticsearch")
    broker = require("TESSERA_BROKER_URL", "Redis")
    broker_url = broker.rsplit("/", 1)[0] + f"/{BROKER_DB + 2}"
    redis.Redis.from_url(broker_url).flushdb()
    target = urlsplit(es_url)
    proxy = TcpProxy(target.hostname or "127.0.0.1", target.port or 9200)
    database_url = postgres_factory.create(tmp_path)
    services = Production(database_url, broker_url, proxy.url, tmp_path)
    yield services, proxy
    if proxy._listener is None:
        proxy.restore()  # the index is dropped through the proxy
    services.close()
    proxy.close()
    postgres_factory.drop(database_url)
    redis.Redis.from_url(broker_url).flushdb()


def _bundle(patient_id: str, count: int, *, distinct: bool) -> dict:
    entries = []
    for n in range(count):
        label = f"Finding {uuid.uuid4().hex[:8]} of the {n} kind" if distinct else "Seasonal allergic rhinitis"
        body = records.condition(patient_id, f"9{n:07d}", label)
        entries.append({"resource": body, "request": {"method": "POST", "url": "Condition"}})
    return {"resourceType": "Bundle", "type": "transaction", "entry": entries}


def _verify(services: Production) -> dict:
    completed = subprocess.run([TESSERA, "reindex", "--verify"], env=services.env, capture_output=True, text=True,
                               timeout=300)
    assert completed.returncode == 0, completed.stdout + completed.stderr
    return json.loads(completed.stdout.splitlines()[0])


def test_writes_go_on_while_elasticsearch_is_down_and_the_index_catches_up(unreliable):
    services, proxy = unreliable
    client = client_for(services.container)
    services.start_worker()
    patient = client.post("/fhir/Patient", json=records.patient(), headers={"content-type": "application/fhir+json"})
    patient_id = patient.json()["id"]
    outbox = services.container.indexing.outbox
    wait_for(lambda: outbox.pending() == 0, 180)

    proxy.cut()
    for _ in range(5):
        response = client.post("/fhir", json=_bundle(patient_id, 20, distinct=False),
                               headers={"content-type": "application/fhir+json"})
        assert response.status_code == 200, response.text
    assert outbox.pending() >= 100
    down = client.get("/api/search", params={"q": "rhinitis"})
    assert down.status_code == 503, down.text
    assert down.json()["issue"][0]["code"] == "transient"

    proxy.restore()
    wait_for(lambda: outbox.pending() == 0, 120, interval_s=0.5)
    summary = _verify(services)
    assert summary["clean"] and summary["checked"] == 102  # the conditions, the patient and its golden record
    services.container.search_index.refresh()
    found = client.get("/api/search", params={"q": "rhinitis", "patient": patient_id, "mode": "words", "limit": 100})
    assert found.status_code == 200 and found.json()["total"] == 100


def test_a_worker_killed_mid_batch_loses_and_duplicates_nothing(unreliable):
    services, _proxy = unreliable
    client = client_for(services.container)
    patient = client.post("/fhir/Patient", json=records.patient(), headers={"content-type": "application/fhir+json"})
    patient_id = patient.json()["id"]
    for _ in range(6):  # distinct texts, so each batch spends seconds embedding
        response = client.post("/fhir", json=_bundle(patient_id, 250, distinct=True),
                               headers={"content-type": "application/fhir+json"})
        assert response.status_code == 200
    outbox = services.container.indexing.outbox
    total = outbox.pending()
    assert total >= 1501  # the conditions and the patient, plus the audit trail's own events
    first = services.start_worker()
    wait_for(lambda: 0 < outbox.pending() < total, 180, interval_s=0.05)  # at least one batch done, more running
    services.kill(first)
    left = outbox.pending()
    assert left > 0
    services.start_worker()
    wait_for(lambda: outbox.pending() == 0, 300, interval_s=0.5)
    summary = _verify(services)
    assert summary["clean"] and summary["checked"] == 1502  # the conditions, the patient and its golden record
    versions = list(services.container.search_index.versions())
    assert len(versions) == len({v.key for v in versions}) == 1502
