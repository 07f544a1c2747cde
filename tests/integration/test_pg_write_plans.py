"""On PostgreSQL, the write path finds existing rows through indexes: its cost does not grow with the store.

Each statement that looks rows up (current versions, their update, stale index rows, conditional-reference
lookups) is planned as the server plans it once prepared (a generic plan, blind to the parameter values)
over tables large enough that a sequential scan would cost far more than an index lookup.
"""
from __future__ import annotations

import itertools
import re
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
import sqlalchemy as sa

from adapters.store import pg_bulk
from adapters.store import sql_store

ROWS = 20_000


@pytest.fixture
def filled(postgres_factory, tmp_path: Path) -> Iterator[psycopg.Connection]:
    url = postgres_factory.create(tmp_path)
    plain = sa.engine.make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    connection = psycopg.connect(plain, autocommit=True)
    try:
        connection.execute(
            "INSERT INTO resources (pid, res_type, res_id, version, last_updated, deleted) "
            "SELECT g, 'Observation', 'obs-' || g, 1, g, false FROM generate_series(1, %s) AS g", (ROWS,))
        connection.execute(
            "INSERT INTO resource_versions (pid, version, res_type, res_id, last_updated, deleted, method, body) "
            "SELECT g, 1, 'Observation', 'obs-' || g, g, false, 'POST', '{}'::jsonb "
            "FROM generate_series(1, %s) AS g", (ROWS,))
        connection.execute(
            "INSERT INTO idx_token (pid, res_type, param, system, code) "
            "SELECT g, 'Observation', 'identifier', 'urn:lab', 'L' || g FROM generate_series(1, %s) AS g", (ROWS,))
        connection.execute(
            "INSERT INTO idx_reference (pid, res_type, param, target_type, target_id) "
            "SELECT g, 'Observation', 'subject', 'Patient', 'p' || (g %% 500) FROM generate_series(1, %s) AS g",
            (ROWS,))
        connection.execute(
            "INSERT INTO idx_string (pid, res_type, param, norm, exact) "
            "SELECT g, 'Observation', 'note', 'n' || g, 'n' || g FROM generate_series(1, %s) AS g", (ROWS,))
        connection.execute("ANALYZE")
        connection.execute("SET plan_cache_mode = force_generic_plan")
        yield connection
    finally:
        connection.close()
        postgres_factory.drop(url)


def generic_plan(connection: psycopg.Connection, statement: str, params: tuple) -> str:
    """The plan of `statement` prepared and planned without looking at its parameters."""
    numbers = itertools.count(1)
    connection.execute("PREPARE probe AS " + re.sub(r"%s", lambda _: f"${next(numbers)}", statement))
    try:
        with psycopg.ClientCursor(connection) as cursor:
            cursor.execute(f"EXPLAIN EXECUTE probe({', '.join(['%s'] * len(params))})", params)
            return "\n".join(row[0] for row in cursor.fetchall())
    finally:
        connection.execute("DEALLOCATE probe")


def test_current_versions_are_looked_up_by_key(filled: psycopg.Connection) -> None:
    plan = generic_plan(filled, sql_store._CURRENT_LOCKED, (["Observation", "Observation"], ["obs-7", "obs-9"]))
    assert "Seq Scan on resources" not in plan, plan


def test_current_rows_are_updated_by_key(filled: psycopg.Connection) -> None:
    plan = generic_plan(filled, pg_bulk._UPDATE_RESOURCES, ([7, 9], [2, 2], [1, 1], [False, False], [None, None],
                                                            [None, None]))
    assert "Seq Scan on resources" not in plan, plan


@pytest.mark.parametrize("table", ["idx_token", "idx_reference", "idx_string"])
def test_stale_index_rows_are_deleted_by_key(filled: psycopg.Connection, table: str) -> None:
    plan = generic_plan(filled, pg_bulk._DELETE_STALE[table], ([7, 9],))
    assert f"Seq Scan on {table}" not in plan, plan


def test_conditional_lookups_use_the_token_index(filled: psycopg.Connection) -> None:
    plan = generic_plan(filled, sql_store._TOKENS_WITH_SYSTEM, ("Observation", "identifier", "L7", "urn:lab", 2))
    assert "Seq Scan" not in plan, plan
