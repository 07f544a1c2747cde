"""Fixtures shared by every test tier."""
from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import settings as hypothesis_settings

from engine.settings import Settings
from adapters.bootstrap import Container, build_container
from tests.support.databases import PostgresFactory, SqliteFactory
from tests.support.services import ON_CI, require

# CI explores the same examples on every run (a property that fails there fails again when re-run); runs
# elsewhere keep exploring new ones.
hypothesis_settings.register_profile("ci", derandomize=True)
if ON_CI:
    hypothesis_settings.load_profile("ci")

# Search indexing runs only where a test asks for it (tests/search); elsewhere it would embed every write.
os.environ.setdefault("TESSERA_SEARCH_INDEXING", "off")

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
BACKENDS = ["sqlite", "postgresql"]


def shared_data(*parts: str) -> Path:
    """A path inside ../shared/data (test corpora written elsewhere)."""
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        pytest.fail(f"shared test data missing: {path}")
    return path


CLIENT_LOGGERS = ("httpx", "httpcore", "httpx2", "httpcore2", "hypothesis", "urllib3", "fhirclient", "schemathesis",
                  "asyncio", "faker")


class LogCollector(logging.Handler):
    """Keeps every server-side log record of the session, formatted, for the privacy scan."""

    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.name.split(".")[0] in CLIENT_LOGGERS:
            return
        try:
            text = record.getMessage()
        except Exception:  # noqa: BLE001 - a broken record must not break the run
            text = str(record.msg)
        if record.exc_info and record.exc_info[1] is not None:
            text += f" | {record.exc_info[1]!r}"
        self.lines.append(f"{record.name}: {text}")


SESSION_LOGS = LogCollector()


@pytest.fixture(scope="session", autouse=True)
def _collect_logs() -> None:
    """Every log record at every level goes through the collector (see tests/zz_privacy)."""
    root = logging.getLogger()
    root.addHandler(SESSION_LOGS)
    root.setLevel(logging.DEBUG)
    logging.getLogger("alembic").setLevel(logging.WARNING)


@pytest.fixture(scope="session")
def sqlite_factory(tmp_path_factory: pytest.TempPathFactory) -> SqliteFactory:
    return SqliteFactory(tmp_path_factory.mktemp("sqlite-template"))


@pytest.fixture(scope="session")
def postgres_factory() -> Iterator[PostgresFactory]:
    url = require("TESSERA_DATABASE_URL", "PostgreSQL")
    factory = PostgresFactory(url)
    yield factory
    factory.close()


@pytest.fixture(params=BACKENDS)
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty, migrated store on each backend."""
    factory = request.getfixturevalue("sqlite_factory" if request.param == "sqlite" else "postgres_factory")
    url = factory.create(tmp_path)
    yield url
    factory.drop(url)


@pytest.fixture
def container(store_url: str, tmp_path: Path) -> Iterator[Container]:
    """Services wired to a fresh store."""
    built = build_container(Settings(database_url=store_url, data_dir=tmp_path, db_pool_size=2, jobs_inline=True),
                            migrate=False)
    yield built
    built.close()
