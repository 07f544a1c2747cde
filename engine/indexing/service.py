"""Drain the outbox into the search index, rebuild it from the store, and check it against the store."""
from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from engine.indexing.model import ApplyReport, Deletion, IndexedDocument, SearchDocument, SourceVersion
from engine.indexing.ports import Embedder, IndexOutbox, SearchIndex
from engine.indexing.rendering import render
from engine.store.model import OutboxEvent

log = logging.getLogger("tessera.indexing")
NOT_INDEXED = frozenset({"AuditEvent"})  # the audit trail grows with every request and is read by its own API


@dataclass
class DrainReport:
    """What draining did: events consumed, documents written, deleted, skipped as stale, refused."""

    events: int = 0
    indexed: int = 0
    deleted: int = 0
    stale: int = 0
    rejected: int = 0
    batches: int = 0
    seconds: float = 0.0

    def add(self, events: int, report: ApplyReport) -> None:
        """Account for one applied batch."""
        self.events += events
        self.indexed += report.indexed
        self.deleted += report.deleted
        self.stale += report.stale
        self.rejected += len(report.rejected)
        self.batches += 1

    def merge(self, other: "DrainReport") -> None:
        """Add another report's counts to this one."""
        for name in ("events", "indexed", "deleted", "stale", "rejected", "batches"):
            setattr(self, name, getattr(self, name) + getattr(other, name))


@dataclass
class Verification:
    """How the index differs from the store: documents missing, older than the store, newer than the store
    (the store was restored from a backup: only `reindex --clear` repairs them), or orphaned."""

    checked: int = 0
    missing: list[str] = field(default_factory=list)
    stale: list[str] = field(default_factory=list)
    ahead: list[str] = field(default_factory=list)
    orphans: list[str] = field(default_factory=list)
    orphan_versions: dict[str, int] = field(default_factory=dict)

    @property
    def clean(self) -> bool:
        """True when the index holds exactly the store's current versions."""
        return not (self.missing or self.stale or self.ahead or self.orphans)


def latest_per_resource(events: Sequence[OutboxEvent]) -> list[tuple[str, str]]:
    """The distinct resources the events announce, in first-seen order."""
    seen: dict[tuple[str, str], None] = {}
    for event in events:
        seen.setdefault((event.resource_type, event.resource_id), None)
    return list(seen)


def fallback_document(source: SourceVersion) -> SearchDocument:
    """A document naming only the resource, for bodies that cannot be rendered."""
    label = f"{source.resource_type} {source.resource_id}"
    return SearchDocument(source.resource_type, source.resource_id, source.version, None, None,
                          source.institution, None, None, (), (), label, label, source.resource_type)


class IndexingService:
    """Keeps the search index in step with the store: outbox events in, embedded documents out."""

    def __init__(self, outbox: IndexOutbox, index: SearchIndex, embedder: Embedder, *, batch_size: int = 500):
        self.outbox = outbox
        self.index = index
        self.embedder = embedder
        self.batch_size = batch_size
        self._index_ready = False
        self._unrefreshed = False

    def drain_once(self, limit: int | None = None) -> DrainReport:
        """Index one batch of pending events; an empty report when nothing is pending."""
        report = DrainReport()
        started = time.perf_counter()
        with self.outbox.claim(limit or self.batch_size) as batch:
            if not batch.events:
                return report
            keys = [key for key in latest_per_resource(batch.events) if key[0] not in NOT_INDEXED]
            newest = {}
            for event in batch.events:
                key = (event.resource_type, event.resource_id)
                newest[key] = max(newest.get(key, 0), event.version)
            sources = {(s.resource_type, s.resource_id): s for s in self.outbox.current(keys)} if keys else {}
            deletions = [Deletion(t, i, newest[(t, i)]) for (t, i) in keys if (t, i) not in sources]
            applied = self._apply(list(sources.values()), deletions)
            for rejection in applied.rejected:
                batch.dead_letter(rejection.key, rejection.version, rejection.reason)
            batch.complete([event.seq for event in batch.events])
            report.add(len(batch.events), applied)
        report.seconds = time.perf_counter() - started
        return report

    def drain(self, *, max_seconds: float | None = None, limit: int | None = None) -> DrainReport:
        """Index batches until nothing is pending (or `max_seconds` passed), then make them searchable; the
        index exists afterwards, so an empty store searches as empty while a removed index is an outage."""
        if not self._index_ready:
            self.index.ensure()
            self._index_ready = True
        total = DrainReport()
        started = time.perf_counter()
        while True:
            report = self.drain_once(limit)
            if not report.events:
                if total.events or self._unrefreshed:  # caught up: searchable now, not at the next refresh
                    self.index.refresh()
                    self._unrefreshed = False
                break
            total.merge(report)
            if max_seconds is not None and time.perf_counter() - started >= max_seconds:
                self._unrefreshed = True  # the next drain that catches up refreshes
                break
        total.seconds = time.perf_counter() - started
        return total

    def reindex(self, resource_type: str | None = None, *, clear: bool = False) -> DrainReport:
        """Rebuild the index from the store's current resources (of one type when given)."""
        total = DrainReport()
        started = time.perf_counter()
        self.index.ensure()
        if clear:
            self.index.clear(resource_type)
        position = 0
        while True:
            sources, position = self.outbox.scan(resource_type, position, self.batch_size)
            if not sources:
                break
            sources = [s for s in sources if s.resource_type not in NOT_INDEXED]
            applied = self._apply(sources, [])
            total.add(len(sources), applied)
        orphans = self.verify(resource_type).orphan_versions
        if orphans:
            removal = self.index.apply([], [Deletion(*key.split("/", 1), version) for key, version in orphans.items()])
            total.deleted += removal.deleted
        total.seconds = time.perf_counter() - started
        return total

    def verify(self, resource_type: str | None = None) -> Verification:
        """Compare the index with the store: missing, stale and orphan documents."""
        self.index.refresh()
        indexed = {item.key: item.version for item in self.index.versions(resource_type)}
        result = Verification()
        for item in self.outbox.current_versions(resource_type):
            if item.key.split("/", 1)[0] in NOT_INDEXED:
                continue
            result.checked += 1
            held = indexed.pop(item.key, None)
            if held is None:
                result.missing.append(item.key)
            elif held < item.version:
                result.stale.append(item.key)
            elif held > item.version:
                result.ahead.append(item.key)
        result.orphans = sorted(indexed)
        result.orphan_versions = indexed
        return result

    def documents(self, sources: Sequence[SourceVersion]) -> list[SearchDocument]:
        """Render search documents (a minimal one where a body cannot be rendered)."""
        documents = []
        for source in sources:
            try:
                documents.append(render(source.body or {}, version=source.version, institution=source.institution))
            except Exception:  # noqa: BLE001 - one unrenderable body must not stop the batch
                log.warning("could not render a %s for the index; indexing it by type only", source.resource_type)
                documents.append(fallback_document(source))
        return documents

    def _apply(self, sources: Sequence[SourceVersion], deletions: list[Deletion]) -> ApplyReport:
        live = [s for s in sources if not s.deleted]
        deletions = deletions + [Deletion(s.resource_type, s.resource_id, s.version) for s in sources if s.deleted]
        documents = self.documents(live)
        vectors = self.embedder.embed([d.embed_text for d in documents]) if documents else []
        indexed = [IndexedDocument(d, vectors[i]) for i, d in enumerate(documents)]
        return self.index.apply(indexed, deletions)
