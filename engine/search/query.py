"""The search query model: a FHIR search request parsed and typed, ready for any store to run."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Union

from engine.errors import Issue
from engine.search.parameters import SearchParameter

DATE_PREFIXES = ("eq", "ne", "gt", "lt", "ge", "le", "sa", "eb", "ap")


@dataclass(frozen=True)
class TokenValue:
    """`[system]|[code]`: system None and `system_given` True means "no system" (`|code`)."""

    system: str | None
    code: str | None
    system_given: bool = False


@dataclass(frozen=True)
class StringValue:
    """A string search value, already case- and accent-folded."""

    text: str
    raw: str


@dataclass(frozen=True)
class RangeValue:
    """A date or number compared by prefix against the range [low, high] of the stored value."""

    prefix: str
    low: float
    high: float


@dataclass(frozen=True)
class QuantityValue:
    """A quantity: a numeric range by prefix plus optional system and unit code."""

    prefix: str
    low: float
    high: float
    value: float
    system: str | None
    code: str | None


@dataclass(frozen=True)
class ReferenceValue:
    """A reference target: type and id, id alone, or an absolute URL / canonical."""

    resource_type: str | None
    resource_id: str | None
    url: str | None = None


@dataclass(frozen=True)
class UriValue:
    """A URI search value."""

    uri: str


SearchValue = Union[TokenValue, StringValue, RangeValue, QuantityValue, ReferenceValue, UriValue]


@dataclass(frozen=True)
class Clause:
    """One AND-ed condition: a parameter matching any of its OR-ed values.

    With `chains`, the reference parameter must point at a resource of one of the chained types
    that matches that type's clause (`subject.name=x` on Patient or Group, say).
    With `missing`, the clause tests presence (`:missing=true|false`) instead of values.
    """

    parameter: SearchParameter
    modifier: str | None
    values: tuple[SearchValue, ...] = ()
    chains: tuple[tuple[str, "Clause"], ...] = ()
    missing: bool | None = None


@dataclass(frozen=True)
class SortKey:
    """A `_sort` key."""

    parameter: SearchParameter
    descending: bool


@dataclass(frozen=True)
class IncludeSpec:
    """An `_include` / `_revinclude`: source type, reference parameter ('*' for all), optional target."""

    source_type: str
    parameter: str
    target_type: str | None
    iterate: bool = False


@dataclass
class SearchQuery:
    """A parsed search on one resource type."""

    resource_type: str
    clauses: list[Clause] = field(default_factory=list)
    sort: list[SortKey] = field(default_factory=list)
    count: int = 50
    offset: int = 0
    total: str = "accurate"
    summary: str | None = None
    elements: tuple[str, ...] = ()
    includes: list[IncludeSpec] = field(default_factory=list)
    revincludes: list[IncludeSpec] = field(default_factory=list)
    warnings: list[Issue] = field(default_factory=list)
    self_params: list[tuple[str, str]] = field(default_factory=list)
