"""The three local services started by deploy/ really run and answer (PostgreSQL, Redis, Elasticsearch)."""
from __future__ import annotations

import uuid

import httpx
import redis
import sqlalchemy as sa

from tests.support.services import require


def test_postgresql_answers_and_is_the_expected_server():
    engine = sa.create_engine(require("TESSERA_DATABASE_URL", "PostgreSQL"))
    with engine.connect() as connection:
        version = connection.execute(sa.text("SHOW server_version")).scalar_one()
        assert connection.execute(sa.text("SELECT 1 + 1")).scalar_one() == 2
    engine.dispose()
    assert int(version.split(".")[0]) >= 13


def test_redis_answers_ping_and_round_trips_a_value():
    client = redis.Redis.from_url(require("TESSERA_BROKER_URL", "Redis"))
    key = f"tessera-test-{uuid.uuid4().hex}"
    assert client.ping() is True
    client.set(key, "value", ex=30)
    assert client.get(key) == b"value"
    client.delete(key)


def test_elasticsearch_knn_query_returns_the_nearer_document():
    base = require("TESSERA_ELASTICSEARCH_URL", "Elasticsearch")
    index = f"tessera-test-{uuid.uuid4().hex[:12]}"
    with httpx.Client(base_url=base, timeout=30) as es:
        created = es.put(f"/{index}", json={
            "settings": {"number_of_shards": 1, "number_of_replicas": 0},
            "mappings": {"properties": {
                "title": {"type": "text"},
                "embedding": {"type": "dense_vector", "dims": 3, "index": True, "similarity": "cosine"}}}})
        assert created.status_code == 200, created.text
        try:
            for doc_id, vector in (("near", [1.0, 0.1, 0.0]), ("far", [-1.0, 0.0, 0.2])):
                response = es.put(f"/{index}/_doc/{doc_id}", params={"refresh": "true"},
                                  json={"title": doc_id, "embedding": vector})
                assert response.status_code in (200, 201), response.text
            result = es.post(f"/{index}/_search", json={
                "knn": {"field": "embedding", "query_vector": [0.9, 0.2, 0.0], "k": 1, "num_candidates": 10},
                "_source": ["title"]})
            assert result.status_code == 200, result.text
            hits = result.json()["hits"]["hits"]
            assert [hit["_id"] for hit in hits] == ["near"]
        finally:
            es.delete(f"/{index}")
