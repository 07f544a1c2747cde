"""Element metadata from the pinned models: which top-level elements are summary or mandatory."""
from __future__ import annotations

from functools import lru_cache

from engine.fhir.release import model_class


@lru_cache(maxsize=None)
def summary_elements(resource_type: str) -> frozenset[str] | None:
    """JSON names of the elements marked isSummary (None when the type has no model)."""
    model = model_class(resource_type)
    if model is None:
        return None
    return frozenset((info.alias or name) for name, info in model.model_fields.items()
                     if (info.json_schema_extra or {}).get("summary_element_property"))


@lru_cache(maxsize=None)
def mandatory_elements(resource_type: str) -> frozenset[str]:
    """JSON names of the top-level elements with minimum cardinality 1."""
    model = model_class(resource_type)
    if model is None:
        return frozenset()
    found = set()
    for name, info in model.model_fields.items():
        extra = info.json_schema_extra or {}
        if info.is_required() or extra.get("element_required") or extra.get("one_of_many_required"):
            found.add(info.alias or name)
    return frozenset(found)
