"""Clusters of records linked by "match" decisions: connected components, and greedy clustering that refuses
to join two groups holding a clear conflict (the stronger link wins)."""

from __future__ import annotations

from collections.abc import Collection, Iterable
from typing import Protocol

AMBIGUITY_BITS = 1.0  # links this close in weight are equally strong


class Linked(Protocol):
    """A scored pair as clustering sees it."""

    left_id: str
    right_id: str
    probability: float
    weight: float
    decision: str


def conflict_key(left: str, right: str) -> tuple[str, str]:
    """The unordered pair (`left`, `right`) as a sorted tuple."""
    return (left, right) if left <= right else (right, left)


def components(edges: Iterable[tuple[str, str]], record_ids: Iterable[str]) -> list[set[str]]:
    """Connected components (union-find); every record id appears once, singletons included."""
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
    for left, right in edges:
        parent.setdefault(left, left)
        parent.setdefault(right, right)
        a, b = find(left), find(right)
        if a != b:
            parent[max(a, b)] = min(a, b)
    groups: dict[str, set[str]] = {}
    for record_id in parent:
        groups.setdefault(find(record_id), set()).add(record_id)
    return sorted(groups.values(), key=lambda g: min(g))


def ambiguous(links: Iterable[tuple[str, str, float]], conflicts: Collection[tuple[str, str]]) -> set[str]:
    """Records whose strongest match links (`(left, right, weight in bits)`, equally strong within
    `AMBIGUITY_BITS`) lead to both records of a clear conflict: "Jack" matching John and his twin Jacob
    equally well. Such a record joins neither automatically (whichever came first would win by chance)."""
    clash = set(conflicts)
    if not clash:
        return set()
    by_record: dict[str, list[tuple[float, str]]] = {}
    for left, right, weight in links:
        by_record.setdefault(left, []).append((weight, right))
        by_record.setdefault(right, []).append((weight, left))
    out = set()
    for record, found in by_record.items():
        if len(found) < 2:
            continue
        top = max(weight for weight, _ in found)
        near = sorted(other for weight, other in found if top - weight <= AMBIGUITY_BITS)
        if any((a, b) in clash for i, a in enumerate(near) for b in near[i + 1 :]):
            out.add(record)
    return out


class Grouping:
    """Groups being joined one link at a time: never across a pair kept apart (a manual "no-match"), and,
    unless told otherwise, never across a clear conflict."""

    def __init__(self, nodes: Iterable[str]) -> None:
        self.group: dict[str, set[str]] = {n: {n} for n in nodes}
        self.apart: dict[str, set[str]] = {}
        self.conflicts: dict[str, set[str]] = {}

    @staticmethod
    def _add(table: dict[str, set[str]], pairs: Iterable[tuple[str, str]]) -> None:
        for left, right in pairs:
            table.setdefault(left, set()).add(right)
            table.setdefault(right, set()).add(left)

    def keep_apart(self, pairs: Iterable[tuple[str, str]]) -> None:
        """Records of these pairs never end up in one group."""
        self._add(self.apart, pairs)

    def conflicting(self, pairs: Iterable[tuple[str, str]]) -> None:
        """Records of these pairs end up in one group only through a join that overrides conflicts."""
        self._add(self.conflicts, pairs)

    def join(self, left: str, right: str, *, override_conflicts: bool = False) -> bool:
        """Join the groups of `left` and `right` unless a pair kept apart (or a conflict) spans them; whether
        they are now one group."""
        a, b = self.group[left], self.group[right]
        if a is b:
            return True
        small, big = (a, b) if len(a) <= len(b) else (b, a)
        tables = (self.apart,) if override_conflicts else (self.apart, self.conflicts)
        for table in tables:
            if any(not table[x].isdisjoint(big) for x in small if x in table):
                return False
        big |= small
        for x in small:
            self.group[x] = big
        return True

    def groups(self) -> list[set[str]]:
        """The groups, ordered by their smallest id."""
        unique = {id(g): g for g in self.group.values()}
        return sorted(unique.values(), key=lambda g: min(g))


def clusters(pairs: Iterable[Linked], record_ids: Iterable[str],
             conflicts: Collection[tuple[str, str]] = ()) -> list[set[str]]:
    """Groups over pairs decided "match", most probable first; two groups holding a pair in `conflicts` (a
    clear conflict, e.g. from `MatchIndex.conflicts`) stay apart, and a record matching both sides of one
    equally well (`ambiguous`) stays alone. Every record id appears once."""
    ids = list(dict.fromkeys(record_ids))
    matches = [p for p in pairs if p.decision == "match"]
    grouping = Grouping([*ids, *(x for p in matches for x in (p.left_id, p.right_id))])
    grouping.conflicting(conflicts)
    unsure = ambiguous(((p.left_id, p.right_id, p.weight) for p in matches), conflicts)
    for pair in sorted(matches, key=lambda p: (-p.probability, conflict_key(p.left_id, p.right_id))):
        if pair.left_id not in unsure and pair.right_id not in unsure:
            grouping.join(pair.left_id, pair.right_id)
    return grouping.groups()
