"""Clusters of records linked by "match" decisions (connected components, union-find)."""

from __future__ import annotations

from collections.abc import Iterable

from engine.identity.scoring import ScoredPair


def clusters(pairs: Iterable[ScoredPair], record_ids: Iterable[str]) -> list[set[str]]:
    """Connected components over pairs decided "match"; every record id appears once, singletons included."""
    parent: dict[str, str] = {}

    def find(item: str) -> str:
        root = item
        while parent[root] != root:
            root = parent[root]
        while parent[item] != root:
            parent[item], item = root, parent[item]
        return root

    for record_id in record_ids:
        parent.setdefault(record_id, record_id)
    for pair in pairs:
        if pair.decision != "match":
            continue
        parent.setdefault(pair.left_id, pair.left_id)
        parent.setdefault(pair.right_id, pair.right_id)
        a, b = find(pair.left_id), find(pair.right_id)
        if a != b:
            parent[max(a, b)] = min(a, b)
    groups: dict[str, set[str]] = {}
    for record_id in parent:
        groups.setdefault(find(record_id), set()).add(record_id)
    return sorted(groups.values(), key=lambda g: min(g))
