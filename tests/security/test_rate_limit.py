"""Per-client rate limits: a burst then waiting, per client, and one budget for all processes of a server."""
from __future__ import annotations

import hashlib
import multiprocessing
import warnings
from pathlib import Path

import pytest

from engine.settings import Settings
from adapters.bootstrap import build_container
from adapters.http.app import create_app
from adapters.http.rate_limit import PROBES, SLOTS, RateLimiter, SharedRateLimiter

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

SLOW = 6  # requests a minute: a burst of 10, then one every 10 s (nothing refills during a test)


def key(name: str) -> str:
    return hashlib.sha256(name.encode()).hexdigest()


def allowed(limiter: RateLimiter | SharedRateLimiter, client: str, attempts: int) -> int:
    return sum(limiter.take(client) == 0 for _ in range(attempts))


def _take_in_another_process(path: str, client: str, attempts: int, results: multiprocessing.Queue) -> None:
    limiter = SharedRateLimiter(SLOW, Path(path))
    results.put(allowed(limiter, client, attempts))
    limiter.close()


@pytest.mark.parametrize("shared", [False, True])
def test_a_client_gets_its_burst_then_waits_and_others_are_not_affected(tmp_path: Path, shared: bool) -> None:
    frozen = 5000.0  # the real clock would move between the requests on a busy machine
    limiter = (SharedRateLimiter(SLOW, tmp_path / "buckets", clock=lambda: frozen) if shared
               else RateLimiter(SLOW, clock=lambda: frozen))
    assert allowed(limiter, key("a"), 25) == 10
    wait = limiter.take(key("a"))
    assert wait == pytest.approx(10), "the next token comes in 10 s at 6 a minute"
    assert allowed(limiter, key("b"), 3) == 3


def test_processes_sharing_the_file_share_one_budget_per_client(tmp_path: Path) -> None:
    path = tmp_path / "buckets"
    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    workers = [context.Process(target=_take_in_another_process, args=(str(path), key("partner"), 8, results))
               for _ in range(3)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
    assert [worker.exitcode for worker in workers] == [0, 0, 0]
    counts = [results.get(timeout=5) for _ in workers]
    assert sum(counts) == 10, f"3 processes x 8 requests must share one burst of 10, got {counts}"
    assert allowed(SharedRateLimiter(SLOW, path), key("someone else"), 2) == 2


def test_a_client_without_a_free_slot_shares_a_busy_one_so_the_limit_only_gets_stricter(tmp_path: Path) -> None:
    limiter = SharedRateLimiter(SLOW, tmp_path / "buckets")
    home = 12_345  # odd: the fingerprint is the key's first 16 hex digits with the lowest bit set
    clients = [f"{home + n * SLOTS:016x}" + "0" * 48 for n in range(PROBES + 1)]
    for client in clients[:PROBES]:  # every slot this fingerprint may use now holds a spent bucket
        assert allowed(limiter, client, 12) == 10
    assert limiter.take(clients[PROBES]) > 0
    assert allowed(limiter, clients[1], 1) == 0, "the others keep their own spent buckets"


def test_a_spent_bucket_is_found_even_when_an_earlier_slot_came_free(tmp_path: Path) -> None:
    now = [0.0]
    limiter = SharedRateLimiter(SLOW, tmp_path / "buckets", clock=lambda: now[0])
    first, second = (f"{777 + n * SLOTS:016x}" + "0" * 48 for n in range(2))
    assert allowed(limiter, first, 1) == 1  # the home slot
    now[0] = 9.0
    assert allowed(limiter, second, 12) == 10  # the next slot, spent
    now[0] = 10.5  # the first bucket is full again (its slot is free), the second has 0.15 tokens
    assert limiter.take(second) > 0, "the spent bucket still counts"
    assert allowed(limiter, first, 10) == 10


def test_apps_sharing_a_metrics_folder_answer_429_from_one_budget(tmp_path: Path) -> None:
    container = build_container(Settings(data_dir=tmp_path, database_url=f"sqlite:///{tmp_path / 'db.sqlite'}",
                                         rate_limit_per_minute=SLOW, search_indexing="off"))
    shared = tmp_path / "api-metrics" / "1"
    shared.mkdir(parents=True)
    try:
        with TestClient(create_app(container, metrics_dir=shared)) as one, \
                TestClient(create_app(container, metrics_dir=shared)) as two:  # as two server processes
            statuses = [(one if n % 2 else two).get("/fhir/metadata").status_code for n in range(16)]
            assert statuses.count(200) == 10 and statuses.count(429) == 6, statuses
            refused = one.get("/fhir/metadata")
            assert refused.status_code == 429 and int(refused.headers["retry-after"]) >= 9
            assert refused.json()["issue"][0]["code"] == "throttled"
            assert one.get("/healthz").status_code == 200, "health checks are never throttled"
    finally:
        container.close()
