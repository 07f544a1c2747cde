"""Value objects passed across the store port."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from engine.search.extraction import IndexRows


@dataclass(frozen=True)
class CurrentVersion:
    """What the store knows of a resource's latest version, without its body."""

    pid: int
    version: int
    deleted: bool
    institution: str | None = None


@dataclass(frozen=True)
class TokenLookup:
    """One token criterion of a conditional interaction: `system|code` (any system when `any_system`)."""

    resource_type: str
    parameter: str
    system: str | None
    code: str
    any_system: bool = False


@dataclass(frozen=True)
class StoredResource:
    """One stored version of a resource, body included."""

    resource_type: str
    resource_id: str
    version: int
    last_updated_us: int
    deleted: bool
    method: str
    body: dict[str, Any] | None

    @property
    def key(self) -> str:
        """The resource's relative reference, `Type/id`."""
        return f"{self.resource_type}/{self.resource_id}"


@dataclass
class PendingWrite:
    """A new version to persist: created, updated or deleted."""

    resource_type: str
    resource_id: str
    version: int
    last_updated_us: int
    method: str  # "create" | "update" | "delete"
    body: dict[str, Any] | None
    source: str | None = None
    pid: int | None = None  # set when the resource already exists
    index: IndexRows = field(default_factory=IndexRows)
    references: list[dict[str, Any]] | None = None  # the body's Reference dicts, when already collected
    institution: str | None = None  # the owning institution
    patient: str | None = None  # id of the Patient whose compartment holds this resource
    sensitivity: str | None = None  # a sensitive-information label (e.g. HIV, PSY) when present

    @property
    def deleted(self) -> bool:
        """True when this version records a deletion."""
        return self.method == "delete"


@dataclass(frozen=True)
class OutboxEvent:
    """A change event written in the same transaction as the resource version it announces."""

    seq: int
    resource_type: str
    resource_id: str
    version: int
    operation: str  # "upsert" | "delete"
    created_us: int


@dataclass(frozen=True)
class Page:
    """One page of stored resources plus the total number of matches (None when not counted)."""

    items: list[StoredResource]
    total: int | None
