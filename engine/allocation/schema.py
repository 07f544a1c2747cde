"""Pydantic plumbing shared by the problem models: strict base model, validation with field paths."""
from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from engine.allocation.errors import AllocationInputError

M = TypeVar("M", bound="ProblemModel")
ROOT = "problem"


class ProblemModel(BaseModel):
    """Base of every problem model: unknown fields are errors, values are frozen after validation."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Problem(ProblemModel):
    """Base of the three top-level problems: adds cross-field checks and an example."""

    def cross_check(self) -> list[tuple[str, str]]:
        """Issues pydantic cannot see field by field (unknown ids, horizon mismatch); empty when sound."""
        return []

    @classmethod
    def example(cls) -> dict[str, Any]:
        """A small valid problem, as plain JSON."""
        raise NotImplementedError


def path_of(loc: Iterable[Any], root: str = ROOT) -> str:
    """('staff', 3, 'contracted_hours') -> 'problem.staff[3].contracted_hours'."""
    out = root
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else f".{part}"
    return out


def validate(model: type[M], data: Any) -> M:
    """Validate plain JSON into `model`; raise AllocationInputError naming every bad field."""
    if isinstance(data, model):
        parsed = data
    else:
        if not isinstance(data, dict):
            raise AllocationInputError([(ROOT, "the problem must be a JSON object")])
        try:
            parsed = model.model_validate(data)
        except ValidationError as exc:
            raise AllocationInputError([(path_of(e["loc"]), e["msg"]) for e in exc.errors()]) from None
    issues = parsed.cross_check()
    if issues:
        raise AllocationInputError(issues)
    return parsed


def duplicate_ids(items: Iterable[Any], field: str) -> list[tuple[str, str]]:
    """Issues for repeated `.id` values in the list called `field`."""
    items = list(items)
    counts = Counter(item.id for item in items)
    return [(path_of((field, i, "id")), f"duplicate id {item.id!r}")
            for i, item in enumerate(items) if counts[item.id] > 1]
