"""Allocation jobs on real Celery workers over Redis: they run, and survive a worker killed mid-job."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import redis

from engine import allocation
from engine.settings import Settings
from adapters.bootstrap import build_container
from tests.support.services import require

TESSERA = str(Path(sys.executable).with_name("tessera"))


@pytest.fixture
def broker() -> str:
    url = require("TESSERA_BROKER_URL", "Redis").rsplit("/", 1)[0] + "/7"
    redis.Redis.from_url(url).flushdb()
    return url


def _worker(broker: str, database_url: str, folder: Path) -> subprocess.Popen:
    env = {**os.environ, "TESSERA_BROKER_URL": broker, "TESSERA_DATABASE_URL": database_url,
           "TESSERA_DATA_DIR": str(folder), "TESSERA_WORKER_VISIBILITY_TIMEOUT_S": "3"}
    return subprocess.Popen([TESSERA, "worker", "--concurrency", "1", "--queues", "allocation", "--no-beat"], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)


def _wait(container, job_id: str, statuses: tuple[str, ...], timeout: float) -> str:
    deadline = time.monotonic() + timeout
    status = ""
    while time.monotonic() < deadline:
        status = container.allocation_jobs.get(job_id).status
        if status in statuses:
            return status
        time.sleep(0.2)
    raise AssertionError(f"job stayed {status}")


def test_a_job_survives_a_worker_killed_mid_solve(broker, postgres_factory, tmp_path):
    database_url = postgres_factory.create(tmp_path)
    container = build_container(Settings(database_url=database_url, data_dir=tmp_path, broker_url=broker,
                                         jobs_inline=False), migrate=False)
    first = _worker(broker, database_url, tmp_path)
    second = None
    try:
        quick = container.allocation_jobs.submit("scheduling", allocation.problem_example("scheduling"),
                                                 {"time_limit_s": 10, "gap": 0.01})
        assert _wait(container, quick.id, ("succeeded",), 120) == "succeeded"
        slow_problem = allocation.generate("staffing", 120, 3)
        slow = container.allocation_jobs.submit("staffing", slow_problem, {"time_limit_s": 12, "gap": 0.0})
        _wait(container, slow.id, ("running",), 60)
        os.killpg(first.pid, signal.SIGKILL)
        first.wait(10)
        assert container.allocation_jobs.get(slow.id).status == "running"
        second = _worker(broker, database_url, tmp_path)
        final = _wait(container, slow.id, ("succeeded", "infeasible", "failed"), 180)
        job = container.allocation_jobs.get(slow.id)
        assert final in ("succeeded", "infeasible"), job.error
        assert job.attempts == 2
        assert allocation.check_plan("staffing", slow_problem, job.result["plan"]) == []
    finally:
        for process in (first, second):
            if process is not None and process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
                process.wait(30)
        container.close()
        postgres_factory.drop(database_url)
