"""Parse FHIR reference strings: relative, versioned, absolute, conditional and placeholder forms."""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from engine.fhir.release import R4_RESOURCE_TYPES

_RELATIVE = re.compile(
    r"^(?:(?P<base>https?://.+?)/)?(?P<type>[A-Z][A-Za-z]+)/(?P<id>[A-Za-z0-9\-.]{1,64})"
    r"(?:/_history/(?P<version>[A-Za-z0-9\-.]{1,64}))?$")


@dataclass(frozen=True)
class ParsedReference:
    """A literal reference to a resource, optionally absolute and versioned."""

    resource_type: str
    resource_id: str
    version: str | None = None
    base_url: str | None = None

    @property
    def relative(self) -> str:
        """The reference as `Type/id`."""
        return f"{self.resource_type}/{self.resource_id}"


def parse_reference(text: str) -> ParsedReference | None:
    """Parse `Type/id[/_history/v]` or `http(s)://base/Type/id`; None for urn:, #, or conditional forms."""
    return _parse_reference(text) if isinstance(text, str) else None


@lru_cache(maxsize=1024)  # the same references recur across a Bundle's resources
def _parse_reference(text: str) -> ParsedReference | None:
    match = _RELATIVE.match(text)
    if not match or match["type"] not in R4_RESOURCE_TYPES:
        return None
    return ParsedReference(match["type"], match["id"], match["version"], match["base"])


def is_placeholder(text: str) -> bool:
    """True for `urn:uuid:` / `urn:oid:` full URLs used inside transactions."""
    return text.startswith("urn:uuid:") or text.startswith("urn:oid:")


def conditional_parts(text: str) -> tuple[str, str] | None:
    """Split a conditional reference `Type?query` into (Type, query); None if it is not one."""
    head, sep, query = text.partition("?")
    if not sep or head not in R4_RESOURCE_TYPES or not query:
        return None
    return head, query
