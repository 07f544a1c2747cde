"""In-memory implementations of the store port: the executable specification of ResourceStore / UnitOfWork."""
from __future__ import annotations

import copy
import itertools
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from engine.errors import VersionConflict
from engine.search import query as q
from engine.search.extraction import IndexRows
from engine.security.visibility import Visibility
from engine.store.model import CurrentVersion, OutboxEvent, Page, PendingWrite, StoredResource
from engine.store.ports import ResourceStore, UnitOfWork

Key = tuple[str, str]
# Which IndexRows list a parameter type lives in, and (for `_sort`) which column of its rows sorts.
ROWS_BY_TYPE = {"token": "tokens", "string": "strings", "date": "dates", "reference": "references",
                "quantity": "quantities", "number": "quantities", "uri": "uris"}
SORT_COLUMN = {"token": 2, "string": 1, "date": 1, "quantity": 1, "number": 1, "uri": 1}
INSTITUTION_PRIVATE = ("AuditEvent",)  # only the owning institution ever sees these


@dataclass(frozen=True)
class _Row:
    """What is kept per resource besides its versions: insertion order and visibility columns."""

    pid: int
    institution: str | None
    patient: str | None
    sensitivity: str | None


@dataclass
class _State:
    """Everything the store holds. Values are replaced, never mutated, so a shallow copy is a snapshot."""

    rows: dict[Key, _Row] = field(default_factory=dict)
    versions: dict[Key, tuple[StoredResource, ...]] = field(default_factory=dict)
    index: dict[Key, IndexRows] = field(default_factory=dict)  # rows of the current, non-deleted version
    outbox: tuple[OutboxEvent, ...] = ()
    consent: dict[str, frozenset[tuple[str, str, str]]] = field(default_factory=dict)

    def copy(self) -> "_State":
        return _State(dict(self.rows), dict(self.versions), dict(self.index), self.outbox, dict(self.consent))

    def latest(self, key: Key) -> StoredResource | None:
        found = self.versions.get(key)
        return found[-1] if found else None

    def live(self, key: Key) -> StoredResource | None:
        latest = self.latest(key)
        return latest if latest is not None and not latest.deleted else None

    def apply(self, write: PendingWrite, seq: int) -> None:
        key = (write.resource_type, write.resource_id)
        stored = StoredResource(write.resource_type, write.resource_id, write.version, write.last_updated_us,
                                write.deleted, write.method, write.body)
        institution = self.rows[key].institution if key in self.rows else write.institution
        assert write.pid is not None
        self.rows[key] = _Row(write.pid, institution, write.patient, write.sensitivity)
        self.versions[key] = (*self.versions.get(key, ()), stored)
        self.index.pop(key, None)
        if not write.deleted:
            self.index[key] = write.index
        operation = "delete" if write.deleted else "upsert"
        self.outbox = (*self.outbox, OutboxEvent(seq, write.resource_type, write.resource_id, write.version,
                                                 operation, write.last_updated_us))


class FakeResourceStore(ResourceStore):
    """A ResourceStore kept in dicts; units of work see a snapshot and publish their writes on commit."""

    def __init__(self) -> None:
        self.committed = _State()
        self.pid_counter = itertools.count(1)
        self.seq_counter = itertools.count(1)

    def unit_of_work(self, *, read_only: bool = False,
                     visibility: Visibility | None = None) -> "FakeUnitOfWork":
        """Open a unit of work over a snapshot of the committed state, reading what `visibility` allows."""
        return FakeUnitOfWork(self, read_only=read_only, visibility=visibility or Visibility.everything())

    def counts_by_type(self) -> dict[str, int]:
        """Number of current, non-deleted resources per type."""
        counts: dict[str, int] = {}
        for (resource_type, _), versions in self.committed.versions.items():
            if not versions[-1].deleted:
                counts[resource_type] = counts.get(resource_type, 0) + 1
        return counts

    def ping(self) -> bool:
        """Always answers."""
        return True


class FakeUnitOfWork(UnitOfWork):
    """One transaction: reads its own writes, publishes them on commit, forgets them on rollback."""

    def __init__(self, store: FakeResourceStore, *, read_only: bool, visibility: Visibility) -> None:
        self.store = store
        self.read_only = read_only
        self.visibility = visibility
        self.closed = False
        self._begin()

    def _begin(self) -> None:
        self._base = self.store.committed
        self._state = self._base.copy()
        self._log: list[tuple[Key | None, Callable[[_State], None]]] = []  # (resource written, how) to replay

    def _open(self, *, writing: bool = False) -> _State:
        if self.closed:
            raise RuntimeError("unit of work used after close()")
        if writing and self.read_only:
            raise RuntimeError("write in a read-only unit of work")
        return self._state

    def _do(self, key: Key | None, change: Callable[[_State], None]) -> None:
        change(self._state)
        self._log.append((key, change))

    def current(self, resource_type: str, resource_id: str, *,
                for_update: bool = False) -> CurrentVersion | None:
        """Latest version metadata of a resource (visibility does not apply)."""
        state = self._open()
        latest = state.latest((resource_type, resource_id))
        if latest is None:
            return None
        row = state.rows[(resource_type, resource_id)]
        return CurrentVersion(row.pid, latest.version, latest.deleted, row.institution)

    def read(self, resource_type: str, resource_id: str, version: int | None = None) -> StoredResource | None:
        """The latest or the given version, deleted versions included."""
        state, key = self._open(), (resource_type, resource_id)
        versions = state.versions.get(key, ()) if self._visible(state, key) else ()
        if version is None:
            return _detached(versions[-1]) if versions else None
        return next((_detached(v) for v in versions if v.version == version), None)

    def read_many(self, keys: Iterable[tuple[str, str]]) -> list[StoredResource]:
        """Latest non-deleted, visible versions of the keys that exist, in insertion order."""
        state = self._open()
        return [_detached(state.live(k)) for k in self._ordered(state, set(keys))]

    def save(self, writes: Sequence[PendingWrite]) -> None:
        """Apply new versions, their index rows and outbox events to this transaction's state."""
        state = self._open(writing=True)
        for write in writes:
            key = (write.resource_type, write.resource_id)
            latest = state.latest(key)
            if (write.pid is None) != (latest is None) or (latest and write.version <= latest.version):
                raise VersionConflict(f"{key[0]}/{key[1]} changed concurrently")
            if write.pid is None:
                write.pid = next(self.store.pid_counter)
            seq = next(self.store.seq_counter)
            saved = replace(write, body=copy.deepcopy(write.body))  # stored as it is now, like a database row
            self._do(key, lambda s, w=saved, n=seq: s.apply(w, n))

    def replace_consent_rules(self, patient: str, rules: set[tuple[str, str, str]]) -> None:
        """Replace the (grantee, category, decision) sharing rules of one patient."""
        self._open(writing=True)
        self._do(None, lambda s, r=frozenset(rules): s.consent.__setitem__(patient, r))

    def commit(self) -> None:
        """Publish this transaction's changes; a resource committed by another since this began conflicts."""
        self._open()
        committed = self.store.committed
        for key, _ in self._log:
            if key is not None and committed.versions.get(key) is not self._base.versions.get(key):
                raise VersionConflict(f"{key[0]}/{key[1]} changed concurrently")
        published = committed.copy()
        for _, change in self._log:
            change(published)
        self.store.committed = published
        self._begin()

    def rollback(self) -> None:
        """Forget uncommitted changes and see the latest committed state."""
        if not self.closed:
            self._begin()

    def close(self) -> None:
        """Refuse any further use."""
        self.closed = True

    def outbox(self, *, after_seq: int = 0, limit: int = 100) -> list[OutboxEvent]:
        """Outbox events after `after_seq`, oldest first."""
        return [e for e in self._open().outbox if e.seq > after_seq][:limit]

    def history(self, *, resource_type: str | None, resource_id: str | None, since_us: int | None,
                count: int, offset: int, till_us: int | None = None) -> Page:
        """Versions of visible resources, newest first (time, then insertion, then version), and the total."""
        state = self._open()
        found = [(v, state.rows[key].pid) for key, versions in state.versions.items() for v in versions
                 if resource_type in (None, key[0]) and resource_id in (None, key[1])
                 and (since_us is None or v.last_updated_us >= since_us)
                 and (till_us is None or v.last_updated_us <= till_us) and self._visible(state, key)]
        found.sort(key=lambda item: (item[0].last_updated_us, item[1], item[0].version), reverse=True)
        return Page([_detached(v) for v, _ in found[offset:offset + count]], len(found))

    def search(self, query: q.SearchQuery) -> Page:
        """Live, visible resources of the query's type matching every clause, sorted and paged."""
        state = self._open()
        keys = self._ordered(state, (k for k in state.rows if k[0] == query.resource_type))
        matches = [k for k in keys if all(_holds(state, k, c) for c in query.clauses)]
        for sort_key in reversed(query.sort):  # stable sorts, least significant key first
            matches = _sorted_by(state, matches, sort_key)
        total = len(matches) if query.total != "none" or query.summary == "count" else None
        if query.summary == "count" or query.count == 0:
            return Page([], total)
        page = matches[query.offset:query.offset + query.count]
        return Page([_detached(state.live(k)) for k in page], total)

    def referenced(self, sources: Sequence[StoredResource], parameter: str | None,
                   target_type: str | None) -> list[StoredResource]:
        """Live resources the sources point at through `parameter` (any when None)."""
        state = self._open()
        rows = [row for source in sources for row in _rows(state, _key_of(source), "references")]
        targets = {(row[1], row[2]) for row in rows
                   if row[1] is not None and parameter in (None, row[0]) and target_type in (None, row[1])}
        return self.read_many(targets)

    def referencing(self, resource_type: str | None, parameter: str | None,
                    targets: Sequence[StoredResource]) -> list[StoredResource]:
        """Live resources of `resource_type` (any when None) pointing at any target through `parameter`."""
        state = self._open()
        wanted = {_key_of(t) for t in targets}
        keys = self._ordered(state, (k for k in state.rows if resource_type in (None, k[0])))
        return [_detached(state.live(k)) for k in keys
                if any(parameter in (None, row[0]) and (row[1], row[2]) in wanted
                       for row in _rows(state, k, "references"))]

    def _ordered(self, state: _State, keys: Iterable[Key]) -> list[Key]:
        """The live, visible resources among `keys`, in insertion order."""
        found = [k for k in keys if state.live(k) is not None and self._visible(state, k)]
        return sorted(found, key=lambda k: state.rows[k].pid)

    def _visible(self, state: _State, key: Key) -> bool:
        """Own institution's data; others' as the patient's consent allows; one compartment when asked."""
        seen, row = self.visibility, state.rows.get(key)
        if seen.unrestricted or row is None:
            return True
        if key[0] in seen.hidden_types:
            return False
        rules = state.consent.get(row.patient, frozenset()) if row.patient is not None else frozenset()

        def rule(decision: str, category: str | None) -> bool:
            return any(g in (seen.institution, "*") and c == category and d == decision for g, c, d in rules)

        if seen.institution is not None and row.institution != seen.institution:
            if seen.break_glass:
                shared = True
            elif row.sensitivity is None:
                allowed = rule("permit", "*") if seen.consent_default == "opt-in" else True
                shared = allowed and not rule("deny", "*")
            else:
                denied = rule("deny", "*") or rule("deny", row.sensitivity)
                shared = rule("permit", row.sensitivity) and not denied
            if key[0] in INSTITUTION_PRIVATE or not (row.patient is None or shared):
                return False
        if seen.patient is not None:
            return row.patient in (seen.patient, *seen.linked_patients) or (row.patient is None
                                                                             and key[0] != "Patient")
        return True


def _key_of(resource: StoredResource) -> Key:
    return resource.resource_type, resource.resource_id


def _detached(stored: StoredResource | None) -> StoredResource:
    """A copy callers may change without changing the store (a database hands out fresh rows too)."""
    assert stored is not None
    return replace(stored, body=copy.deepcopy(stored.body))


def _rows(state: _State, key: Key, table: str) -> list[tuple[Any, ...]]:
    index = state.index.get(key)
    return list(getattr(index, table)) if index is not None else []


def _holds(state: _State, key: Key, clause: q.Clause) -> bool:
    """Whether the live resource `key` satisfies one AND-clause."""
    parameter, stored = clause.parameter, state.live(key)
    assert stored is not None
    if parameter.code == "_id":
        listed = key[1] in {v.code for v in clause.values}  # type: ignore[union-attr]
        return listed != (clause.modifier == "not")
    if parameter.code == "_lastUpdated":
        moment = stored.last_updated_us
        return any(range_matches(v, moment, moment) for v in clause.values)  # type: ignore[arg-type]
    rows = [r for r in _rows(state, key, ROWS_BY_TYPE[parameter.type]) if r[0] == parameter.code]
    if clause.missing is not None:
        return not rows if clause.missing else bool(rows)
    if clause.chains:
        return any(row[1] == chain_type and state.live((chain_type, row[2])) is not None
                   and _holds(state, (chain_type, row[2]), inner)
                   for row in rows for chain_type, inner in clause.chains)
    matched = any(value_matches(parameter.type, clause.modifier, value, row)
                  for row in rows for value in clause.values)
    return not matched if clause.modifier == "not" else matched


def _sorted_by(state: _State, keys: list[Key], sort_key: q.SortKey) -> list[Key]:
    """Stable sort on one key: ascending by the least value, descending by the greatest, missing last."""
    parameter = sort_key.parameter

    def value(key: Key) -> Any:
        if parameter.code == "_id":
            return key[1]
        if parameter.code == "_lastUpdated":
            return state.live(key).last_updated_us  # type: ignore[union-attr]
        column = SORT_COLUMN[parameter.type]
        values = [row[column] for row in _rows(state, key, ROWS_BY_TYPE[parameter.type])
                  if row[0] == parameter.code and row[column] is not None]
        if not values:
            return None
        return max(values) if sort_key.descending else min(values)

    present = [k for k in keys if value(k) is not None]
    missing = [k for k in keys if value(k) is None]
    return sorted(present, key=value, reverse=sort_key.descending) + missing


def value_matches(kind: str, modifier: str | None, value: q.SearchValue, row: tuple[Any, ...]) -> bool:
    """Whether one index row (its first column is the parameter code) satisfies one search value."""
    _, *columns = row
    if isinstance(value, q.TokenValue):
        system, code, _display = columns
        return ((not value.system_given or system == value.system)
                and (value.code is None or code == value.code))
    if isinstance(value, q.StringValue):
        if kind == "token":  # :text matches the start of any word of the display
            display = columns[2]
            return display is not None and (display.startswith(value.text) or f" {value.text}" in display)
        norm, exact = columns
        if modifier == "exact":
            return exact == value.raw
        return value.text in norm if modifier == "contains" else norm.startswith(value.text)
    if isinstance(value, q.RangeValue):
        if kind == "number":
            middle = (value.low + value.high) / 2
            return number_matches(value.prefix, value.low, value.high, middle, columns[0])
        return range_matches(value, *columns)
    if isinstance(value, q.QuantityValue):
        number, system, code, unit = columns
        return (number_matches(value.prefix, value.low, value.high, value.value, number)
                and (not value.system or system == value.system)
                and (not value.code or value.code in (code, unit)))
    if isinstance(value, q.ReferenceValue):
        target_type, target_id, url = columns
        if value.url is not None:
            return url == value.url
        return (target_id == value.resource_id
                and (not value.resource_type or target_type == value.resource_type))
    assert isinstance(value, q.UriValue)
    (uri,) = columns
    if modifier == "below":
        return uri.startswith(value.uri)
    if modifier == "above":
        return bool(uri) and value.uri.startswith(uri)
    return uri == value.uri


def range_matches(value: q.RangeValue, low: float, high: float) -> bool:
    """A stored range [low, high] against a date search value, by prefix."""
    contained = low >= value.low and high <= value.high
    return {
        "eq": contained,
        "ne": not contained,
        "gt": high > value.high,
        "lt": low < value.low,
        "ge": high > value.high or contained,
        "le": low < value.low or contained,
        "sa": low > value.high,
        "eb": high < value.low,
        "ap": low <= value.high and high >= value.low,
    }[value.prefix]


def number_matches(prefix: str, low: float, high: float, exact: float, number: float) -> bool:
    """A stored number against a number/quantity search range, by prefix (eq is half-open)."""
    return {
        "eq": low <= number < high,
        "ap": low <= number <= high,
        "ne": number < low or number >= high,
        "gt": number > exact, "sa": number > exact,
        "lt": number < exact, "eb": number < exact,
        "ge": number >= exact,
        "le": number <= exact,
    }[prefix]
