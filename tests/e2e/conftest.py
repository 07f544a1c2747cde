"""The real `tessera serve` as a subprocess on each backend, and small HTTP helpers for the e2e tier."""
from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import BACKENDS

REPO = Path(__file__).resolve().parents[2]
FHIR_JSON = {"content-type": "application/fhir+json"}
STARTUP_TIMEOUT_S = 60.0
# A development server (its local issuer signs with a key generated in TESSERA_DATA_DIR) whose per-client
# rate limit is out of the way: one test client sends hundreds of requests in a few seconds.
SERVER_TEST_ENV = {"TESSERA_ENVIRONMENT": "development", "TESSERA_RATE_LIMIT_PER_MINUTE": "1000000"}
# What the tests call the server as: a partner system with a system-level token, as an operator would
# issue it with `tessera token issue`.
E2E_CLIENT, E2E_INSTITUTION, E2E_SCOPE = "tessera-e2e", "e2e-hospital", "system/*.cruds"


def tessera_command() -> str:
    """The `tessera` console script of the venv running the tests."""
    for candidate in (REPO / ".venv" / "bin" / "tessera", Path(sys.executable).parent / "tessera"):
        if candidate.exists():
            return str(candidate)
    pytest.fail("the `tessera` command is not installed in .venv (run `make install`)")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class ServerURL(str):
    """The base URL of a running server's FHIR endpoint (`http://127.0.0.1:PORT/fhir`)."""

    backend: str
    root: str
    stderr_path: Path
    token: str
    pid: int

    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace")

    @property
    def headers(self) -> dict[str, str]:
        """The Authorization header of the e2e partner's bearer token."""
        return {"Authorization": f"Bearer {self.token}"}


def cli_env(data_dir: Path, database_url: str | None, **extra: str) -> dict[str, str]:
    """The environment of a `tessera` subprocess: ours, with the store settings overridden."""
    env = os.environ.copy()
    env.pop("TESSERA_BASE_URL", None)  # links must point at the server the tests talk to
    env["TESSERA_DATA_DIR"] = str(data_dir)
    if database_url is None:
        env.pop("TESSERA_DATABASE_URL", None)  # the embedded profile: SQLite inside TESSERA_DATA_DIR
    else:
        env["TESSERA_DATABASE_URL"] = database_url
    env.update(extra)
    return env


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=20)


@contextlib.contextmanager
def running_server(database_url: str | None, data_dir: Path, backend: str = "sqlite", *, args: tuple[str, ...] = (),
                   **extra_env: str) -> Iterator[ServerURL]:
    """Start `tessera serve` (with `args`) on a free loopback port, wait for /healthz, yield its /fhir URL,
    stop it."""
    data_dir.mkdir(parents=True, exist_ok=True)
    env = cli_env(data_dir, database_url, **{**SERVER_TEST_ENV, **extra_env})
    for attempt in range(3):
        port = free_port()
        stdout_path, stderr_path = data_dir / f"serve-{port}.out", data_dir / f"serve-{port}.err"
        with stdout_path.open("wb") as out, stderr_path.open("wb") as err:
            process = subprocess.Popen([tessera_command(), "serve", "--host", "127.0.0.1", "--port", str(port),
                                        *args], env=env, cwd=data_dir, stdout=out, stderr=err, stdin=subprocess.DEVNULL)
        root = f"http://127.0.0.1:{port}"
        try:
            ready = _wait_healthy(process, root, stderr_path)
            if not ready:  # lost the race for the port to another process: try another one
                continue
            url = ServerURL(f"{root}/fhir")
            url.backend, url.root, url.stderr_path, url.pid = backend, root, stderr_path, process.pid
            url.token = issue_token(env, data_dir)
            yield url
            return
        finally:
            _stop(process)
    pytest.fail(f"tessera serve could not bind a port after 3 attempts:\n{stderr_path.read_text(errors='replace')}")


def issue_token(env: dict[str, str], data_dir: Path, *, client: str = E2E_CLIENT,
                institution: str = E2E_INSTITUTION, scope: str = E2E_SCOPE) -> str:
    """A bearer token from the server's local issuer, through `tessera token issue`."""
    done = subprocess.run([tessera_command(), "token", "issue", "--client", client, "--institution", institution,
                           "--scope", scope, "--ttl", "6h"], env=env, cwd=data_dir, capture_output=True, text=True,
                          timeout=120, stdin=subprocess.DEVNULL)
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        pytest.fail(f"`tessera token issue` failed ({done.returncode}):\n{done.stdout}\n{done.stderr[-2000:]}")
    return lines[-1].strip()


def _wait_healthy(process: subprocess.Popen, root: str, stderr_path: Path) -> bool:
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            stderr = stderr_path.read_text(errors="replace")
            if "address already in use" in stderr.lower():
                return False
            pytest.fail(f"tessera serve exited with {process.returncode} before /healthz answered:\n{stderr}")
        try:
            if httpx.get(f"{root}/healthz", timeout=2).status_code == 200:
                return True
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    _stop(process)
    pytest.fail(f"tessera serve did not answer /healthz with 200 within {STARTUP_TIMEOUT_S:.0f} s; stderr:\n"
                f"{stderr_path.read_text(errors='replace')}")


def fresh_server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
                 label: str) -> Iterator[ServerURL]:
    """A real `tessera serve` over a fresh store on the backend named by `request.param`."""
    backend = request.param
    factory = request.getfixturevalue("sqlite_factory" if backend == "sqlite" else "postgres_factory")
    folder = tmp_path_factory.mktemp(f"{label}-{backend}")
    database_url = factory.create(folder)
    try:
        with running_server(database_url, folder, backend) as url:
            yield url
    finally:
        factory.drop(database_url)


@pytest.fixture(scope="module", params=BACKENDS)
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerURL]:
    """A real `tessera serve` over a fresh store on each backend; one per backend per test module."""
    yield from fresh_server(request, tmp_path_factory, "e2e")


@pytest.fixture(scope="module")
def fhir(server: ServerURL) -> Iterator[httpx.Client]:
    """An HTTP client whose relative URLs are under the server's /fhir endpoint."""
    with httpx.Client(base_url=server.rstrip("/") + "/", headers=server.headers, timeout=120) as client:
        yield client


# --------------------------------------------------------------------------- search helpers


def search(client: httpx.Client, resource_type: str, params: Any = None) -> dict[str, Any]:
    """GET a search; it must answer 200 with a searchset and no warnings (unknown parameters)."""
    response = client.get(resource_type, params=params)
    assert response.status_code == 200, f"GET {response.request.url} -> {response.status_code}: {response.text[:800]}"
    bundle = response.json()
    assert bundle.get("resourceType") == "Bundle" and bundle.get("type") == "searchset", bundle
    warnings = [e["resource"] for e in bundle.get("entry", []) if e.get("search", {}).get("mode") == "outcome"]
    assert not warnings, f"GET {response.request.url} reported: {warnings}"
    return bundle


def matches(bundle: dict[str, Any]) -> list[dict[str, Any]]:
    """The resources of a searchset page found as matches."""
    return [e["resource"] for e in bundle.get("entry", []) if e.get("search", {}).get("mode") == "match"]


def included(bundle: dict[str, Any]) -> list[dict[str, Any]]:
    """The resources of a searchset page added by _include / _revinclude."""
    return [e["resource"] for e in bundle.get("entry", []) if e.get("search", {}).get("mode") == "include"]


def link(bundle: dict[str, Any], relation: str) -> str | None:
    return next((item["url"] for item in bundle.get("link", []) if item.get("relation") == relation), None)


def search_all(client: httpx.Client, resource_type: str, params: Any = None,
               max_pages: int = 200) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Every match of a search, following `next` links; returns (matches, pages)."""
    pages = [search(client, resource_type, params)]
    while (following := link(pages[-1], "next")) is not None:
        assert len(pages) < max_pages, f"more than {max_pages} pages for {resource_type} {params}"
        response = client.get(following)
        assert response.status_code == 200, f"GET {following} -> {response.status_code}: {response.text[:500]}"
        pages.append(response.json())
    return [r for page in pages for r in matches(page)], pages
