"""Transaction Bundle assembly: one conditional entry per keyed resource, merged when named twice."""
from __future__ import annotations

import re
import uuid
from typing import Any

from adapters.hl7v2.identity import NAMESPACE, Key


def _same_identifier(a: dict[str, Any], b: dict[str, Any]) -> bool:
    return a.get("system") == b.get("system") and a.get("value") == b.get("value")


_CHOICE = re.compile(r"(value|effective|onset|abatement|deceased|multipleBirth|occurrence|collected|performed|"
                     r"born|age|timing|serviced|reported|asNeeded)[A-Z]")


def _choice_taken(existing: dict[str, Any], name: str) -> bool:
    match = _CHOICE.match(name)
    return match is not None and any(key.startswith(match.group(1)) and _CHOICE.match(key) for key in existing)


def _merge(existing: dict[str, Any], incoming: dict[str, Any]) -> None:
    """Fill what `existing` lacks from `incoming` (one value per choice element); identifiers are united."""
    for name, value in incoming.items():
        if _choice_taken(existing, name):
            continue
        if name == "identifier":
            known = existing.setdefault("identifier", [])
            for identifier in value:
                if not any(_same_identifier(identifier, other) for other in known):
                    known.append(identifier)
        elif name not in existing or existing[name] in (None, [], {}, ""):
            existing[name] = value


class BundleBuilder:
    """Collects resources for one message and renders the FHIR transaction Bundle."""

    def __init__(self, source: str):
        self.source = source
        self._entries: dict[str, dict[str, Any]] = {}

    def upsert(self, key: Key, resource: dict[str, Any], *, create_only: bool = False) -> str:
        """Add a resource keyed by `key` (conditional PUT, or conditional create when `create_only`).

        Returns the entry's fullUrl (`urn:uuid:`), usable as a reference inside the Bundle. Naming the
        same key twice merges the two into one entry.
        """
        body: dict[str, Any] = {"resourceType": key.resource_type}
        body.update({name: value for name, value in resource.items() if value not in (None, [], {}, "")})
        identifiers = body.setdefault("identifier", [])
        if not any(_same_identifier(key.identifier(), other) for other in identifiers):
            identifiers.append(key.identifier())
        body["meta"] = {"source": self.source}
        full_url = key.full_url
        entry = self._entries.get(full_url)
        if entry is not None:
            _merge(entry["resource"], body)
            if not create_only and entry["request"]["method"] == "POST":
                entry["request"] = {"method": "PUT", "url": key.url}
            return full_url
        request = ({"method": "POST", "url": key.resource_type, "ifNoneExist": key.query} if create_only
                   else {"method": "PUT", "url": key.url})
        self._entries[full_url] = {"fullUrl": full_url, "resource": body, "request": request}
        return full_url

    def resource(self, full_url: str) -> dict[str, Any] | None:
        """The resource already added under this fullUrl."""
        entry = self._entries.get(full_url)
        return entry["resource"] if entry else None

    def full_urls(self) -> list[str]:
        """fullUrls of every keyed entry, in insertion order."""
        return list(self._entries)

    def bundle(self, provenance: dict[str, Any] | None, provenance_name: str) -> dict[str, Any]:
        """The transaction Bundle: every entry plus one (POSTed) Provenance."""
        entries = list(self._entries.values())
        if provenance is not None:
            provenance = dict(provenance, meta={"source": self.source})
            entries.append({"fullUrl": f"urn:uuid:{uuid.uuid5(NAMESPACE, provenance_name)}",
                            "resource": provenance, "request": {"method": "POST", "url": "Provenance"}})
        return {"resourceType": "Bundle", "type": "transaction", "entry": entries}


def reference(full_url: str, display: str | None = None) -> dict[str, Any]:
    """A Reference to a Bundle entry."""
    ref: dict[str, Any] = {"reference": full_url}
    if display:
        ref["display"] = display
    return ref
