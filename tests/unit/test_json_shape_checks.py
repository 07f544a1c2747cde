"""The quick JSON shape check (no paths) agrees with the path-reporting walk on every kind of fault."""
from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import orjson
import pytest

from adapters.cli.sample_data import synthea_shaped
from engine.fhir.json_types import _clean, _walk, json_shape_issues
from engine.fhir.release import model_class

_FAULTS: list[Any] = [None, {}, [], "true", 1.5, True, 7, [None], [{}], {"x": 1}, ["a"], [[]]]


def _resources() -> list[dict[str, Any]]:
    bundle = orjson.loads(synthea_shaped(1)[0])
    seen: dict[str, dict[str, Any]] = {}
    for entry in bundle["entry"]:
        seen.setdefault(entry["resource"]["resourceType"], entry["resource"])
    return list(seen.values())


def _slots(node: Any) -> Iterator[tuple[dict[str, Any] | list[Any], Any]]:
    """Every (container, key or index) in a JSON tree, depth first."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key != "resourceType":
                yield node, key
                yield from _slots(value)
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield node, index
            yield from _slots(value)


def _mutations(resource: dict[str, Any]) -> Iterator[dict[str, Any]]:
    count = sum(1 for _ in _slots(resource))
    for position in range(0, count, max(1, count // 40)):
        for fault in _FAULTS:
            mutated = copy.deepcopy(resource)
            container, key = next(slot for i, slot in enumerate(_slots(mutated)) if i == position)
            container[key] = copy.deepcopy(fault)
            yield mutated


def _slow_issues(resource: dict[str, Any]) -> list[Any]:
    issues: list[Any] = []
    _walk(resource, model_class(resource["resourceType"]), resource["resourceType"], issues)
    return issues


@pytest.mark.parametrize("resource", _resources(), ids=lambda r: r["resourceType"])
def test_the_quick_check_passes_exactly_what_the_walk_passes(resource):
    model = model_class(resource["resourceType"])
    assert _clean(resource, model) and not _slow_issues(resource)
    checked = faulty = 0
    for mutated in _mutations(resource):
        slow = _slow_issues(mutated)
        assert _clean(mutated, model) == (not slow), orjson.dumps(mutated)[:300]
        assert [(i.code, i.expression) for i in json_shape_issues(mutated)] == [
            (i.code, i.expression) for i in slow]
        checked += 1
        faulty += bool(slow)
    assert checked > 50 and faulty > 10  # the mutations did reach the rules


def test_a_contained_resource_is_checked_against_its_own_model():
    patient = {"resourceType": "Patient", "contained": [{"resourceType": "Organization", "active": "yes"}]}
    assert not _clean(patient, model_class("Patient"))
    assert [i.expression for i in json_shape_issues(patient)] == ["Patient.contained[0].active"]
