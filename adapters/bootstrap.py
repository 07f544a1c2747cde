"""The composition root: builds the object graph from settings. Nothing else wires adapters."""
from __future__ import annotations

import time
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from collections.abc import Callable

from engine.feeds.service import FeedService
from engine.indexing.embedding_cache import CachingEmbedder
from engine.indexing.model import IndexFilter
from engine.indexing.ports import Embedder, SearchIndex
from engine.indexing.search import ClinicalSearch
from engine.indexing.service import IndexingService
from engine.indexing.synonyms import Synonyms
from engine.identity.service import IdentityService
from engine.identity.settings import MatchSettings
from engine.identity.survivorship import SurvivorshipPolicy
from engine.jobs.service import AllocationJobs
from engine.services.audit_log import AuditLog
from engine.services.bundles import BundleService
from engine.services.history import HistoryService
from engine.services.resources import ResourceService
from engine.services.search import SearchService
from engine.settings import Settings
from adapters.auth.keys import SigningKey, load_jwks, load_signing_key
from adapters.auth.tokens import TokenValidator
from adapters.feeds.hl7v2_translator import Hl7v2Translator
from adapters.indexing.background import BackgroundIndexer
from adapters.indexing.celery_trigger import CeleryIndexTrigger
from adapters.jobs.identity_trigger import CeleryMatchTrigger
from adapters.jobs.queues import CeleryQueue, InlineQueue
from adapters.store.job_store import SqlJobStore
from adapters.store.identity_store import ObservedSqlStore, SqlIdentityStore
from adapters.store.index_outbox import SqlIndexOutbox
from adapters.store.migrate import upgrade
from adapters.store.sql_store import SqlResourceStore, create_sql_engine


def monotonic_clock_us() -> int:
    """Wall-clock microseconds, never going backwards within this process."""
    now = time.time_ns() // 1000
    last = getattr(monotonic_clock_us, "_last", 0)
    if now <= last:
        now = last + 1
    monotonic_clock_us._last = now  # type: ignore[attr-defined]
    return now


@dataclass
class Container:
    """Every service the entry points need, wired for one profile."""

    settings: Settings
    store: SqlResourceStore
    resources: ResourceService
    search: SearchService
    history: HistoryService
    bundles: BundleService
    feeds: FeedService
    audit: AuditLog
    tokens: TokenValidator
    signing_key: SigningKey
    clock: Callable[[], int]
    allocation_jobs: AllocationJobs
    search_index: SearchIndex
    indexing: IndexingService
    clinical_search: ClinicalSearch
    index_trigger: BackgroundIndexer | CeleryIndexTrigger | None = None
    match_trigger: CeleryMatchTrigger | None = None

    @property
    def identity(self) -> IdentityService:
        """Patient identity matching: golden records, links, manual decisions."""
        return self.store.identity  # type: ignore[attr-defined]

    def close(self) -> None:
        """Wait for in-process jobs, then release pooled connections."""
        close_queue = getattr(self.allocation_jobs.queue, "close", None)
        if close_queue is not None:
            close_queue()
        if self.index_trigger is not None:
            self.index_trigger.close()
        if self.match_trigger is not None:
            self.match_trigger.close()
        self.search_index.close()
        self.store.drain()
        self.store.engine.dispose()


@lru_cache(maxsize=4)
def shared_embedder(model: str, backend: str, cache_dir: Path | None = None) -> Embedder:
    """One loaded model per process (models are large), remembering the texts it already embedded."""
    from adapters.embeddings.sentence_embedder import SentenceTransformerEmbedder

    return CachingEmbedder(SentenceTransformerEmbedder(model, backend=backend, cache_dir=cache_dir))


def build_search_index(settings: Settings, dimensions: int) -> SearchIndex:
    """Elasticsearch when configured, else the embedded index file in the data folder."""
    if settings.elasticsearch_url:
        from adapters.search.elastic_index import ElasticsearchIndex

        return ElasticsearchIndex(settings.elasticsearch_url, settings.search_index_name, dimensions)
    from adapters.search.embedded_index import EmbeddedIndex

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    return EmbeddedIndex(settings.data_dir / "search.db", dimensions)


def indexing_mode(settings: Settings) -> str:
    """'workers', 'in-process' or 'off': who keeps the search index current for these settings."""
    if settings.search_indexing != "auto":
        return settings.search_indexing
    return "workers" if settings.broker_url and settings.elasticsearch_url else "in-process"


def prepare_for_processes(settings: Settings) -> None:
    """The one-time setup before several server processes start, so they do not race for it: the data
    folder, the signing key and the schema (the processes then build their containers without migrating)."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    load_signing_key(settings.auth_signing_key_file, settings.data_dir, environment=settings.environment)
    engine = create_sql_engine(settings.resolved_database_url(), pool_size=1)
    try:
        upgrade(engine)
    finally:
        engine.dispose()  # the processes open their own connections


def build_container(settings: Settings, *, migrate: bool = True, indexing_trigger: bool = True) -> Container:
    """Wire the store and services for `settings` (embedded SQLite unless a database URL is set)."""
    url = settings.resolved_database_url()
    if url.startswith("sqlite"):
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = create_sql_engine(url, pool_size=settings.db_pool_size)
    if migrate:
        upgrade(engine)
    store = ObservedSqlStore(engine, background=settings.identity_matching == "background")
    clock = monotonic_clock_us
    survivorship = SurvivorshipPolicy.from_setting(settings.identity_survivorship, settings.identity_trusted_sources)
    store.identity = IdentityService(  # type: ignore[attr-defined]
        store, SqlIdentityStore(engine), clock, survivorship=survivorship, consent_default=settings.consent_default,
        golden_unit_of_work=store.golden_unit_of_work,
        match_settings=MatchSettings.from_dict(settings.identity_match_settings) if settings.identity_match_settings
        else None)
    match_trigger = CeleryMatchTrigger(settings.broker_url or "") if settings.identity_matching == "workers" else None
    store.listeners.append(match_trigger.nudge if match_trigger else store.identity.sync)  # type: ignore[attr-defined]
    resources = ResourceService(store, clock, referential_integrity=settings.referential_integrity)
    search = SearchService(store, default_count=settings.default_page_size, max_count=settings.max_page_size)
    history = HistoryService(store, default_count=settings.default_page_size, max_count=settings.max_page_size,
                             clock=clock)
    bundles = BundleService(store, clock, resources, search)
    feeds = FeedService(store, bundles, Hl7v2Translator(), clock)
    signing_key = load_signing_key(settings.auth_signing_key_file, settings.data_dir, environment=settings.environment)
    tokens = TokenValidator(issuer=settings.auth_issuer, audience=settings.auth_audience, local_key=signing_key,
                            external_keys=load_jwks(settings.auth_jwks_file, settings.auth_jwks_url))
    inline = settings.jobs_inline if settings.jobs_inline is not None else not settings.broker_url
    queue = InlineQueue() if inline else CeleryQueue(settings.broker_url or "")
    allocation_jobs = AllocationJobs(SqlJobStore(engine), queue, store, clock)
    if isinstance(queue, InlineQueue):
        queue.run = allocation_jobs.run
    embedder = shared_embedder(settings.embedding_model, settings.embedding_backend, settings.embedding_cache_dir)
    search_index = build_search_index(settings, embedder.dimensions)
    indexing = IndexingService(SqlIndexOutbox(engine), search_index, embedder, batch_size=settings.index_batch_size)
    clinical_search = ClinicalSearch(search_index, embedder, Synonyms.load_default())
    search.relevance = lambda resource_type, text, mode, depth, patients: [
        key.split("/", 1)[1] for key in clinical_search.keys(
            text, IndexFilter(types=(resource_type,), patients=patients), mode=mode, limit=depth)]
    container = Container(settings, store, resources, search, history, bundles, feeds, AuditLog(store, clock), tokens,
                          signing_key, clock, allocation_jobs, search_index, indexing, clinical_search)
    container.match_trigger = match_trigger
    mode = indexing_mode(settings)
    if indexing_trigger and mode == "in-process":
        container.index_trigger = BackgroundIndexer(indexing, sweep_s=settings.index_sweep_seconds)
    elif indexing_trigger and mode == "workers":
        container.index_trigger = CeleryIndexTrigger(settings.broker_url or "")
    if container.index_trigger is not None:
        store.write_listeners.append(container.index_trigger.nudge)
    return container
