"""Survivorship: which member's value each field of a golden record takes, by configurable rules."""
from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from engine.store.model import StoredResource

MOST_RECENT = "most-recent"
MOST_COMPLETE = "most-complete"
TRUSTED_SOURCE = "trusted-source"
RULES = (MOST_RECENT, MOST_COMPLETE, TRUSTED_SOURCE)
DEFAULT_KEY = "default"
# A field of the golden record and the Patient elements it may come from (choice types are one field, so a
# golden record never gets both deceasedBoolean and deceasedDateTime).
FIELDS: dict[str, tuple[str, ...]] = {
    "name": ("name",), "gender": ("gender",), "birthDate": ("birthDate",), "address": ("address",),
    "telecom": ("telecom",), "maritalStatus": ("maritalStatus",),
    "deceased": ("deceasedBoolean", "deceasedDateTime"),
    "multipleBirth": ("multipleBirthBoolean", "multipleBirthInteger"), "communication": ("communication",),
}


@dataclass(frozen=True)
class Choice:
    """The surviving value of one field: the element written, its value, the member it came from, the rule."""

    element: str
    value: Any
    source: StoredResource
    rule: str


@dataclass(frozen=True)
class SurvivorshipPolicy:
    """Rules per field (a default plus overrides, each an ordered list) and trusted sources, most trusted first.

    `trusted-source` takes the value of the most trusted source (an institution or a `meta.source`) that has
    one; when no trusted source has a value, or several members share the best rank, the next rule decides.
    The chain always ends with most-complete, then most-recent, so every present value can survive.
    """

    default: tuple[str, ...] = (MOST_COMPLETE,)
    fields: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    trusted_sources: tuple[str, ...] = ()

    @classmethod
    def from_setting(cls, rules: Mapping[str, str | Sequence[str]] | None,
                     trusted_sources: Iterable[str] = ()) -> "SurvivorshipPolicy":
        """Build from the setting form `{"default": "most-complete", "telecom": ["trusted-source", ...]}`;
        raises ValueError naming the bad key or rule."""
        chains: dict[str, tuple[str, ...]] = {}
        for key, value in (rules or {}).items():
            if key != DEFAULT_KEY and key not in FIELDS:
                raise ValueError(f"identity_survivorship: unknown field {key!r} (known: default, "
                                 f"{', '.join(FIELDS)})")
            chain = (value,) if isinstance(value, str) else tuple(value)
            bad = [rule for rule in chain if rule not in RULES]
            if not chain or bad:
                raise ValueError(f"identity_survivorship[{key!r}]: rule must be one of {', '.join(RULES)}")
            chains[key] = chain
        default = chains.pop(DEFAULT_KEY, (MOST_COMPLETE,))
        return cls(default, chains, tuple(trusted_sources))

    def chain(self, name: str) -> tuple[str, ...]:
        """The rules applied to field `name`, in order, with the final fallbacks."""
        return _chain(tuple(self.fields.get(name, self.default)))


@functools.lru_cache(maxsize=256)
def _chain(rules: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(dict.fromkeys((*rules, MOST_COMPLETE, MOST_RECENT)))


def _present(value: Any) -> bool:
    # not None, "", [] or {}: False and 0 are values
    return bool(value) or (value is not None and not isinstance(value, (str, list, dict)))


def _completeness(value: Any) -> int:
    return len(orjson.dumps(value)) if _present(value) else 0


def _value(stored: StoredResource, name: str) -> tuple[str, Any] | None:
    body = stored.body or {}
    for element in FIELDS[name]:
        if _present(body.get(element)):
            return element, body[element]
    return None


def _ranking(rule: str, candidate: tuple[StoredResource, str, Any]) -> tuple[Any, ...]:
    stored, _, value = candidate
    if rule == MOST_RECENT:
        return (stored.last_updated_us, _completeness(value), stored.resource_id)
    return (_completeness(value), stored.last_updated_us, stored.resource_id)


def _trust(policy: SurvivorshipPolicy, stored: StoredResource, institution: str | None) -> int | None:
    source = ((stored.body or {}).get("meta") or {}).get("source")
    ranks = [policy.trusted_sources.index(x) for x in (institution, source) if x in policy.trusted_sources]
    return min(ranks) if ranks else None


def choose(name: str, members: Sequence[StoredResource], policy: SurvivorshipPolicy,
           institutions: Mapping[str, str | None]) -> Choice | None:
    """The surviving value of field `name` among `members`, or None when no member has one."""
    candidates = [(s, *found) for s in members if (found := _value(s, name)) is not None]
    if not candidates:
        return None
    chain = policy.chain(name)
    if len(candidates) == 1:  # one value: only the rule that takes it is to be found
        only = candidates[0]
        trusted = TRUSTED_SOURCE in chain and _trust(policy, only[0], institutions.get(only[0].resource_id)) is not None
        rule = next(r for r in chain if r != TRUSTED_SOURCE or trusted)
        return Choice(only[1], only[2], only[0], rule)
    for position, rule in enumerate(chain):
        if rule != TRUSTED_SOURCE:
            best = max(candidates, key=lambda c: _ranking(rule, c))
            return Choice(best[1], best[2], best[0], rule)
        ranked = [(rank, c) for c in candidates
                  if (rank := _trust(policy, c[0], institutions.get(c[0].resource_id))) is not None]
        if not ranked:
            continue
        top = min(rank for rank, _ in ranked)
        tied = [c for rank, c in ranked if rank == top]
        tie_rule = next(r for r in chain[position + 1:] if r != TRUSTED_SOURCE)
        best = max(tied, key=lambda c: _ranking(tie_rule, c))
        return Choice(best[1], best[2], best[0], TRUSTED_SOURCE)
    return None  # unreachable: the chain ends with rules that always choose
