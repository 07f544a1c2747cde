"""SQL implementation of the index outbox: pending events claimed in batches, current versions for indexing."""
from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import sqlalchemy as sa
from sqlalchemy.exc import OperationalError

from engine.indexing.model import IndexedVersion, SourceVersion
from engine.indexing.ports import ClaimedBatch, IndexOutbox
from engine.store.model import OutboxEvent
from adapters.store import schema as s
from adapters.store.sql_store import StoreUnavailable

_CHUNK = 500


def _now_us() -> int:
    return time.time_ns() // 1000


class SqlClaimedBatch(ClaimedBatch):
    """Events claimed inside one open transaction (row locks on PostgreSQL)."""

    def __init__(self, connection: sa.Connection, events: list[OutboxEvent]):
        self.connection = connection
        self.events = events
        self.completed = False

    def complete(self, seqs: Sequence[int]) -> None:
        o = s.outbox
        now = _now_us()
        for start in range(0, len(seqs), _CHUNK):
            chunk = list(seqs[start:start + _CHUNK])
            self.connection.execute(sa.update(o).where(o.c.seq.in_(chunk)).values(indexed=now))
        self.completed = True

    def dead_letter(self, key: str, version: int, reason: str) -> None:
        self.connection.execute(sa.insert(s.index_dead_letters).values(
            res_key=key[:130], version=version, reason=reason[:2000], created=_now_us()))


class SqlIndexOutbox(IndexOutbox):
    """The outbox table seen by the indexer, in the same database as the resources."""

    def __init__(self, engine: sa.Engine):
        self.engine = engine
        self._postgres = engine.dialect.name == "postgresql"
        self._local = threading.Lock()  # SQLite: one drainer per process; PostgreSQL uses SKIP LOCKED

    @contextmanager
    def claim(self, limit: int) -> Iterator[SqlClaimedBatch]:
        """Claim up to `limit` pending events; completing marks them in the same transaction."""
        with self._local if not self._postgres else _nothing():
            try:
                connection = self.engine.connect()
            except OperationalError as exc:
                raise StoreUnavailable("The store is unavailable") from exc
            if not self._postgres:
                connection.info["begin_mode"] = "IMMEDIATE"
            try:
                o = s.outbox
                statement = (sa.select(o.c.seq, o.c.res_type, o.c.res_id, o.c.version, o.c.operation, o.c.created)
                             .where(o.c.indexed.is_(None)).order_by(o.c.seq).limit(limit))
                if self._postgres:
                    connection.begin()
                    statement = statement.with_for_update(skip_locked=True)
                rows = connection.execute(statement).all()
                if not self._postgres:
                    connection.commit()  # SQLite: no lock held while the batch is embedded and indexed
                batch = SqlClaimedBatch(connection, [OutboxEvent(*row) for row in rows])
                yield batch
                if batch.completed:
                    connection.commit()
                else:
                    connection.rollback()
            except BaseException:
                connection.rollback()
                raise
            finally:
                connection.close()

    def pending(self) -> int:
        o = s.outbox
        with self.engine.connect() as connection:
            return int(connection.execute(sa.select(sa.func.count()).where(o.c.indexed.is_(None))).scalar() or 0)

    def dead_letters(self, limit: int = 100) -> list[dict]:
        d = s.index_dead_letters
        with self.engine.connect() as connection:
            rows = connection.execute(sa.select(d).order_by(d.c.id.desc()).limit(limit))
            return [{"key": row.res_key, "version": row.version, "reason": row.reason, "created_us": row.created}
                    for row in rows]

    def current(self, keys: Sequence[tuple[str, str]]) -> list[SourceVersion]:
        r, v = s.resources, s.resource_versions
        by_type: dict[str, list[str]] = {}
        for resource_type, resource_id in keys:
            by_type.setdefault(resource_type, []).append(resource_id)
        found: list[SourceVersion] = []
        with self.engine.connect() as connection:
            for resource_type, ids in by_type.items():
                for start in range(0, len(ids), _CHUNK):
                    statement = (sa.select(r.c.res_type, r.c.res_id, r.c.version, r.c.deleted, v.c.body,
                                           r.c.institution)
                                 .join(v, sa.and_(v.c.pid == r.c.pid, v.c.version == r.c.version))
                                 .where(r.c.res_type == resource_type, r.c.res_id.in_(ids[start:start + _CHUNK])))
                    found.extend(SourceVersion(*row) for row in connection.execute(statement))
        return found

    def scan(self, resource_type: str | None, after: int, limit: int) -> tuple[list[SourceVersion], int]:
        r, v = s.resources, s.resource_versions
        conditions = [r.c.pid > after, r.c.deleted.is_(False)]
        if resource_type:
            conditions.append(r.c.res_type == resource_type)
        statement = (sa.select(r.c.pid, r.c.res_type, r.c.res_id, r.c.version, r.c.deleted, v.c.body, r.c.institution)
                     .join(v, sa.and_(v.c.pid == r.c.pid, v.c.version == r.c.version))
                     .where(*conditions).order_by(r.c.pid).limit(limit))
        with self.engine.connect() as connection:
            rows = connection.execute(statement).all()
        if not rows:
            return [], after
        return [SourceVersion(*row[1:]) for row in rows], rows[-1].pid

    def current_versions(self, resource_type: str | None = None) -> Iterator[IndexedVersion]:
        r = s.resources
        statement = sa.select(r.c.res_type, r.c.res_id, r.c.version).where(r.c.deleted.is_(False))
        if resource_type:
            statement = statement.where(r.c.res_type == resource_type)
        with self.engine.connect() as connection:
            result = connection.execution_options(stream_results=True, yield_per=5000).execute(statement)
            for row in result:
                yield IndexedVersion(f"{row.res_type}/{row.res_id}", row.version)


@contextmanager
def _nothing() -> Iterator[None]:
    yield
