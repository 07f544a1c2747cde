"""The CapabilityStatement: generated from what the engine really supports."""
from __future__ import annotations

from functools import lru_cache
from typing import Any

from engine.fhir.release import FHIR_VERSION, MIME_TYPE
from engine.search.parameters import all_resource_types, is_supported, parameters_for

_INTERACTIONS = ["read", "vread", "update", "delete", "history-instance", "history-type", "create", "search-type"]
_MODIFIER_DOCS = {
    "token": "modifiers :not :text :missing", "string": "modifiers :exact :contains :missing",
    "date": "prefixes eq ne gt lt ge le sa eb ap; :missing", "quantity": "prefixes eq ne gt lt ge le sa eb ap",
    "number": "prefixes eq ne gt lt ge le sa eb ap", "reference": "Type/id, id, :Type, one level of chaining",
    "uri": "modifiers :below :above :missing",
}

_GOLDEN_DOC = ("Golden records (the master patient index) are Patients tagged urn:tessera:mdm|GOLDEN_RECORD, "
               "written by the server only (other writes to them answer 403). Searches leave them out unless "
               "_tag names that tag; they are read by id, have history, and are not found by identifier or "
               "link, which belong to their member Patients.")


@lru_cache(maxsize=1)
def _revincludes() -> dict[str, list[str]]:
    """For each type, the `Source:param` reference parameters of other types that can point at it."""
    found: dict[str, list[str]] = {}
    for source in all_resource_types():
        for code, parameter in sorted(parameters_for(source).items()):
            if parameter.type == "reference" and is_supported(parameter):
                for target in parameter.targets or all_resource_types():
                    found.setdefault(target, []).append(f"{source}:{code}")
    return found


@lru_cache(maxsize=4)
def capability_statement(base_url: str, software_version: str) -> dict[str, Any]:
    """A CapabilityStatement describing the `/fhir` endpoint at `base_url`."""
    resources = []
    for resource_type in all_resource_types():
        params = parameters_for(resource_type)
        search_params = [
            {"name": p.code, "definition": p.url, "type": p.type, "documentation": _MODIFIER_DOCS.get(p.type, "")}
            for code, p in sorted(params.items()) if is_supported(p)]
        references = sorted(code for code, p in params.items() if p.type == "reference" and is_supported(p))
        resources.append({
            "type": resource_type,
            "interaction": [{"code": code} for code in _INTERACTIONS],
            "versioning": "versioned-update",
            "readHistory": True,
            "updateCreate": True,
            "conditionalCreate": True,
            "conditionalRead": "not-supported",
            "conditionalUpdate": True,
            "conditionalDelete": "single",
            "referencePolicy": ["literal", "logical", "local", "enforced"],
            "searchInclude": [f"{resource_type}:{code}" for code in references] + [f"{resource_type}:*"],
            "searchRevInclude": _revincludes().get(resource_type, []),
            "searchParam": search_params,
            **({"documentation": _GOLDEN_DOC} if resource_type == "Patient" else {}),
        })
    return {
        "resourceType": "CapabilityStatement",
        "status": "active",
        "date": "2026-11-27",
        "kind": "instance",
        "software": {"name": "Tessera", "version": software_version},
        "implementation": {"description": "Tessera FHIR R4 server", "url": base_url},
        "fhirVersion": FHIR_VERSION,
        "format": [MIME_TYPE, "json"],
        "rest": [{
            "mode": "server",
            "documentation": ("Search results support _count, _offset, _sort (incl. descending), _include, "
                              "_revinclude (:iterate), _summary, _total, _elements. Unknown parameters are "
                              "reported in an OperationOutcome entry, or rejected with Prefer: handling=strict. "
                              "_text (words and meaning, fused) and _content (words) are answered by the "
                              "relevance index and ordered by relevance unless _sort is given. "
                              "Composite and special parameters and _has are not supported yet."),
            "resource": resources,
            "interaction": [{"code": "transaction"}, {"code": "batch"}, {"code": "history-system"}],
            "searchParam": [{"name": "_id", "type": "token"}, {"name": "_lastUpdated", "type": "date"},
                            {"name": "_text", "type": "string",
                             "documentation": "Relevance search (words and meaning) over the resource's text."},
                            {"name": "_content", "type": "string",
                             "documentation": "Word search over the resource's whole text."}],
        }],
    }
