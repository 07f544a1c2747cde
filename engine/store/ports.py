"""Abstract store and unit of work; the SQL adapter and the in-memory fake implement them."""
from __future__ import annotations

import abc
from collections.abc import Iterable, Sequence

from engine.search.query import SearchQuery
from engine.security.visibility import Visibility
from engine.store.model import CurrentVersion, OutboxEvent, Page, PendingWrite, StoredResource, TokenLookup


class UnitOfWork(abc.ABC):
    """One atomic transaction against the store; rolls back unless `commit()` is called."""

    def __enter__(self) -> "UnitOfWork":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.rollback()
        self.close()

    @abc.abstractmethod
    def current(self, resource_type: str, resource_id: str, *, for_update: bool = False) -> CurrentVersion | None:
        """Latest version metadata of a resource, locking it for update when asked."""

    @abc.abstractmethod
    def read(self, resource_type: str, resource_id: str, version: int | None = None) -> StoredResource | None:
        """A resource version (the latest when `version` is None), deleted versions included."""

    @abc.abstractmethod
    def read_many(self, keys: Iterable[tuple[str, str]]) -> list[StoredResource]:
        """Latest non-deleted versions of the given (type, id) pairs that exist."""

    @abc.abstractmethod
    def save(self, writes: Sequence[PendingWrite]) -> None:
        """Persist new versions, their index rows and outbox events."""

    @abc.abstractmethod
    def search(self, query: SearchQuery) -> Page:
        """Current, non-deleted resources matching `query`, sorted and paged."""

    def lock_key(self, key: str) -> None:
        """Serialize transactions that create or update by the same criteria (no-op where writes serialize)."""

    def lock_keys(self, keys: Iterable[str]) -> None:
        """Lock several keys at once, in one global order (stores may do it in one round trip)."""
        for key in sorted(set(keys)):
            self.lock_key(key)

    def current_many(self, keys: Iterable[tuple[str, str]], *,
                     for_update: bool = False) -> dict[tuple[str, str], CurrentVersion]:
        """Latest version metadata of several resources (those that exist), locked for update when asked."""
        found = {}
        for key in sorted(set(keys)):
            current = self.current(key[0], key[1], for_update=for_update)
            if current is not None:
                found[key] = current
        return found

    def find_by_tokens(self, lookups: Sequence[TokenLookup], *, limit: int) -> list[list[StoredResource]]:
        """`find_by_token` for several lookups at once; one result list per lookup, in order."""
        return [self.find_by_token(x.resource_type, x.parameter, x.system, x.code, any_system=x.any_system,
                                   limit=limit) for x in lookups]

    def find_by_token(self, resource_type: str, parameter: str, system: str | None, code: str, *,
                      any_system: bool, limit: int) -> list[StoredResource]:
        """Current resources with a token `system|code` (any system when `any_system`); stores may speed this up."""
        from engine.search.parsing import parse_clause

        value = code if any_system else f"{system or ''}|{code}"
        query = SearchQuery(resource_type=resource_type, count=limit, total="none")
        query.clauses.append(parse_clause(resource_type, parameter, value.replace(",", "\\,")))
        return self.search(query).items

    @abc.abstractmethod
    def referenced(self, sources: Sequence[StoredResource], parameter: str | None,
                   target_type: str | None) -> list[StoredResource]:
        """Resources the `sources` point at through reference parameter `parameter` (any when None)."""

    @abc.abstractmethod
    def referencing(self, resource_type: str | None, parameter: str | None,
                    targets: Sequence[StoredResource]) -> list[StoredResource]:
        """Resources of `resource_type` (any type when None) pointing at `targets` through `parameter`."""

    @abc.abstractmethod
    def history(self, *, resource_type: str | None, resource_id: str | None, since_us: int | None,
                count: int, offset: int, till_us: int | None = None) -> Page:
        """Versions newest first, at system, type or instance level, written in [since, till]."""

    @abc.abstractmethod
    def replace_consent_rules(self, patient: str, rules: set[tuple[str, str, str]]) -> None:
        """Replace the sharing rules (grantee, category, decision) derived from a patient's Consents."""

    @abc.abstractmethod
    def outbox(self, *, after_seq: int = 0, limit: int = 100) -> list[OutboxEvent]:
        """Outbox events with sequence numbers above `after_seq`, oldest first."""

    @abc.abstractmethod
    def commit(self) -> None:
        """Make everything written so far durable."""

    @abc.abstractmethod
    def rollback(self) -> None:
        """Discard everything written since the last commit."""

    def close(self) -> None:
        """Release the connection; the default does nothing."""


class ResourceStore(abc.ABC):
    """A durable FHIR resource store: current versions, history, search index and outbox."""

    @abc.abstractmethod
    def unit_of_work(self, *, read_only: bool = False, visibility: "Visibility | None" = None) -> UnitOfWork:
        """Open a unit of work (one database transaction); its reads only see what `visibility` allows."""

    @abc.abstractmethod
    def counts_by_type(self) -> dict[str, int]:
        """Number of current, non-deleted resources per type (for metrics)."""

    @abc.abstractmethod
    def ping(self) -> bool:
        """True when the store answers."""
