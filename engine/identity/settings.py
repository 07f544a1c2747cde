"""Matching settings: blocking, thresholds and the decision rules; JSON-friendly via to_dict/from_dict."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any

from engine.identity.blocking import DEFAULT_RULES, validate_rules
from engine.identity.comparisons import FIELD_INDEX, FIELDS


def _default_conflicts() -> dict[str, float]:
    return {"given": -26.0, "birth_date": -20.0, "suffix": -16.0, "sex": -8.0}


@dataclass
class MatchSettings:
    """How candidates are found and how a scored pair becomes a decision.

    - match_probability / review_probability: at or above the first a pair links automatically ("match"),
      at or above the second it goes to human review ("possible"), below it is "no-match".
    - min_agreeing_fields: a "match" also needs this many fields with positive evidence, so a pair that
      agrees on a name alone (or an identifier alone) is at most "possible".
    - household_cap: the summed weight (bits) of fields people living together share (family name,
      address, postcode, city, phone) is capped here, so a household agreement cannot outweigh a clear
      conflict in a person-specific field (twins, father and son).
    - conflict_weights: the most a "clearly different" level may weigh (bits, negative) per field:
      the learned weight is used when it is more negative.
    - location_once: the location fields (postcode, address, city) disagreeing count once, as the most
      negative of them: a move changes all three, so their disagreements are one event, not three.
    - twin_guard: when a pair could be twins (the household cap applies, or the family name and the exact
      birth date agree), a given name short of the same person's (not exact, nickname, close, swapped,
      partial or one keying slip apart; anything but exact when the sexes differ) weighs the given-name
      conflict floor: twins share everything but the given name. An exact identifier lifts it as it lifts
      the given floor (`identifier_lifts_conflicts`).
    - conflict_probability: a scored pair below this probability is a clear conflict: clustering never
      joins, through other records' matches, two groups holding one (John - "Jack" - his twin Jacob).
      Manual matches override it; 0 turns the check off.
    - link_within_source: False links only records of different sources (e.g. two registries).
    """

    match_probability: float = 0.99
    review_probability: float = 0.5
    blocking_rules: tuple[tuple[str, ...], ...] = DEFAULT_RULES
    max_block_size: int = 500
    min_agreeing_fields: int = 3
    household_cap: float = 18.0
    conflict_weights: dict[str, float] = field(default_factory=_default_conflicts)
    identifier_lifts_conflicts: tuple[str, ...] = ("given", "birth_date", "sex")
    location_once: bool = True
    twin_guard: bool = True
    link_within_source: bool = True
    conflict_probability: float = 0.01
    tf_minimum_u: float = 1e-5
    tf_min_count: int = 5

    def __post_init__(self) -> None:
        self.blocking_rules = tuple(tuple(rule) for rule in self.blocking_rules)
        self.identifier_lifts_conflicts = tuple(self.identifier_lifts_conflicts)
        validate_rules(self.blocking_rules)
        if not 0.0 < self.review_probability <= self.match_probability < 1.0:
            raise ValueError("need 0 < review_probability <= match_probability < 1")
        if not 0.0 <= self.conflict_probability < self.review_probability:
            raise ValueError("need 0 <= conflict_probability < review_probability")
        if self.max_block_size < 2:
            raise ValueError("max_block_size must be at least 2")
        for name, weight in self.conflict_weights.items():
            if name not in FIELD_INDEX or FIELDS[FIELD_INDEX[name]].conflict is None:
                raise ValueError(f"field {name!r} has no conflict level")
            if weight > 0:
                raise ValueError(f"conflict weight of {name!r} must not be positive")

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable dict of these settings."""
        data = asdict(self)
        data["blocking_rules"] = [list(rule) for rule in self.blocking_rules]
        data["identifier_lifts_conflicts"] = list(self.identifier_lifts_conflicts)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> MatchSettings:
        """Settings from `to_dict` output (unknown keys are rejected, missing ones take defaults)."""
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown match settings: {sorted(unknown)}")
        values = dict(data)
        if "blocking_rules" in values:
            values["blocking_rules"] = tuple(tuple(rule) for rule in values["blocking_rules"])
        return cls(**values)
