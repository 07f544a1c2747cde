"""Fresh, migrated databases per test: SQLite files and PostgreSQL databases cloned from a template."""
from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path

import sqlalchemy as sa

from adapters.store.migrate import upgrade
from adapters.store.sql_store import create_sql_engine

_TEMPLATE_DB = f"tessera_test_template_{os.getpid()}"  # one per test session: sessions may run side by side


class SqliteFactory:
    """Copies one migrated SQLite file per test."""

    def __init__(self, folder: Path):
        self.template = folder / "template.db"
        engine = create_sql_engine(f"sqlite:///{self.template}")
        upgrade(engine)
        engine.dispose()

    def create(self, folder: Path) -> str:
        """A new database URL holding an empty, migrated store."""
        target = folder / f"store-{uuid.uuid4().hex[:8]}.db"
        shutil.copyfile(self.template, target)
        return f"sqlite:///{target}"

    def drop(self, url: str) -> None:
        """Nothing to do: files live in the test's temporary folder."""


class PostgresFactory:
    """Creates each test database from a migrated template database."""

    def __init__(self, server_url: str):
        self.server_url = server_url
        self.admin = sa.create_engine(server_url, isolation_level="AUTOCOMMIT", pool_size=1)
        with self.admin.connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{_TEMPLATE_DB}" WITH (FORCE)'))
            connection.execute(sa.text(f'CREATE DATABASE "{_TEMPLATE_DB}"'))
        engine = create_sql_engine(self._url(_TEMPLATE_DB), pool_size=1)
        upgrade(engine)
        engine.dispose()

    def _url(self, name: str) -> str:
        return sa.engine.make_url(self.server_url).set(database=name).render_as_string(hide_password=False)

    def create(self, _folder: Path) -> str:
        """A new database URL holding an empty, migrated store."""
        name = f"tessera_test_{uuid.uuid4().hex[:12]}"
        with self.admin.connect() as connection:
            connection.execute(sa.text(f'CREATE DATABASE "{name}" TEMPLATE "{_TEMPLATE_DB}"'))
        return self._url(name)

    def drop(self, url: str) -> None:
        """Drop a database made by `create`."""
        name = sa.engine.make_url(url).database
        with self.admin.connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))

    def close(self) -> None:
        """Drop the template and release the admin connection."""
        with self.admin.connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{_TEMPLATE_DB}" WITH (FORCE)'))
        self.admin.dispose()
