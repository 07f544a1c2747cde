"""The registry of FHIR R4 search parameters, derived from the official SearchParameter definitions."""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources as package_files

from engine.fhir.release import R4_RESOURCE_TYPES
from engine.search.paths import Accessor, compile_for_type, root_keys, root_of, split_union

_RESOLVE_IS = re.compile(r"where\(resolve\(\) is (\w+)\)")

# Parameter types served from the SQL index tables.
INDEXED_TYPES = frozenset({"token", "string", "date", "reference", "quantity", "uri", "number"})
# Served from columns of the resource table rather than extracted values.
COLUMN_PARAMETERS = frozenset({"_id", "_lastUpdated"})
# Result parameters: they shape the answer rather than filter it.
RESULT_PARAMETERS = frozenset({
    "_count", "_offset", "_sort", "_include", "_revinclude", "_summary", "_total", "_elements",
    "_format", "_pretty", "_contained", "_containedType", "_include:iterate", "_revinclude:iterate",
})


@dataclass(frozen=True)
class SearchParameter:
    """One search parameter as it applies to one resource type."""

    code: str
    type: str
    resource_type: str
    expression: str
    targets: tuple[str, ...]
    url: str
    accessor: Accessor | None
    roots: tuple[frozenset[str], frozenset[str]] | None = None  # top-level keys the values come from

    @property
    def single_target(self) -> str | None:
        """The only resource type a reference parameter can point to, if there is exactly one."""
        return self.targets[0] if len(self.targets) == 1 else None


@lru_cache(maxsize=1)
def _definitions() -> list[dict]:
    text = package_files.files("engine.fhir.definitions").joinpath("search_parameters.json").read_text("utf-8")
    return json.loads(text)["searchParameters"]


@lru_cache(maxsize=None)
def parameters_for(resource_type: str) -> dict[str, SearchParameter]:
    """All search parameters usable on `resource_type` (type-specific and common), by code."""
    found: dict[str, SearchParameter] = {}
    for definition in _definitions():
        bases = definition["base"]
        if resource_type not in bases and not {"Resource", "DomainResource"} & set(bases):
            continue
        expression = definition.get("expression") or ""
        accessor, roots = None, None
        if definition["type"] in INDEXED_TYPES and expression:
            accessor = compile_for_type(expression, resource_type)
            roots = root_keys(expression, resource_type)
        found[definition["code"]] = SearchParameter(
            code=definition["code"], type=definition["type"], resource_type=resource_type,
            expression=expression, targets=_targets(expression, resource_type, definition.get("target", ())),
            url=definition["url"], accessor=accessor, roots=roots)
    return found


def _targets(expression: str, resource_type: str, declared: list[str]) -> tuple[str, ...]:
    """Declared targets, narrowed when every path of this type filters with `resolve() is X`."""
    parts = [p for p in split_union(expression) if root_of(p) == resource_type]
    found = [_RESOLVE_IS.search(p) for p in parts]
    if parts and all(found):
        return tuple(sorted({m.group(1) for m in found if m}))
    return tuple(declared)


def lookup(resource_type: str, code: str) -> SearchParameter | None:
    """The parameter `code` on `resource_type`, or None if R4 defines no such parameter."""
    return parameters_for(resource_type).get(code)


def is_supported(parameter: SearchParameter) -> bool:
    """True when Tessera can evaluate this parameter from its SQL index."""
    return parameter.code in COLUMN_PARAMETERS or (
        parameter.type in INDEXED_TYPES and parameter.accessor is not None)


@lru_cache(maxsize=None)
def indexed_parameters(resource_type: str) -> tuple[SearchParameter, ...]:
    """Parameters whose values are extracted into index tables when a resource is written."""
    return tuple(p for p in parameters_for(resource_type).values()
                 if p.code not in COLUMN_PARAMETERS and p.type in INDEXED_TYPES and p.accessor is not None)


def all_resource_types() -> list[str]:
    """Every R4 resource type, sorted."""
    return sorted(R4_RESOURCE_TYPES)
