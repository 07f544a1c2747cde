"""On SQLite every writing transaction takes the write lock when it begins, whatever its connection did before."""
from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from adapters.store.migrate import upgrade
from adapters.store.sql_store import SqlResourceStore, create_sql_engine


def _write_lock_is_free(path: Path) -> bool:
    other = sqlite3.connect(path, timeout=0, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")
    except sqlite3.OperationalError as exc:
        assert "locked" in str(exc)
        return False
    other.execute("ROLLBACK")
    other.close()
    return True


def test_a_write_after_a_read_only_unit_on_the_same_connection_begins_immediate(tmp_path: Path) -> None:
    path = tmp_path / "locks.db"
    engine = create_sql_engine(f"sqlite:///{path}")
    upgrade(engine)
    engine.dispose()  # start from an empty pool
    try:
        store = SqlResourceStore(engine)
        with store.unit_of_work(read_only=True) as uow:  # its connection goes back to the pool afterwards
            assert uow.current("Patient", "nobody") is None
            assert _write_lock_is_free(path)  # a read-only unit holds no write lock
        assert engine.pool.checkedin() == 1
        with engine.begin():  # the same pooled connection, now for a write
            assert not _write_lock_is_free(path)
        assert _write_lock_is_free(path)
    finally:
        engine.dispose()


@pytest.mark.parametrize("read_only", [False, True])
def test_units_of_work_take_the_write_lock_only_when_they_write(tmp_path: Path, read_only: bool) -> None:
    path = tmp_path / "units.db"
    engine = create_sql_engine(f"sqlite:///{path}")
    try:
        store = SqlResourceStore(engine)
        with store.unit_of_work(read_only=read_only):
            assert _write_lock_is_free(path) is read_only
    finally:
        engine.dispose()
