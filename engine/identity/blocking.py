"""Blocking: records sharing a key of some rule become candidate pairs; oversized blocks are skipped."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from itertools import product

import numpy as np

from engine.identity.features import Normalised

_SEP = "\x1f"


def _one(value: str | int | None) -> tuple[str, ...]:
    return (str(value),) if value else ()


KEY_PARTS: dict[str, Callable[[Normalised], tuple[str, ...]]] = {
    "given": lambda r: _one(r.given),
    "given_initial": lambda r: _one(r.given[:1] if r.given else None),
    "given_soundex": lambda r: _one(r.given_soundex),
    "family": lambda r: _one(r.family),
    "family_initial": lambda r: _one(r.family[:1] if r.family else None),
    "family_soundex": lambda r: _one(r.family_soundex),
    "birth_date": lambda r: _one("%04d-%02d-%02d" % r.birth if r.birth[2] else None),
    "birth_year": lambda r: _one(r.birth[0]),
    "birth_month_day": lambda r: _one("%02d-%02d" % r.birth[1:] if r.birth[2] else None),
    "sex": lambda r: (r.sex or "u",),  # missing sex is its own value, so birth_date+sex still blocks
    "postcode": lambda r: _one(r.postcode),
    "city": lambda r: _one(r.city),
    "street": lambda r: tuple(sorted({t for t in r.address if len(t) > 3 and not t.isdigit()})),
    "phone": lambda r: _one(r.phone),
    "email": lambda r: _one(r.email),
    "identifier": lambda r: tuple(f"{system}|{value}" for system, value in r.identifiers),
}

# The compared field each key part is derived from (EM does not learn that field from that rule's pairs).
PART_FIELDS = {
    "given": "given",
    "given_initial": "given",
    "given_soundex": "given",
    "family": "family",
    "family_initial": "family",
    "family_soundex": "family",
    "birth_date": "birth_date",
    "birth_year": "birth_date",
    "birth_month_day": "birth_date",
    "sex": "sex",
    "postcode": "postcode",
    "city": "city",
    "street": "address",
    "phone": "phone",
    "email": "email",
    "identifier": "identifier",
}

# Key parts people living together share: a block on one of them is rich in household members, who agree on
# every household field (family name, postcode, address, city, phone) without being the same person.
HOUSEHOLD_PARTS = frozenset({"postcode", "city", "street", "phone"})

# Chosen on Febrl4 (see tests/identity/test_febrl4.py): each rule alone keeps 61-91% of the true pairs,
# together 99.96%, with under two candidate pairs per record. given_soundex+postcode replaced
# given_initial+postcode, which found no true pair the others missed (on Febrl4 nor on `tessera synth` data)
# but two thirds of all candidate pairs where a postcode holds many people.
DEFAULT_RULES: tuple[tuple[str, ...], ...] = (
    ("identifier",),
    ("family_soundex", "birth_year"),
    ("given_soundex", "postcode"),
    ("birth_date", "sex"),
    ("given_soundex", "family_soundex"),
    ("postcode", "birth_year"),
    ("street", "postcode"),
    ("phone",),
    ("email",),
)


def rule_name(rule: Iterable[str]) -> str:
    """A rule's display name ('family_soundex+birth_year')."""
    return "+".join(rule)


def validate_rules(rules: Iterable[Iterable[str]]) -> None:
    """Raise ValueError for a rule naming an unknown key part."""
    for rule in rules:
        unknown = [part for part in rule if part not in KEY_PARTS]
        if unknown or not list(rule):
            raise ValueError(
                f"unknown blocking key part(s) {unknown} in rule {list(rule)}; known: {sorted(KEY_PARTS)}"
            )


def record_keys(item: Normalised, rules: tuple[tuple[str, ...], ...]) -> list[tuple[int, str]]:
    """(rule number, key) for every key `item` has under `rules` (none for a rule with a missing part)."""
    keys: list[tuple[int, str]] = []
    parts: dict[str, tuple[str, ...]] = {}
    for number, rule in enumerate(rules):
        values = []
        for part in rule:
            found = parts.get(part)
            if found is None:
                found = parts[part] = KEY_PARTS[part](item)
            if not found:
                break
            values.append(found)
        else:
            if len(values) == 1:
                keys.extend((number, value) for value in values[0])
            else:
                keys.extend((number, _SEP.join(combo)) for combo in product(*values))
    return keys


class BlockIndex:
    """Rule -> key -> slots of the records holding that key."""

    def __init__(self, rules: tuple[tuple[str, ...], ...]) -> None:
        validate_rules(rules)
        self.rules = rules
        self.blocks: list[dict[str, int | list[int]]] = [{} for _ in rules]

    # A block of one record is stored as the bare slot (an int): most blocks are that small, and fewer
    # container objects keep the garbage collector's passes over a large index short.

    def add(self, slot: int, keys: list[tuple[int, str]]) -> None:
        """File `slot` under each of its keys."""
        for number, key in keys:
            blocks = self.blocks[number]
            members = blocks.get(key)
            if members is None:
                blocks[key] = slot
            elif isinstance(members, int):
                blocks[key] = [members, slot]
            else:
                members.append(slot)

    def remove(self, slot: int, keys: Iterable[tuple[int, str]]) -> None:
        """Take `slot` out of each of its keys' blocks."""
        for number, key in keys:
            blocks = self.blocks[number]
            members = blocks.get(key)
            if members is None:
                continue
            if isinstance(members, int):
                if members == slot:
                    del blocks[key]
                continue
            if slot in members:
                members.remove(slot)
            if len(members) == 1:
                blocks[key] = members[0]

    def members(self, keys: list[tuple[int, str]], max_block_size: int) -> tuple[set[int], list[str]]:
        """Union of the blocks of `keys`, skipping blocks over `max_block_size` (with a warning each)."""
        found: set[int] = set()
        warnings: list[str] = []
        for number, key in keys:
            members = self.blocks[number].get(key)
            if members is None:
                continue
            if isinstance(members, int):
                found.add(members)
                continue
            if len(members) > max_block_size:
                warnings.append(oversize_warning(self.rules[number], len(members), max_block_size))
                continue
            found.update(members)
        return found, warnings

    def pairs(self, max_block_size: int) -> tuple[np.ndarray, np.ndarray, list[str]]:
        """All distinct candidate pairs (lo < hi slots) over every rule, and warnings for skipped blocks."""
        per_rule, warnings = self.rule_pairs(max_block_size)
        lo, hi = union_pairs(per_rule)
        return lo, hi, warnings

    def rule_pairs(self, max_block_size: int) -> tuple[list[tuple[np.ndarray, np.ndarray]], list[str]]:
        """Distinct candidate pairs of each rule, and warnings for skipped (oversized) blocks."""
        out: list[tuple[np.ndarray, np.ndarray]] = []
        warnings: list[str] = []
        for number, blocks in enumerate(self.blocks):
            by_size: dict[int, list[list[int]]] = {}
            skipped: list[int] = []
            for members in blocks.values():
                if isinstance(members, int):
                    continue
                size = len(members)
                if size > max_block_size:
                    skipped.append(size)
                    continue
                by_size.setdefault(size, []).append(members)
            for size in sorted(skipped, reverse=True)[:10]:
                warnings.append(oversize_warning(self.rules[number], size, max_block_size))
            if len(skipped) > 10:
                warnings.append(
                    f"blocking rule {rule_name(self.rules[number])}: {len(skipped) - 10} more blocks "
                    f"over max_block_size {max_block_size} skipped"
                )
            out.append(block_pairs(by_size))
        return out, warnings


def union_pairs(per_rule: list[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
    """The distinct pairs over several (lo, hi) pair lists."""
    if not per_rule:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty
    lo = np.concatenate([p[0] for p in per_rule])
    hi = np.concatenate([p[1] for p in per_rule])
    if lo.size == 0:
        return lo, hi
    span = int(hi.max()) + 1
    unique = distinct(lo * span + hi)
    return unique // span, unique % span


def distinct(values: np.ndarray) -> np.ndarray:
    """The sorted distinct values of an integer array (sorting: numpy's hash-based `unique` is many times
    slower on millions of pair codes)."""
    if values.size == 0:
        return values
    ordered = np.sort(values)
    keep = np.empty(ordered.size, dtype=bool)
    keep[0] = True
    np.not_equal(ordered[1:], ordered[:-1], out=keep[1:])
    return ordered[keep]


def block_pairs(by_size: dict[int, list[list[int]]]) -> tuple[np.ndarray, np.ndarray]:
    """Distinct (lo, hi) slot pairs within each block, blocks grouped by their size."""
    los: list[np.ndarray] = []
    his: list[np.ndarray] = []
    for size, groups in by_size.items():
        members = np.asarray(groups, dtype=np.int64)
        first, second = np.triu_indices(size, k=1)
        a, b = members[:, first].ravel(), members[:, second].ravel()
        los.append(np.minimum(a, b))
        his.append(np.maximum(a, b))
    if not los:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty
    lo, hi = np.concatenate(los), np.concatenate(his)
    lo, hi = lo[lo != hi], hi[lo != hi]
    span = int(hi.max()) + 1 if hi.size else 1
    unique = distinct(lo * span + hi)
    return unique // span, unique % span


def oversize_warning(rule: tuple[str, ...], size: int, limit: int) -> str:
    """The warning for a skipped block: rule and size only, never the key (it is patient data)."""
    return f"blocking rule {rule_name(rule)}: block of {size} records exceeds max_block_size {limit}; skipped"
