"""Conditional interactions: find resources by criteria, resolve conditional references."""
from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from engine.errors import InvalidRequest, Issue, PreconditionFailed, ReferenceNotResolved
from engine.fhir.references import conditional_parts, is_placeholder
from engine.search.parsing import ESCAPED_PIPE, parse_search, split_token_values
from engine.services.writes import path_to, references_in
from engine.store.model import StoredResource, TokenLookup
from engine.store.ports import UnitOfWork


Key = tuple[str, str]
OWNER_WINDOW = 16  # matches fetched first when filtering by owner; more are looked up only when needed
MAX_OWNER_SCAN = 1000


@dataclass
class Prefetched:
    """Lookups already made in a transaction, and the owning institution of what they found."""

    matches: dict[TokenLookup, list[StoredResource]] = field(default_factory=dict)
    owners: dict[Key, str | None] = field(default_factory=dict)


def token_lookup(resource_type: str, params: Sequence[tuple[str, str]]) -> TokenLookup | None:
    """The common feed criterion, one `identifier=system|value`, as a direct token lookup (else None)."""
    if len(params) != 1 or params[0][0] != "identifier":
        return None
    values = split_token_values(params[0][1])
    if len(values) != 1:  # an OR list: the general search
        return None
    system, sep, value = values[0].partition("|")
    system, value = system.replace(ESCAPED_PIPE, "|"), value.replace(ESCAPED_PIPE, "|")
    if value or not sep:
        return TokenLookup(resource_type, "identifier", system if sep else None, value if sep else system,
                           any_system=not sep)
    return None


def prefetch_conditional(uow: UnitOfWork, criteria: Iterable[tuple[str, str]], *,
                         owner: str | None = None) -> Prefetched:
    """Look up every simple criterion `(type, query)` at once (one round trip where the store can)."""
    lookups = []
    for resource_type, query_text in criteria:
        lookup = token_lookup(resource_type, parse_qsl(query_text, keep_blank_values=True))
        if lookup is not None and lookup not in lookups:
            lookups.append(lookup)
    known = Prefetched(dict(zip(lookups, uow.find_by_tokens(lookups, limit=_window(owner)))) if lookups else {})
    if owner is not None:
        found = {(m.resource_type, m.resource_id) for matches in known.matches.values() for m in matches}
        known.owners = {key: current.institution for key, current in uow.current_many(found).items()}
    return known


def _window(owner: str | None) -> int:
    """How many matches to fetch: two detect ambiguity; with an owner, others' resources are filtered out after."""
    return 2 if owner is None else OWNER_WINDOW


def match_conditional(uow: UnitOfWork, resource_type: str, query_text: str | Sequence[tuple[str, str]], *,
                      for_write: bool = False, known: Prefetched | None = None, owner: str | None = None,
                      others_if_none_owned: bool = False, limit: int = 2) -> list[StoredResource]:
    """Resources matching a conditional query (`identifier=x|y`), at most `limit` (two detect >1).

    With `for_write`, concurrent transactions using the same criteria wait for each other, so two
    conditional creates of the same patient cannot both create one. `known` holds lookups already
    made in this transaction (prefetch_conditional). With `owner`, only that institution's (and unowned)
    resources match, as another's resource is absent to its writes; `others_if_none_owned` falls back to
    other institutions' matches when it owns none (a reference, or a create that finds the resource exists).
    """
    window = max(_window(owner), limit)
    matches = _matches(uow, resource_type, query_text, for_write=for_write,
                       known=known if limit <= 2 else None, limit=window)
    if owner is None or not matches:
        return matches[:limit]
    owned = _owned(uow, matches, owner, known)
    if not owned and len(matches) >= window:  # other institutions' matches may hide the owner's: look wider
        matches = _matches(uow, resource_type, query_text, for_write=False, known=None, limit=MAX_OWNER_SCAN)
        owned = _owned(uow, matches, owner, known)
        if not owned and len(matches) >= MAX_OWNER_SCAN:
            raise PreconditionFailed(f"More than {MAX_OWNER_SCAN} resources of other institutions match "
                                     "these criteria; use criteria that name fewer")
    return owned[:limit] if owned or not others_if_none_owned else matches[:limit]


def _owned(uow: UnitOfWork, matches: list[StoredResource], owner: str,
           known: Prefetched | None) -> list[StoredResource]:
    """The matches the owner may write: its own and unowned ones."""
    owners = known.owners if known is not None else {}
    unknown = [(m.resource_type, m.resource_id) for m in matches if (m.resource_type, m.resource_id) not in owners]
    if unknown:
        owners = {**owners, **{key: current.institution for key, current in uow.current_many(unknown).items()}}
    return [m for m in matches if owners.get((m.resource_type, m.resource_id)) in (None, owner)]


def _matches(uow: UnitOfWork, resource_type: str, query_text: str | Sequence[tuple[str, str]], *,
             for_write: bool, known: Prefetched | None, limit: int) -> list[StoredResource]:
    params = parse_qsl(query_text, keep_blank_values=True) if isinstance(query_text, str) else list(query_text)
    if not params:
        raise InvalidRequest("A conditional interaction needs search criteria")
    if for_write:
        uow.lock_key(f"{resource_type}?{sorted(params)}")
    lookup = token_lookup(resource_type, params)
    if lookup is not None:
        if known is not None and lookup in known.matches:
            return known.matches[lookup]
        return uow.find_by_token(resource_type, lookup.parameter, lookup.system, lookup.code,
                                 any_system=lookup.any_system, limit=limit)
    query = parse_search(resource_type, params, strict=True)
    query.count, query.total = limit, "none"
    return uow.search(query).items


class ConditionalReferences:
    """Resolves conditional references (`Organization?identifier=sys|val`) against the store, cached."""

    def __init__(self, uow: UnitOfWork, pending: Callable[[str, str], str | None] | None = None,
                 known: Prefetched | None = None, owner: str | None = None):
        self.uow = uow
        self.pending = pending
        self.known = known
        self.owner = owner  # the writer's institution: its own resources are preferred
        self.cache: dict[str, str] = {}

    def resolve_in(self, resource: dict[str, Any], resource_type: str,
                   placeholders: dict[str, str] | None = None,
                   found: list[dict[str, Any]] | None = None) -> list[dict[str, Any]]:
        """Rewrite placeholders (fullUrl -> Type/id) and conditional references in place; return all references.

        Raises when a conditional reference matches nothing or several resources, or when a
        `urn:uuid:` placeholder names no entry of the Bundle. `found`: the resource's references, if collected.
        """
        found = references_in(resource) if found is None else found
        for reference in found:
            text = reference["reference"]
            if placeholders is not None and text in placeholders:
                reference["reference"] = placeholders[text]
            elif placeholders is not None and is_placeholder(text):
                path = path_to(resource, reference, resource_type)
                raise InvalidRequest(f"{path}: '{text[:80]}' is not the fullUrl of any entry in this Bundle",
                                     issues=[Issue("not-found", f"'{text[:80]}' matches no entry's fullUrl", path)])
            elif "?" in text and (parts := conditional_parts(text)) is not None:
                reference["reference"] = self.resolve(text, parts, lambda: path_to(resource, reference, resource_type))
        return found

    def resolve(self, text: str, parts: tuple[str, str], where: Callable[[], str | None]) -> str:
        """The `Type/id` a conditional reference names."""
        if text in self.cache:
            return self.cache[text]
        target_type, query_text = parts
        matches = match_conditional(self.uow, target_type, query_text, known=self.known, owner=self.owner,
                                    others_if_none_owned=True)
        if len(matches) > 1:
            path = where()
            raise ReferenceNotResolved(f"{path}: '{text[:120]}' matches more than one resource", issues=[
                Issue("multiple-matches", f"Conditional reference '{text[:120]}' matches several resources", path)])
        resolved = matches[0].key if matches else (self.pending(target_type, query_text) if self.pending else None)
        if resolved is None:
            path = where()
            raise ReferenceNotResolved(f"{path}: '{text[:120]}' matches no resource", issues=[
                Issue("not-found", f"Conditional reference '{text[:120]}' matches no resource", path)])
        self.cache[text] = resolved
        return resolved
