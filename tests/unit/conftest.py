"""Fixtures for the unit tier: an in-memory store, a deterministic clock and the services over them."""
from __future__ import annotations

import itertools
from collections.abc import Callable

import pytest

from engine.services.bundles import BundleService
from engine.services.history import HistoryService
from engine.services.resources import ResourceService
from engine.services.search import SearchService
from tests.fakes import FakeResourceStore

BASE = "http://tessera.test/fhir"
START_US = 1_700_000_000_000_000  # 2023-11-14T22:13:20Z
TICK_US = 1_000_000  # each reading of the clock is one second later


@pytest.fixture
def clock() -> Callable[[], int]:
    """A clock that advances one second per reading, starting at START_US."""
    ticks = itertools.count(START_US, TICK_US)
    return lambda: next(ticks)


@pytest.fixture
def store() -> FakeResourceStore:
    return FakeResourceStore()


@pytest.fixture
def resources(store: FakeResourceStore, clock: Callable[[], int]) -> ResourceService:
    return ResourceService(store, clock)


@pytest.fixture
def search(store: FakeResourceStore) -> SearchService:
    return SearchService(store, default_count=10, max_count=100)


@pytest.fixture
def history(store: FakeResourceStore) -> HistoryService:
    return HistoryService(store, default_count=10, max_count=100)


@pytest.fixture
def bundles(store: FakeResourceStore, clock: Callable[[], int], resources: ResourceService,
            search: SearchService) -> BundleService:
    return BundleService(store, clock, resources, search)
