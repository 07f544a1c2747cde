"""A pooled PostgreSQL connection the server closed (restart, idle timeout) is replaced, not handed out."""
from __future__ import annotations

from pathlib import Path

import psycopg
import sqlalchemy as sa

from adapters.store.sql_store import SqlResourceStore, create_sql_engine


def end_other_sessions(url: str) -> int:
    """What a server restart does to the pool: every other session of the database ends."""
    plain = sa.engine.make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(plain, autocommit=True) as admin:
        return len(admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                                 "WHERE datname = current_database() AND pid <> pg_backend_pid() "
                                 "AND backend_type = 'client backend'").fetchall())


def test_a_connection_the_server_closed_is_replaced_before_use(postgres_factory, tmp_path: Path) -> None:
    url = postgres_factory.create(tmp_path)
    engine = create_sql_engine(url, pool_size=2)
    try:
        store = SqlResourceStore(engine)
        with store.unit_of_work(read_only=True) as uow:  # one connection, back in the pool afterwards
            assert uow.current("Patient", "nobody") is None
        assert end_other_sessions(url) == 1
        with store.unit_of_work(read_only=True) as uow:
            assert uow.current("Patient", "nobody") is None
    finally:
        engine.dispose()
        postgres_factory.drop(url)
