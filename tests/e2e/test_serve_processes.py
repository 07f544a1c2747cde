"""`tessera serve --processes N`: several API processes on one port, one set of metrics, a dead one replaced."""
from __future__ import annotations

import os
import re
import signal
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from tests.e2e.conftest import FHIR_JSON, ServerURL, running_server


def api_processes(server_pid: int) -> set[int]:
    """The serving processes the server started (its spawned children, not multiprocessing's helpers)."""
    found = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ")
        except (OSError, IndexError, ValueError):
            continue  # exited meanwhile
        if ppid == server_pid and b"spawn_main" in command:
            found.add(int(entry.name))
    return found


def wait_for_processes(server_pid: int, count: int, *, other_than: set[int] = frozenset(),
                       timeout: float = 60) -> set[int]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = api_processes(server_pid)
        if len(found) == count and not found & other_than:
            return found
        time.sleep(0.2)
    pytest.fail(f"expected {count} API processes (none of {sorted(other_than)}), found {sorted(found)}")


def metadata_requests(url: ServerURL) -> float:
    text = httpx.get(f"{url.root}/metrics", timeout=30).text
    found = re.search(r'^tessera_http_requests_total\{method="GET",route="/fhir/metadata",status="200"\} (\S+)$',
                      text, re.MULTILINE)
    return float(found.group(1)) if found else 0.0


def fetch_metadata(url: ServerURL) -> int:
    with httpx.Client(timeout=60) as client:  # a new connection each time, as many partners would open
        return client.get(f"{url}/metadata").status_code


def test_serve_processes_share_the_port_the_metrics_and_replace_a_dead_one(
        postgres_factory, tmp_path: Path) -> None:
    database_url = postgres_factory.create(tmp_path)
    gone = next(pid for pid in range(4_000_000, 4_100_000) if not Path(f"/proc/{pid}").exists())
    stale = tmp_path / "api-metrics" / str(gone)  # left by a server that was killed
    stale.mkdir(parents=True)
    (stale / "counter_1.db").write_bytes(b"")
    try:
        with running_server(database_url, tmp_path, "postgresql", args=("--processes", "2")) as url:
            first = wait_for_processes(url.pid, 2)
            assert not stale.exists(), "metrics of a server that no longer runs are removed at start"
            with ThreadPoolExecutor(8) as pool:
                statuses = list(pool.map(lambda _: fetch_metadata(url), range(40)))
            assert statuses == [200] * 40
            assert metadata_requests(url) == 40, "/metrics must count the requests of every process"

            victim = min(first)
            os.kill(victim, signal.SIGKILL)
            wait_for_processes(url.pid, 2, other_than={victim})
            patient = {"resourceType": "Patient", "name": [{"family": "Okafor", "given": ["Chidi"]}]}
            for _ in range(10):  # each on a new connection: the set, with its replacement process, serves
                with httpx.Client(timeout=60, headers={**url.headers, **FHIR_JSON}) as client:
                    created = client.post(f"{url}/Patient", json=patient)
                    assert created.status_code == 201, created.text[:500]
                    read = client.get(created.headers["location"])
                    assert read.status_code == 200 and read.json()["name"][0]["family"] == "Okafor"
            assert metadata_requests(url) == 40, "counts of a process that died are kept"
    finally:
        postgres_factory.drop(database_url)


def test_serve_runs_one_process_on_the_embedded_store(tmp_path: Path) -> None:
    with running_server(None, tmp_path) as url:
        assert fetch_metadata(url) == 200
        assert api_processes(url.pid) == set(), "SQLite has one writer: the embedded profile serves in-process"
