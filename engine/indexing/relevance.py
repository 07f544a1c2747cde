"""Relevance judgments decided from codes, and the ranking metrics that score a search against them.

Grades: 2 = exactly what was asked, 1 = related, 0 = not relevant. nDCG uses the exponential gain
2**grade - 1 (so an exact item is worth three related ones) and the log2(rank + 1) discount.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

Key = TypeVar("Key", bound=Hashable)
Resolver = Callable[[str], "dict[str, Any] | None"]

# The element holding the concept that names each resource type, when a rule does not name one.
NAMING_ELEMENT = {
    "AllergyIntolerance": "code", "CarePlan": "category", "Condition": "code", "Device": "type",
    "DiagnosticReport": "code", "DocumentReference": "type", "Encounter": "type", "Goal": "description",
    "ImagingStudy": "procedureCode", "Immunization": "vaccineCode", "MedicationAdministration":
    "medicationCodeableConcept", "MedicationRequest": "medicationCodeableConcept", "MedicationStatement":
    "medicationCodeableConcept", "Observation": "code", "Procedure": "code", "ServiceRequest": "code",
}


@dataclass(frozen=True)
class CodeRule:
    """Resources of `type` carrying one of `codes` from `system` in `element` (the naming concept by default).

    An element that holds References (e.g. `reasonReference`, `addresses`) is matched through the
    concept (`code`) of the resource each reference points at.
    """

    type: str
    system: str
    codes: frozenset[str]
    element: str | None = None

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> "CodeRule":
        """A rule from its JSON form: {"type", "system", "codes", optional "element"}."""
        unknown = set(data) - {"type", "system", "codes", "element"}
        if unknown:
            raise ValueError(f"unknown keys in a judgment rule: {sorted(unknown)}")
        element = data.get("element") or NAMING_ELEMENT.get(data["type"])
        if element is None:
            raise ValueError(f"a rule over {data['type']} must name its element")
        if not data["codes"]:
            raise ValueError("a judgment rule needs at least one code")
        return cls(data["type"], data["system"], frozenset(str(c) for c in data["codes"]), element)

    def matches(self, resource: Mapping[str, Any], resolve: Resolver | None = None) -> bool:
        """True when the resource is of the rule's type and carries one of its codes."""
        if resource.get("resourceType") != self.type:
            return False
        for node in _walk(resource, (self.element or NAMING_ELEMENT.get(self.type, "code")).split(".")):
            if isinstance(node, Mapping) and "reference" in node and resolve is not None:
                target = resolve(str(node["reference"]))
                node = target.get("code") if target else None
            if any(self._coding(coding) for coding in _codings(node)):
                return True
        return False

    def _coding(self, coding: Any) -> bool:
        return isinstance(coding, Mapping) and coding.get("system") == self.system and coding.get("code") in self.codes


def _walk(node: Any, path: Sequence[str]) -> Iterable[Any]:
    """Every value at the dotted path, lists flattened along the way."""
    if isinstance(node, list):
        for item in node:
            yield from _walk(item, path)
        return
    if not path:
        yield node
        return
    if isinstance(node, Mapping) and path[0] in node:
        yield from _walk(node[path[0]], path[1:])


def _codings(node: Any) -> Iterable[Any]:
    """The Codings of a CodeableConcept, or the Coding itself."""
    if isinstance(node, list):
        for item in node:
            yield from _codings(item)
    elif isinstance(node, Mapping):
        yield from node.get("coding") or ()
        if "system" in node and "code" in node:
            yield node


@dataclass(frozen=True)
class Judgment:
    """The grading rules of one query: exact (grade 2) and related (grade 1)."""

    exact: tuple[CodeRule, ...]
    related: tuple[CodeRule, ...] = ()

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> "Judgment":
        """Rules from a query's JSON: {"grade2": [rule, ...], "grade1": [rule, ...]}."""
        return cls(tuple(CodeRule.from_json(r) for r in data["grade2"]),
                   tuple(CodeRule.from_json(r) for r in data.get("grade1", ())))

    def grade(self, resource: Mapping[str, Any], resolve: Resolver | None = None) -> int:
        """2 when an exact rule matches, 1 when a related one does, else 0."""
        if any(rule.matches(resource, resolve) for rule in self.exact):
            return 2
        if any(rule.matches(resource, resolve) for rule in self.related):
            return 1
        return 0


def gain(grade: int) -> float:
    """The exponential gain of a grade: 2**grade - 1."""
    return float(2 ** grade - 1) if grade > 0 else 0.0


def dcg_at(ranked_keys: Sequence[Key], grades: Mapping[Key, int], k: int) -> float:
    """Discounted cumulative gain of the first `k` distinct keys."""
    return sum(gain(grades.get(key, 0)) / math.log2(rank + 1)
               for rank, key in enumerate(_distinct(ranked_keys)[:k], start=1))


def ndcg_at(ranked_keys: Sequence[Key], grades: Mapping[Key, int], k: int) -> float:
    """nDCG@k: DCG of the ranking over DCG of the ideal ranking; 0.0 when nothing is relevant."""
    ideal = sorted((g for g in grades.values() if g > 0), reverse=True)[:k]
    best = sum(gain(g) / math.log2(rank + 1) for rank, g in enumerate(ideal, start=1))
    return dcg_at(ranked_keys, grades, k) / best if best else 0.0


def recall_at(ranked_keys: Sequence[Key], grades: Mapping[Key, int], k: int) -> float:
    """Share of the relevant keys (grade >= 1) found in the first `k`; 0.0 when nothing is relevant."""
    relevant = {key for key, g in grades.items() if g > 0}
    if not relevant:
        return 0.0
    return len(relevant.intersection(_distinct(ranked_keys)[:k])) / len(relevant)


def mean_by_name(rows: Iterable[Mapping[str, float]]) -> dict[str, float]:
    """The mean of each named score over the rows (e.g. per-query scores by mode -> mean by mode)."""
    totals: dict[str, float] = {}
    counts: dict[str, int] = {}
    for row in rows:
        for name, value in row.items():
            totals[name] = totals.get(name, 0.0) + value
            counts[name] = counts.get(name, 0) + 1
    return {name: totals[name] / counts[name] for name in totals}


def _distinct(keys: Sequence[Key]) -> list[Key]:
    """The keys in order, later repeats dropped."""
    return list(dict.fromkeys(keys))
