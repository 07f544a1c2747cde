"""Stable identity: identifier systems, conditional keys (`Type?identifier=system|value`) and fullUrls."""
from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "urn:tessera:hl7v2")
AUTHORITY_PREFIX = "urn:tessera:hl7v2:authority:"
KEY_PREFIX = "urn:tessera:hl7v2:key:"
SOURCE_PREFIX = "urn:tessera:hl7v2:"
_SEARCH_SPECIALS = re.compile(r"([\\,$|])")


def pct(text: str) -> str:
    """Percent-encode everything but unreserved URI characters."""
    return quote(text, safe="-._~")


def authority_system(name: str) -> str:
    """The identifier system Tessera uses for a named assigning authority without an OID or URI."""
    return AUTHORITY_PREFIX + pct(name.strip() or "unknown")


def key_system(kind: str) -> str:
    """The identifier system of a synthetic key of one kind (e.g. `observation`)."""
    return KEY_PREFIX + kind


def join_key(*parts: str | None) -> str:
    """Join the parts of a synthetic key value (`^`-separated, empty parts kept in place)."""
    return "^".join((part or "").strip() for part in parts)


def _search_part(text: str, safe: str = "-._~") -> str:
    """Escape FHIR search specials, then percent-encode all but unreserved characters (no literal `://`)."""
    return quote(_SEARCH_SPECIALS.sub(r"\\\1", text), safe=safe)


@dataclass(frozen=True)
class Key:
    """A conditional key: one identifier that names a resource across messages."""

    resource_type: str
    system: str
    value: str

    @property
    def query(self) -> str:
        """The search query (`identifier=system|value`, escaped and percent-encoded)."""
        return f"identifier={_search_part(self.system)}|{_search_part(self.value)}"

    @property
    def readable_query(self) -> str:
        """The same query with `:` and `/` left readable (`identifier=urn:oid:1.2|123`), as merges carry it."""
        return f"identifier={_search_part(self.system, ':/-._~@')}|{_search_part(self.value, ':/-._~@')}"

    @property
    def url(self) -> str:
        """The conditional request url, e.g. `Patient?identifier=...`."""
        return f"{self.resource_type}?{self.query}"

    @property
    def full_url(self) -> str:
        """`urn:uuid:` + uuid5 of the canonical key, identical for every message naming this resource."""
        canonical = f"{self.resource_type}?identifier={self.system}|{self.value}"
        return f"urn:uuid:{uuid.uuid5(NAMESPACE, canonical)}"

    def identifier(self) -> dict[str, Any]:
        """The key as a FHIR Identifier."""
        return {"system": self.system, "value": self.value}


def synthetic_key(resource_type: str, kind: str, *parts: str | None) -> Key:
    """A key under `urn:tessera:hl7v2:key:<kind>` built from the given parts."""
    return Key(resource_type, key_system(kind), join_key(*parts))


def source_uri(application: str, facility: str) -> str:
    """`meta.source` naming the sender: urn:tessera:hl7v2:<MSH-3>:<MSH-4> (percent-encoded)."""
    return f"{SOURCE_PREFIX}{pct(application or '-')}:{pct(facility or '-')}"
