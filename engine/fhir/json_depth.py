"""How deeply a parsed JSON value nests (bodies past a limit are refused before anything walks them)."""
from __future__ import annotations

from typing import Any


def nesting_exceeds(value: Any, limit: int) -> bool:
    """True when objects and arrays nest deeper than `limit` levels (iterative: no recursion limit)."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > limit:
            return True
        if isinstance(item, dict):
            stack.extend((v, depth + 1) for v in item.values() if isinstance(v, (dict, list)))
        elif isinstance(item, list):
            stack.extend((v, depth + 1) for v in item if isinstance(v, (dict, list)))
    return False
