"""A real `tessera mllp` listener process over a fresh store, and helpers to talk to it."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from engine.settings import Settings
from adapters.bootstrap import Container, build_container

TESSERA = str(Path(sys.executable).with_name("tessera"))


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def child_pids(pid: int) -> list[int]:
    """The direct children of a process (Linux)."""
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as children:
            return [int(child) for child in children.read().split()]
    except FileNotFoundError:
        return []


def alive(pid: int) -> bool:
    """True while a process exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False


@dataclass
class Listener:
    """A running MLLP listener process."""

    port: int
    database_url: str
    data_dir: Path
    env: dict[str, str]
    process: subprocess.Popen | None = None
    processes: int | None = None  # --processes; None: the command's default


    def start(self) -> None:
        """Start the process and wait until it accepts connections."""
        command = [TESSERA, "mllp", "--host", "127.0.0.1", "--port", str(self.port)]
        if self.processes is not None:
            command += ["--processes", str(self.processes)]
        self.process = subprocess.Popen(command, env=self.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"mllp listener exited: {self.process.stderr.read().decode()[-2000:]}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.1)
        pytest.fail("mllp listener did not start within 60 s")

    def kill(self) -> None:
        """SIGKILL, as a crash would; its listener processes die with it (wait until they are gone)."""
        if self.process and self.process.poll() is None:
            children = child_pids(self.process.pid)
            self.process.kill()
            self.process.wait(10)
            deadline = time.monotonic() + 10
            while any(alive(pid) for pid in children) and time.monotonic() < deadline:
                time.sleep(0.02)

    def stop(self) -> None:
        """Terminate gracefully (then kill)."""
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()

    def container(self) -> Container:
        """Services on the listener's store, to inspect what it wrote."""
        return build_container(Settings(database_url=self.database_url, data_dir=self.data_dir, db_pool_size=2),
                               migrate=False)


@pytest.fixture
def listener_factory(store_url: str, tmp_path: Path) -> Iterator:
    """Makes (not yet started) listeners on a fresh store; stops them all afterwards."""
    made: list[Listener] = []

    def make(processes: int | None = None, **settings: str) -> Listener:
        env = {**os.environ, "TESSERA_DATABASE_URL": store_url, "TESSERA_DATA_DIR": str(tmp_path),
               "TESSERA_LOG_LEVEL": "WARNING", **settings}
        listener = Listener(free_port(), store_url, tmp_path, env, processes=processes)
        made.append(listener)
        return listener

    yield make
    for listener in made:
        listener.stop()


@pytest.fixture
def listener(listener_factory) -> Listener:
    """A started listener."""
    started = listener_factory()
    started.start()
    return started


@pytest.fixture
def postgres_container(postgres_factory, tmp_path: Path) -> Iterator[Container]:
    """Services on PostgreSQL only: SQLite writes one transaction at a time, so it cannot race."""
    url = postgres_factory.create(tmp_path)
    built = build_container(Settings(database_url=url, data_dir=tmp_path, db_pool_size=4, jobs_inline=True),
                            migrate=False)
    yield built
    built.close()
    postgres_factory.drop(url)
