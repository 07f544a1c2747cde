"""One `SearchIndex` fixture per implementation, so every contract test runs against both."""
from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.indexing.ports import SearchIndex
from tests.search_index.builders import DIMENSIONS
from tests.support.services import require


def _embedded(folder: Path) -> SearchIndex:
    from adapters.search.embedded_index import EmbeddedIndex

    return EmbeddedIndex(folder / "search.db", DIMENSIONS)


def _elasticsearch() -> SearchIndex:
    from adapters.search.elastic_index import ElasticsearchIndex

    url = require("TESSERA_ELASTICSEARCH_URL", "Elasticsearch")
    return ElasticsearchIndex(url, f"tessera-contract-{uuid.uuid4().hex[:12]}", DIMENSIONS)


@pytest.fixture(params=["embedded", pytest.param("elasticsearch", marks=pytest.mark.services)])
def index(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SearchIndex]:
    """An empty, ensured search index of `DIMENSIONS`-long vectors; removed after the test."""
    search_index = _embedded(tmp_path) if request.param == "embedded" else _elasticsearch()
    search_index.ensure()
    yield search_index
    drop = getattr(search_index, "drop", None)
    if drop is not None:
        drop()
    search_index.close()
