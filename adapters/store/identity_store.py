"""SQL implementation of engine.identity.ports.IdentityRepository, and a store that reports Patient commits
(and keeps golden-record Patients to the identity service)."""
from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import sqlalchemy as sa

from engine.errors import Forbidden, Issue
from engine.identity.ports import MDM_SOURCE, IdentityRepository, Link, Pair, is_golden
from engine.security.visibility import Visibility
from engine.store.model import PendingWrite, StoredResource
from engine.store.ports import UnitOfWork
from adapters.store import schema as s
from adapters.store.sql_store import SqlResourceStore, SqlUnitOfWork

log = logging.getLogger("tessera.identity")
_CHUNK = 500


def _pair(row: Any) -> Pair:
    return Pair(row.pair_id, row.left_id, row.right_id, row.probability, row.decision, row.explanation or {},
                row.manual, row.actor, row.reason, row.updated)


def _link(row: Any) -> Link:
    return Link(row.patient_id, row.golden_id, row.institution, row.probability, row.decision,
                row.explanation or {}, bool(row.manual), row.actor, row.reason, row.updated)


def _pair_row(pair: Pair) -> dict[str, Any]:
    return {"pair_id": pair.pair_id, "left_id": pair.left_id, "right_id": pair.right_id,
            "probability": pair.probability, "decision": pair.decision, "explanation": pair.explanation,
            "manual": pair.manual, "actor": (pair.actor or "")[:200] or None, "reason": pair.reason,
            "updated": pair.updated_us}


def _chunks(items: Sequence[Any]) -> list[Sequence[Any]]:
    return [items[i:i + _CHUNK] for i in range(0, len(items), _CHUNK)]


class SqlIdentityStore(IdentityRepository):
    """Identity tables in the same database as the resources."""

    def __init__(self, engine: sa.Engine):
        self.engine = engine
        self._shared = threading.local()

    @contextlib.contextmanager
    def reading(self) -> Iterator[None]:
        """On PostgreSQL, the reads inside share one autocommit connection: one pool checkout (and
        liveness ping) instead of one per read, and every statement still sees all committed writes.
        SQLite reads keep their own connections (a shared one would hold an old snapshot)."""
        if self.engine.dialect.name != "postgresql" or getattr(self._shared, "connection", None) is not None:
            yield
            return
        with self.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            self._shared.connection = connection
            try:
                yield
            finally:
                self._shared.connection = None

    def _read(self) -> contextlib.AbstractContextManager[sa.Connection]:
        shared = getattr(self._shared, "connection", None)
        return contextlib.nullcontext(shared) if shared is not None else self.engine.connect()

    def latest_change(self) -> int:
        with self._read() as connection:
            return int(connection.execute(sa.select(sa.func.max(s.outbox.c.seq))).scalar() or 0)

    def changes(self, after_seq: int, limit: int) -> list[tuple[int, str, str, int]]:
        o = s.outbox
        statement = (sa.select(o.c.seq, o.c.res_type, o.c.res_id, o.c.version)
                     .where(o.c.seq > after_seq).order_by(o.c.seq).limit(limit))
        with self._read() as connection:
            return [(row.seq, row.res_type, row.res_id, row.version) for row in connection.execute(statement)]

    def changes_at(self, seqs: list[int]) -> list[tuple[int, str, str, int]]:
        o, found = s.outbox, []
        with self._read() as connection:
            for chunk in _chunks(sorted(seqs)):
                statement = sa.select(o.c.seq, o.c.res_type, o.c.res_id, o.c.version).where(o.c.seq.in_(chunk))
                found.extend((row.seq, row.res_type, row.res_id, row.version) for row in connection.execute(statement))
        return sorted(found)

    def _patient_column(self, patient_ids: list[str], column: sa.Column) -> dict[str, Any]:
        r, out = s.resources, {}
        with self._read() as connection:
            for chunk in _chunks(sorted(set(patient_ids))):
                rows = connection.execute(sa.select(r.c.res_id, column)
                                          .where(r.c.res_type == "Patient", r.c.res_id.in_(chunk)))
                out.update({row[0]: row[1] for row in rows})
        return out

    def institutions(self, patient_ids: list[str]) -> dict[str, str | None]:
        return self._patient_column(patient_ids, s.resources.c.institution)

    def patients_page(self, after: int, limit: int) -> list[tuple[int, StoredResource, str | None]]:
        r, v = s.resources, s.resource_versions
        statement = (sa.select(r.c.pid, r.c.institution, v.c.res_type, v.c.res_id, v.c.version, v.c.last_updated,
                               v.c.deleted, v.c.method, v.c.body)
                     .join(v, sa.and_(v.c.pid == r.c.pid, v.c.version == r.c.version))
                     .where(r.c.pid > after, r.c.res_type == "Patient", r.c.deleted.is_(False),
                            sa.or_(v.c.source.is_(None), v.c.source != MDM_SOURCE))
                     .order_by(r.c.pid).limit(limit))
        with self._read() as connection:
            return [(row.pid, StoredResource(row.res_type, row.res_id, row.version, row.last_updated, row.deleted,
                                             row.method, row.body), row.institution)
                    for row in connection.execute(statement)]

    def all_pairs(self) -> list[Pair]:
        with self._read() as connection:
            return [_pair(row) for row in connection.execute(sa.select(s.identity_pairs))]

    def pairs_touching(self, patient_ids: set[str]) -> list[Pair]:
        p, found = s.identity_pairs, {}
        with self._read() as connection:
            for chunk in _chunks(sorted(patient_ids)):
                rows = connection.execute(sa.select(p).where(sa.or_(p.c.left_id.in_(chunk), p.c.right_id.in_(chunk))))
                found.update({row.pair_id: _pair(row) for row in rows})
        return list(found.values())

    def pair(self, pair_id: str) -> Pair | None:
        p = s.identity_pairs
        with self._read() as connection:
            row = connection.execute(sa.select(p).where(p.c.pair_id == pair_id)).first()
        return _pair(row) if row else None

    def replace_auto_pairs(self, patient_ids: Sequence[str], pairs: list[Pair]) -> None:
        p = s.identity_pairs
        ids = sorted(set(patient_ids))
        unique = list({pair.pair_id: pair for pair in pairs}.values())
        manual: set[str] = set()
        with self.engine.begin() as connection:
            for chunk in _chunks(ids):
                touching = sa.or_(p.c.left_id.in_(chunk), p.c.right_id.in_(chunk))
                found = {row.pair_id for row in connection.execute(sa.select(p.c.pair_id).where(
                    touching, p.c.manual.is_not(None)))}
                connection.execute(p.delete().where(touching, p.c.manual.is_(None)))
                if found:
                    connection.execute(p.update().where(touching, p.c.manual.is_not(None))
                                       .values(probability=None, decision=None))
                manual |= found
            self._upsert_scores(connection, unique, manual)

    def replace_all_auto_pairs(self, pairs: list[Pair]) -> None:
        p = s.identity_pairs
        with self.engine.begin() as connection:
            manual = {row.pair_id for row in connection.execute(sa.select(p.c.pair_id).where(p.c.manual.is_not(None)))}
            connection.execute(p.delete().where(p.c.manual.is_(None)))
            connection.execute(p.update().values(probability=None, decision=None))
            self._upsert_scores(connection, pairs, manual)

    @staticmethod
    def _upsert_scores(connection: sa.Connection, pairs: list[Pair], manual: set[str]) -> None:
        p = s.identity_pairs
        fresh = [_pair_row(x) for x in pairs if x.pair_id not in manual]
        if fresh:
            connection.execute(p.insert(), fresh)
        for x in pairs:
            if x.pair_id in manual:
                connection.execute(p.update().where(p.c.pair_id == x.pair_id).values(
                    probability=x.probability, decision=x.decision, explanation=x.explanation))

    def set_manual(self, pair: Pair) -> None:
        p = s.identity_pairs
        with self.engine.begin() as connection:
            done = connection.execute(p.update().where(p.c.pair_id == pair.pair_id).values(
                manual=pair.manual, actor=(pair.actor or "")[:200] or None, reason=pair.reason,
                updated=pair.updated_us))
            if done.rowcount == 0:
                connection.execute(p.insert().values(**_pair_row(pair)))

    def review_queue(self, limit: int) -> list[Pair]:
        p = s.identity_pairs
        statement = (sa.select(p).where(p.c.decision == "possible", p.c.manual.is_(None))
                     .order_by(p.c.probability.desc(), p.c.pair_id).limit(limit))
        with self._read() as connection:
            return [_pair(row) for row in connection.execute(statement)]

    def links(self, patient_ids: list[str] | None = None) -> dict[str, Link]:
        t = s.identity_links
        with self._read() as connection:
            if patient_ids is None:
                return {row.patient_id: _link(row) for row in connection.execute(sa.select(t))}
            out = {}
            for chunk in _chunks(sorted(set(patient_ids))):
                out.update({row.patient_id: _link(row) for row in
                            connection.execute(sa.select(t).where(t.c.patient_id.in_(chunk)))})
            return out

    def members(self, golden_ids: list[str]) -> dict[str, list[str]]:
        t, out = s.identity_links, {}
        with self._read() as connection:
            for chunk in _chunks(sorted(set(golden_ids))):
                rows = connection.execute(sa.select(t.c.golden_id, t.c.patient_id).where(t.c.golden_id.in_(chunk))
                                          .order_by(t.c.patient_id))
                for row in rows:
                    out.setdefault(row.golden_id, []).append(row.patient_id)
        return out

    def golden_page(self, offset: int, limit: int) -> list[str]:
        t = s.identity_links
        with self._read() as connection:
            return list(connection.execute(sa.select(t.c.golden_id).distinct().order_by(t.c.golden_id)
                                           .limit(limit).offset(offset)).scalars())

    def goldens_among(self, ids: list[str]) -> set[str]:
        t, out = s.identity_links, set()
        with self._read() as connection:
            for chunk in _chunks(sorted(set(ids))):
                out.update(connection.execute(sa.select(t.c.golden_id).distinct()
                                              .where(t.c.golden_id.in_(chunk))).scalars())
        return out

    def goldens_not_stored(self) -> list[str]:
        t, r = s.identity_links, s.resources
        stored = sa.select(r.c.res_id).where(r.c.res_type == "Patient", r.c.deleted.is_(False))
        with self._read() as connection:
            return list(connection.execute(sa.select(t.c.golden_id).distinct()
                                           .where(t.c.golden_id.not_in(stored)).order_by(t.c.golden_id)).scalars())

    def consent_rules(self, patient_ids: list[str]) -> dict[str, set[tuple[str, str, str]]]:
        c, out = s.consent_rules, {}
        with self._read() as connection:
            for chunk in _chunks(sorted(set(patient_ids))):
                for row in connection.execute(sa.select(c.c.patient, c.c.grantee, c.c.category, c.c.decision)
                                              .where(c.c.patient.in_(chunk))):
                    out.setdefault(row.patient, set()).add((row.grantee, row.category, row.decision))
        return out

    def sensitivity(self, patient_ids: list[str]) -> dict[str, str | None]:
        return self._patient_column(patient_ids, s.resources.c.sensitivity)

    def write_clusters(self, uow: UnitOfWork, links: list[Link], removed: set[str]) -> None:
        t = s.identity_links
        connection = _connection_of(uow)
        gone = sorted(set(removed) | {link.patient_id for link in links})
        for chunk in _chunks(gone):
            connection.execute(t.delete().where(t.c.patient_id.in_(chunk)))
        if links:
            connection.execute(t.insert(), [
                {"patient_id": x.patient_id, "golden_id": x.golden_id, "institution": x.institution,
                 "probability": x.probability, "decision": x.decision, "explanation": x.explanation,
                 "manual": x.manual, "actor": (x.actor or "")[:200] or None, "reason": x.reason,
                 "updated": x.updated_us} for x in links])

    def record_event(self, kind: str, detail: dict[str, Any], actor: str | None, reason: str | None,
                     now_us: int) -> None:
        with self.engine.begin() as connection:
            connection.execute(s.identity_events.insert().values(kind=kind[:16], detail=detail,
                                                                 actor=(actor or "")[:200] or None,
                                                                 reason=reason, at=now_us))

    def save_model(self, model: dict[str, Any], now_us: int) -> None:
        m = s.identity_models
        with self.engine.begin() as connection:
            connection.execute(m.delete().where(m.c.name == "default"))
            connection.execute(m.insert().values(name="default", model=model, updated=now_us))

    def load_model(self) -> dict[str, Any] | None:
        m = s.identity_models
        with self._read() as connection:
            return connection.execute(sa.select(m.c.model).where(m.c.name == "default")).scalar()

    def model_stamp(self) -> int | None:
        m = s.identity_models
        with self._read() as connection:
            return connection.execute(sa.select(m.c.updated).where(m.c.name == "default")).scalar()


def _connection_of(uow: UnitOfWork) -> sa.Connection:
    """The connection (and so the transaction) of a SQL unit of work."""
    if not isinstance(uow, SqlUnitOfWork):
        raise TypeError("identity links are written inside a SQL unit of work")
    return uow._connection  # noqa: SLF001 - same database, same transaction as the golden Patients


def _forged(write: PendingWrite) -> bool:
    meta = (write.body or {}).get("meta") or {}
    return is_golden(write.body) or meta.get("source") == MDM_SOURCE


class _ObservedUnitOfWork(SqlUnitOfWork):
    """Notes Patient writes and tells the store's listeners after they commit; only the identity service's
    units of work (`golden_writer`) may write golden Patients."""

    def __init__(self, store: "ObservedSqlStore", *, read_only: bool, visibility: Visibility,
                 golden_writer: bool = False):
        super().__init__(store.engine, read_only=read_only, visibility=visibility)
        self._store = store
        self._patients = False
        self._wrote = False
        self._golden_writer = golden_writer

    def save(self, writes: Sequence[PendingWrite]) -> None:
        if not self._golden_writer:
            self._refuse_golden(writes)
        super().save(writes)
        self._wrote = self._wrote or bool(writes)
        if not self._golden_writer and any(w.resource_type in ("Patient", "Consent") for w in writes):
            self._patients = True  # a source Patient changed, or who may see one

    def _refuse_golden(self, writes: Sequence[PendingWrite]) -> None:
        patients = [w for w in writes if w.resource_type == "Patient"]
        if any(_forged(w) for w in patients):
            raise Forbidden("Golden-record Patients are written by the identity service only",
                            issues=[Issue("forbidden", "the golden-record tag and source are managed by the server",
                                          "Patient.meta")])
        consented = sorted({w.patient for w in writes if w.resource_type == "Consent" and w.patient})
        if consented and self._golden_ids(consented):
            raise Forbidden("A golden record's sharing follows its members' Consents",
                            issues=[Issue("forbidden", "a Consent cannot be about a golden-record Patient",
                                          "Consent.patient")])
        existing = [(w.pid, w.version - 1) for w in patients if w.pid is not None and w.version > 1]
        if existing:
            v = s.resource_versions
            found = self._connection.execute(sa.select(v.c.pid).where(
                sa.tuple_(v.c.pid, v.c.version).in_(existing), v.c.source == MDM_SOURCE).limit(1)).first()
            if found is not None:
                raise Forbidden("Golden-record Patients are changed by the identity service only",
                                issues=[Issue("forbidden", "a golden-record Patient cannot be changed or deleted",
                                              "Patient")])

    def _golden_ids(self, patient_ids: list[str]) -> set[str]:
        r, v = s.resources, s.resource_versions
        statement = (sa.select(r.c.res_id).join(v, sa.and_(v.c.pid == r.c.pid, v.c.version == r.c.version))
                     .where(r.c.res_type == "Patient", r.c.res_id.in_(patient_ids), v.c.source == MDM_SOURCE))
        return set(self._connection.execute(statement).scalars())

    def commit(self) -> None:
        super().commit()
        if self._wrote:
            self._wrote = False
            self._store.notify_write()
        if self._patients:
            self._patients = False
            self._store.notify()

    def rollback(self) -> None:
        self._patients = False
        self._wrote = False
        super().rollback()


class ObservedSqlStore(SqlResourceStore):
    """The SQL store; after a transaction that wrote a Patient commits, each listener runs (inline matching).

    A failing listener never fails the write (it is already durable): it is logged without patient data.
    """

    def __init__(self, engine: sa.Engine, *, background: bool = False):
        super().__init__(engine)
        self.listeners: list[Callable[[], Any]] = []
        self.write_listeners: list[Callable[[], Any]] = []  # told after any committed write (cheap nudges)
        self.identity: Any = None  # the IdentityService the composition root attaches
        self.background = background
        self._pending = threading.Event()
        self._stopping = False
        self._thread: threading.Thread | None = None

    def unit_of_work(self, *, read_only: bool = False, visibility: Visibility | None = None) -> SqlUnitOfWork:
        return _ObservedUnitOfWork(self, read_only=read_only, visibility=visibility or Visibility.everything())

    def golden_unit_of_work(self) -> SqlUnitOfWork:
        """A unit of work that may write golden Patients (the identity service's)."""
        return _ObservedUnitOfWork(self, read_only=False, visibility=Visibility.everything(), golden_writer=True)

    def notify(self) -> None:
        """After a Patient write committed: run the listeners now, or wake the background matcher."""
        if not self.background:
            self._run_listeners()
            return
        if self._thread is None:
            self._thread = threading.Thread(target=self._loop, name="identity-matching", daemon=True)
            self._thread.start()
        self._pending.set()

    def notify_write(self) -> None:
        """After any write committed: tell the write listeners (e.g. the search indexing trigger)."""
        for listener in self.write_listeners:
            try:
                listener()
            except Exception as exc:  # noqa: BLE001 - the write stands; the periodic sweep catches up
                log.error("a post-write notification failed: %s", type(exc).__name__)

    def _loop(self) -> None:
        while not self._stopping:
            self._pending.wait()
            time.sleep(0.2)  # let a burst of writes arrive, then match them together
            self._pending.clear()
            self._run_listeners()

    def _run_listeners(self) -> None:
        for listener in self.listeners:
            try:
                listener()
            except Exception as exc:  # noqa: BLE001 - the write stands; matching catches up on the next one
                log.error("identity matching after a Patient write failed: %s", type(exc).__name__)

    def drain(self) -> None:
        """Finish pending background matching (on shutdown)."""
        if self._thread is not None:
            self._stopping = True
            self._pending.set()
            self._thread.join(60)
            self._run_listeners()
