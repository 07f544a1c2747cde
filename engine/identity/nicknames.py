"""Given-name nickname equivalence, from the hand-made table in nickname_table.py."""

from __future__ import annotations

from functools import lru_cache

from engine.identity.nickname_table import TABLE
from engine.identity.normalize import fold


@lru_cache(maxsize=1)
def nickname_groups() -> dict[str, frozenset[int]]:
    """Folded given name -> the ids of the nickname groups it belongs to."""
    groups: dict[str, set[int]] = {}
    for number, line in enumerate(TABLE.splitlines()):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        for name in line.split(","):
            name = fold(name)
            if name:
                groups.setdefault(name, set()).add(number)
    return {name: frozenset(ids) for name, ids in groups.items()}


def are_nicknames(a: str, b: str) -> bool:
    """Whether two given names share a nickname group ('bob' and 'robert')."""
    table = nickname_groups()
    first, second = table.get(fold(a)), table.get(fold(b))
    return bool(first and second and first & second)
