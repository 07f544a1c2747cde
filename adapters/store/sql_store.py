"""The SQL resource store: SQLAlchemy Core over SQLite (WAL) or PostgreSQL (JSONB)."""
from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from typing import Any

import orjson
import psycopg
import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.exc import IntegrityError, OperationalError

from engine.errors import TesseraError, VersionConflict
from engine.search.query import SearchQuery
from engine.store.model import CurrentVersion, OutboxEvent, Page, PendingWrite, StoredResource, TokenLookup
from engine.security.visibility import Visibility
from engine.store.ports import ResourceStore, UnitOfWork
from adapters.store import schema as s
from adapters.store.message_log import SqlMessageLog
from adapters.store.pg_bulk import save_postgresql
from adapters.store.search_sql import filter_conditions, sort_expressions
from adapters.store.visibility_sql import visible


class StoreUnavailable(TesseraError):
    """The database could not be reached or refused the operation for a transient reason."""

    issue_code = "transient"
    status = 503


def _json_dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


def create_sql_engine(url: str, *, pool_size: int = 10) -> sa.Engine:
    """An SQLAlchemy engine tuned for the store: WAL + immediate write locks on SQLite."""
    if url.startswith("sqlite"):
        engine = sa.create_engine(url, json_serializer=_json_dumps, json_deserializer=orjson.loads,
                                  connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_connection: Any, _record: Any) -> None:
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=FULL")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()

        @event.listens_for(engine, "checkin")
        def _on_checkin(_dbapi_connection: Any, record: Any) -> None:
            record.info.pop("begin_mode", None)  # a read-only unit's DEFERRED must not outlive its checkout

        @event.listens_for(engine, "begin")
        def _on_begin(connection: sa.Connection) -> None:
            mode = connection.info.get("begin_mode", "IMMEDIATE")
            connection.exec_driver_sql(f"BEGIN {mode}")

        return engine
    return sa.create_engine(url, json_serializer=_json_dumps, json_deserializer=orjson.loads,
                            pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True)


def _stored(row: Any) -> StoredResource:
    return StoredResource(row.res_type, row.res_id, row.version, row.last_updated, row.deleted,
                          row.method, row.body)


_VERSION_COLUMNS = (s.resource_versions.c.res_type, s.resource_versions.c.res_id, s.resource_versions.c.version,
                    s.resource_versions.c.last_updated, s.resource_versions.c.deleted,
                    s.resource_versions.c.method, s.resource_versions.c.body)


_TOKEN_LOOKUP = """
SELECT v.res_type, v.res_id, v.version, v.last_updated, v.deleted, v.method, v.body
FROM resources r JOIN resource_versions v ON v.pid = r.pid AND v.version = r.version
WHERE r.pid IN (SELECT t.pid FROM idx_token t WHERE t.res_type = {t} AND t.param = {p} AND t.code = {c} {system})
  AND r.deleted = false ORDER BY r.pid LIMIT {n}
"""


def _token_lookup(system: str) -> Any:
    """The lookup with named parameters (t, p, c, s, n), for SQLAlchemy."""
    named = _TOKEN_LOOKUP.format(t=":t", p=":p", c=":c", n=":n", system=system)
    return sa.text(named).columns(body=s.resource_versions.c.body.type)


_TOKEN_ANY = _token_lookup("")
_TOKEN_WITH_SYSTEM = _token_lookup("AND t.system = :s")
_TOKEN_NULL_SYSTEM = _token_lookup("AND t.system IS NULL")
# the same with positional parameters, for the driver's pipeline
_POSITIONAL = {"t": "%s", "p": "%s", "c": "%s", "n": "%s"}
_TOKENS_ANY = _TOKEN_LOOKUP.format(**_POSITIONAL, system="")
_TOKENS_WITH_SYSTEM = _TOKEN_LOOKUP.format(**_POSITIONAL, system="AND t.system = %s")
_TOKENS_NULL_SYSTEM = _TOKEN_LOOKUP.format(**_POSITIONAL, system="AND t.system IS NULL")


# Keys travel as typed arrays: the planner then looks each up in the unique index, whereas rows of a JSON
# array parameter (estimated at a hundred) make it scan the whole table, a cost growing with the store.
_CURRENT = """SELECT res_type, res_id, pid, version, deleted, institution FROM resources
WHERE (res_type, res_id) IN (SELECT * FROM unnest(%s::text[], %s::text[]))
ORDER BY pid"""
_CURRENT_LOCKED = _CURRENT + " FOR UPDATE"  # rows locked in pid order: no deadlock between bundles


def _lock_digest(key: str) -> int:
    return int.from_bytes(hashlib.blake2b(key.encode(), digest_size=8).digest(), "big", signed=True)


_VERSION_INSERT = ("pid", "version", "res_type", "res_id", "last_updated", "deleted", "method", "source", "body")


class SqlUnitOfWork(SqlMessageLog, UnitOfWork):
    """One database transaction (resources, index rows, outbox and raw messages)."""

    def __init__(self, engine: sa.Engine, *, read_only: bool, visibility: Visibility):
        self.visibility = visibility
        self._connection = engine.connect()
        if engine.dialect.name == "sqlite":
            self._connection.info["begin_mode"] = "DEFERRED" if read_only else "IMMEDIATE"
        self._dialect = engine.dialect.name
        try:
            self._connection.begin()
        except OperationalError as exc:
            self._connection.close()
            raise StoreUnavailable("The store is unavailable") from exc

    def current(self, resource_type: str, resource_id: str, *, for_update: bool = False) -> CurrentVersion | None:
        r = s.resources
        statement = sa.select(r.c.pid, r.c.version, r.c.deleted, r.c.institution).where(
            r.c.res_type == resource_type, r.c.res_id == resource_id)
        if for_update and self._dialect == "postgresql":
            statement = statement.with_for_update()
        row = self._connection.execute(statement).first()
        return CurrentVersion(row.pid, row.version, row.deleted, row.institution) if row else None

    def _visible(self, table: sa.Table = s.resources) -> list[sa.ColumnElement]:
        condition = visible(table, self.visibility)
        return [] if condition is None else [condition]

    def read(self, resource_type: str, resource_id: str, version: int | None = None) -> StoredResource | None:
        r, v = s.resources, s.resource_versions
        statement = sa.select(*_VERSION_COLUMNS).join(r, r.c.pid == v.c.pid).where(
            r.c.res_type == resource_type, r.c.res_id == resource_id,
            v.c.version == (version if version is not None else r.c.version), *self._visible())
        row = self._connection.execute(statement).first()
        return _stored(row) if row else None

    def read_many(self, keys: Iterable[tuple[str, str]]) -> list[StoredResource]:
        by_type: dict[str, set[str]] = {}
        for resource_type, resource_id in keys:
            by_type.setdefault(resource_type, set()).add(resource_id)
        found: list[StoredResource] = []
        r, v = s.resources, s.resource_versions
        for resource_type, ids in by_type.items():
            statement = sa.select(*_VERSION_COLUMNS).join(
                r, sa.and_(r.c.pid == v.c.pid, r.c.version == v.c.version)).where(
                r.c.res_type == resource_type, r.c.res_id.in_(sorted(ids)), r.c.deleted.is_(False),
                *self._visible())
            found.extend(_stored(row) for row in self._connection.execute(statement))
        return found

    def _driver(self) -> Any:
        """The DB-API connection, inside this unit of work's transaction."""
        if not self._connection.in_transaction():
            self._connection.begin()
        return self._connection.connection.driver_connection

    def save(self, writes: Sequence[PendingWrite]) -> None:
        if not writes:
            return
        if self._dialect == "postgresql":
            try:
                save_postgresql(self._driver(), writes)
            except (psycopg.IntegrityError, psycopg.errors.TransactionRollback) as exc:
                raise VersionConflict("A concurrent write changed the same resource; retry the request") from exc
            return
        try:
            self._save(writes)
        except IntegrityError as exc:
            raise VersionConflict("A concurrent write changed the same resource; retry the request") from exc

    def current_many(self, keys: Iterable[tuple[str, str]], *,
                     for_update: bool = False) -> dict[tuple[str, str], CurrentVersion]:
        wanted = sorted(set(keys))
        if not wanted:
            return {}
        if self._dialect == "postgresql":  # the driver directly: this runs for every transaction Bundle
            with self._driver().cursor() as cursor:
                cursor.execute(_CURRENT_LOCKED if for_update else _CURRENT,
                               ([key[0] for key in wanted], [key[1] for key in wanted]))
                return {(row[0], row[1]): CurrentVersion(row[2], row[3], row[4], row[5]) for row in cursor}
        r = s.resources
        statement = sa.select(r.c.res_type, r.c.res_id, r.c.pid, r.c.version, r.c.deleted, r.c.institution).where(
            sa.tuple_(r.c.res_type, r.c.res_id).in_(wanted)).order_by(r.c.pid)
        return {(row.res_type, row.res_id): CurrentVersion(row.pid, row.version, row.deleted, row.institution)
                for row in self._connection.execute(statement)}

    def _save(self, writes: Sequence[PendingWrite]) -> None:
        connection = self._connection
        new = [w for w in writes if w.pid is None]
        existing = [w for w in writes if w.pid is not None]
        if new:
            result = connection.execute(
                s.resources.insert().returning(s.resources.c.pid, sort_by_parameter_order=True),
                [{"res_type": w.resource_type, "res_id": w.resource_id, "version": w.version,
                  "last_updated": w.last_updated_us, "deleted": w.deleted, "institution": w.institution,
                  "patient": w.patient, "sensitivity": w.sensitivity} for w in new])
            for write, row in zip(new, result.all()):
                write.pid = row.pid
        if existing:
            connection.execute(
                s.resources.update().where(s.resources.c.pid == sa.bindparam("b_pid")).values(
                    version=sa.bindparam("b_version"), last_updated=sa.bindparam("b_updated"),
                    deleted=sa.bindparam("b_deleted"), patient=sa.bindparam("b_patient"),
                    sensitivity=sa.bindparam("b_sensitivity")),
                [{"b_pid": w.pid, "b_version": w.version, "b_updated": w.last_updated_us,
                  "b_deleted": w.deleted, "b_patient": w.patient, "b_sensitivity": w.sensitivity}
                 for w in existing])
            pids = [w.pid for w in existing]
            for table, _ in s.INDEX_TABLES.values():
                connection.execute(table.delete().where(table.c.pid.in_(pids)))
        self._insert(s.resource_versions, _VERSION_INSERT, [
            (w.pid, w.version, w.resource_type, w.resource_id, w.last_updated_us, w.deleted, w.method,
             w.source, w.body) for w in writes])
        for attribute, (table, columns) in s.INDEX_TABLES.items():
            rows = [(w.pid, w.resource_type, *values)
                    for w in writes if not w.deleted for values in getattr(w.index, attribute)]
            if rows:
                self._insert(table, ("pid", "res_type", *columns), rows)
        self._insert(s.outbox, ("res_type", "res_id", "version", "operation", "created"), [
            (w.resource_type, w.resource_id, w.version, "delete" if w.deleted else "upsert", w.last_updated_us)
            for w in writes])

    def _insert(self, table: sa.Table, columns: tuple[str, ...], rows: list[tuple[Any, ...]]) -> None:
        """Bulk insert: COPY on PostgreSQL (several times faster than INSERT), executemany elsewhere."""
        if self._dialect != "postgresql":
            self._connection.execute(table.insert(), [dict(zip(columns, row)) for row in rows])
            return
        json_columns = [i for i, name in enumerate(columns) if name == "body"]
        raw = self._connection.connection.driver_connection
        with raw.cursor() as cursor, cursor.copy(f"COPY {table.name} ({', '.join(columns)}) FROM STDIN") as copy:
            for row in rows:
                if json_columns:
                    row = tuple(_json_dumps(v) if i in json_columns and v is not None else v
                                for i, v in enumerate(row))
                copy.write_row(row)

    def search(self, query: SearchQuery) -> Page:
        r, v = s.resources, s.resource_versions
        conditions = [*filter_conditions(query), *self._visible()]
        total = None
        if query.total != "none" or query.summary == "count":
            total = self._connection.execute(sa.select(sa.func.count()).select_from(r).where(*conditions)).scalar_one()
        if query.summary == "count" or query.count == 0:
            return Page([], total)
        statement = (sa.select(*_VERSION_COLUMNS)
                     .join(r, sa.and_(r.c.pid == v.c.pid, r.c.version == v.c.version))
                     .where(*conditions).order_by(*sort_expressions(query))
                     .limit(query.count).offset(query.offset))
        return Page([_stored(row) for row in self._connection.execute(statement)], total)

    def lock_key(self, key: str) -> None:
        if self._dialect == "postgresql":  # SQLite already serializes writers (BEGIN IMMEDIATE)
            digest = _lock_digest(key)
            try:
                self._connection.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": digest})
            except OperationalError as exc:
                raise VersionConflict("Concurrent transactions waited for each other; retry") from exc

    def lock_keys(self, keys: Iterable[str]) -> None:
        if self._dialect != "postgresql":
            return
        digests = sorted({_lock_digest(key) for key in keys})
        if not digests:
            return
        try:  # unnest yields the sorted array in order: every transaction locks in the same order
            with self._driver().cursor() as cursor:
                cursor.execute("SELECT count(pg_advisory_xact_lock(k)) FROM unnest(%s::int8[]) AS u(k)",
                               ("{" + ",".join(map(str, digests)) + "}",))
        except psycopg.OperationalError as exc:
            raise VersionConflict("Concurrent transactions waited for each other; retry") from exc

    def find_by_tokens(self, lookups: Sequence[TokenLookup], *, limit: int) -> list[list[StoredResource]]:
        if self._dialect != "postgresql" or not self.visibility.unrestricted or len(lookups) < 2:
            return super().find_by_tokens(lookups, limit=limit)
        # one statement per lookup, all sent in one pipeline: each has one of three texts, so the server
        # plans it once per connection, where one UNION of them all would be planned anew every time
        driver = self._driver()
        cursors = []
        with driver.pipeline():
            for x in lookups:
                if x.any_system:
                    statement, system = _TOKENS_ANY, ()
                elif x.system is None:
                    statement, system = _TOKENS_NULL_SYSTEM, ()
                else:
                    statement, system = _TOKENS_WITH_SYSTEM, (x.system[:200],)
                cursor = driver.cursor()
                cursor.execute(statement, (x.resource_type, x.parameter, x.code[:200], *system, limit))
                cursors.append(cursor)
        found = []
        for cursor in cursors:
            found.append([StoredResource(*row) for row in cursor.fetchall()])
            cursor.close()
        return found

    def find_by_token(self, resource_type: str, parameter: str, system: str | None, code: str, *,
                      any_system: bool, limit: int) -> list[StoredResource]:
        if not self.visibility.unrestricted:
            return super().find_by_token(resource_type, parameter, system, code, any_system=any_system, limit=limit)
        statement = _TOKEN_ANY if any_system else (_TOKEN_NULL_SYSTEM if system is None else _TOKEN_WITH_SYSTEM)
        rows = self._connection.execute(statement, {"t": resource_type, "p": parameter, "c": code[:200],
                                                    "s": system[:200] if system else None, "n": limit})
        return [_stored(row) for row in rows]

    def referenced(self, sources: Sequence[StoredResource], parameter: str | None,
                   target_type: str | None) -> list[StoredResource]:
        if not sources:
            return []
        ref, r = s.idx_reference, s.resources
        keys = {(x.resource_type, x.resource_id) for x in sources}
        conditions = [sa.tuple_(r.c.res_type, r.c.res_id).in_(sorted(keys))]
        statement = (sa.select(ref.c.target_type, ref.c.target_id).join(r, r.c.pid == ref.c.pid)
                     .where(*conditions, ref.c.target_type.is_not(None)))
        if parameter is not None:
            statement = statement.where(ref.c.param == parameter)
        if target_type is not None:
            statement = statement.where(ref.c.target_type == target_type)
        targets = {(row.target_type, row.target_id) for row in self._connection.execute(statement)}
        return self.read_many(targets)

    def referencing(self, resource_type: str | None, parameter: str | None,
                    targets: Sequence[StoredResource]) -> list[StoredResource]:
        if not targets:
            return []
        ref, r, v = s.idx_reference, s.resources, s.resource_versions
        keys = sorted({(x.resource_type, x.resource_id) for x in targets})
        pids = sa.select(ref.c.pid).where(sa.tuple_(ref.c.target_type, ref.c.target_id).in_(keys))
        if resource_type is not None:
            pids = pids.where(ref.c.res_type == resource_type)
        if parameter is not None:
            pids = pids.where(ref.c.param == parameter)
        statement = (sa.select(*_VERSION_COLUMNS)
                     .join(r, sa.and_(r.c.pid == v.c.pid, r.c.version == v.c.version))
                     .where(r.c.pid.in_(pids), r.c.deleted.is_(False), *self._visible()).order_by(r.c.pid))
        return [_stored(row) for row in self._connection.execute(statement)]

    def history(self, *, resource_type: str | None, resource_id: str | None, since_us: int | None,
                count: int, offset: int, till_us: int | None = None) -> Page:
        v, r = s.resource_versions, s.resources
        conditions = []
        if not self.visibility.unrestricted:
            conditions.append(v.c.pid.in_(sa.select(r.c.pid).where(*self._visible())))
        if resource_type is not None:
            conditions.append(v.c.res_type == resource_type)
        if resource_id is not None:
            conditions.append(v.c.res_id == resource_id)
        if since_us is not None:
            conditions.append(v.c.last_updated >= since_us)
        if till_us is not None:
            conditions.append(v.c.last_updated <= till_us)
        total = self._connection.execute(sa.select(sa.func.count()).select_from(v).where(*conditions)).scalar_one()
        statement = (sa.select(*_VERSION_COLUMNS).where(*conditions)
                     .order_by(v.c.last_updated.desc(), v.c.pid.desc(), v.c.version.desc())
                     .limit(count).offset(offset))
        return Page([_stored(row) for row in self._connection.execute(statement)], total)

    def replace_consent_rules(self, patient: str, rules: set[tuple[str, str, str]]) -> None:
        c = s.consent_rules
        self._connection.execute(c.delete().where(c.c.patient == patient))
        if rules:
            self._connection.execute(c.insert(), [{"patient": patient, "grantee": g, "category": k, "decision": d}
                                                  for g, k, d in sorted(rules)])

    def outbox(self, *, after_seq: int = 0, limit: int = 100) -> list[OutboxEvent]:
        o = s.outbox
        statement = sa.select(o).where(o.c.seq > after_seq).order_by(o.c.seq).limit(limit)
        return [OutboxEvent(row.seq, row.res_type, row.res_id, row.version, row.operation, row.created)
                for row in self._connection.execute(statement)]

    def commit(self) -> None:
        try:
            self._connection.commit()
        except (IntegrityError, OperationalError) as exc:
            if isinstance(exc, OperationalError) and "deadlock" not in str(exc).lower() \
                    and "serializ" not in str(exc).lower():
                raise StoreUnavailable("The store is unavailable") from exc
            raise VersionConflict("A concurrent write changed the same resource; retry the request") from exc

    def rollback(self) -> None:
        if self._connection.in_transaction():
            self._connection.rollback()

    def close(self) -> None:
        self._connection.close()


class SqlResourceStore(ResourceStore):
    """Resource store on an SQLAlchemy engine."""

    def __init__(self, engine: sa.Engine):
        self.engine = engine

    def unit_of_work(self, *, read_only: bool = False, visibility: Visibility | None = None) -> SqlUnitOfWork:
        return SqlUnitOfWork(self.engine, read_only=read_only, visibility=visibility or Visibility.everything())

    def counts_by_type(self) -> dict[str, int]:
        r = s.resources
        with self.engine.connect() as connection:
            rows = connection.execute(sa.select(r.c.res_type, sa.func.count()).where(r.c.deleted.is_(False))
                                      .group_by(r.c.res_type))
            return {row[0]: row[1] for row in rows}

    def ping(self) -> bool:
        try:
            with self.engine.connect() as connection:
                connection.execute(sa.text("SELECT 1"))
            return True
        except OperationalError:
            return False
