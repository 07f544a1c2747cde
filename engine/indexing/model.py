"""Value objects passed across the search-index and embedder ports."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class SearchDocument:
    """What the search index holds for one resource version (built by `engine.indexing.rendering`)."""

    resource_type: str
    resource_id: str
    version: int
    patient: str | None  # "Patient/{id}" whose compartment holds the resource
    source: str | None  # meta.source
    institution: str | None  # the owning institution
    date_us: int | None  # the clinically relevant date, epoch microseconds (UTC)
    status: str | None
    codes: tuple[str, ...]  # "system|code"
    displays: tuple[str, ...]  # display texts of the codes and coded concepts
    title: str  # one short line, e.g. "Condition: Diabetes mellitus type 2"
    text: str  # the readable rendering for word search (values, units, notes, narrative, attachments)
    embed_text: str  # the text embedded for meaning search (its semantic core, few distinct values)

    @property
    def key(self) -> str:
        """The resource's relative reference, `Type/id` (also the document id in the index)."""
        return f"{self.resource_type}/{self.resource_id}"


@dataclass(frozen=True)
class IndexedDocument:
    """A search document with its embedding, ready for the index."""

    document: SearchDocument
    vector: np.ndarray  # float32, unit length, the embedder's dimensions


@dataclass(frozen=True)
class Deletion:
    """A resource whose document must go: deleted at `version`."""

    resource_type: str
    resource_id: str
    version: int

    @property
    def key(self) -> str:
        """The document id, `Type/id`."""
        return f"{self.resource_type}/{self.resource_id}"


@dataclass(frozen=True)
class Rejection:
    """A document the index refused for good (a poison document), with the reason."""

    key: str
    version: int
    reason: str


@dataclass
class ApplyReport:
    """What one `SearchIndex.apply` call did."""

    indexed: int = 0
    deleted: int = 0
    stale: int = 0  # skipped because the index already held the same or a newer version
    rejected: list[Rejection] = field(default_factory=list)


@dataclass(frozen=True)
class IndexFilter:
    """Filters applied inside every ranking (words and meaning), never after."""

    patients: tuple[str, ...] = ()  # "Patient/{id}"; empty means any
    types: tuple[str, ...] = ()
    exclude_types: tuple[str, ...] = ()  # ignored for types named in `types`
    since_us: int | None = None  # date_us >= since_us
    until_us: int | None = None  # date_us < until_us
    sources: tuple[str, ...] = ()
    institutions: tuple[str, ...] = ()  # empty means any (visibility is re-checked against the store)


@dataclass(frozen=True)
class Hit:
    """One ranked document from one ranking."""

    key: str  # "Type/id"
    score: float
    resource_type: str
    resource_id: str
    version: int
    patient: str | None
    date_us: int | None
    snippet: str  # the matching text with terms wrapped in <em>…</em> (words) or the title (meaning)


@dataclass(frozen=True)
class IndexedVersion:
    """A document's key and version as the index holds it (for `reindex --verify`)."""

    key: str
    version: int


@dataclass(frozen=True)
class SourceVersion:
    """A resource's current version as the store holds it, for indexing."""

    resource_type: str
    resource_id: str
    version: int
    deleted: bool
    body: dict | None
    institution: str | None

    @property
    def key(self) -> str:
        """The resource's relative reference, `Type/id`."""
        return f"{self.resource_type}/{self.resource_id}"
