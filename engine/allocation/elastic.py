"""Elastic relaxation: the fewest named requirements to give up so that the hard rules can be met."""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from engine.allocation.highs import MilpBuilder, solve

_BIG = 1e6


@dataclass
class Relaxation:
    """Requirements the elastic model had to relax (a minimum-cardinality set when `proven`)."""

    requirements: list[dict[str, Any]]
    proven: bool
    status: str
    seconds: float

    def as_explanation(self) -> dict[str, Any]:
        """The JSON-ready part of an infeasible result's explanation."""
        families = sorted({r["family"] for r in self.requirements})
        return {"conflicting_requirements": self.requirements, "conflicting_families": families,
                "minimal": self.proven, "relaxation_status": self.status,
                "relaxation_seconds": round(self.seconds, 3)}


def minimum_relaxation(model: MilpBuilder, *, time_limit_s: float) -> Relaxation:
    """Give each requirement row a big-M escape switched by one binary per requirement; minimise switches.

    Rows without a requirement (availability, one shift a day, bed capacity...) stay hard. The
    answer is a smallest set of requirements whose removal makes the rest feasible.
    """
    elastic = MilpBuilder()
    for lower, upper, integer in zip(model.lower, model.upper, model.integer):
        elastic.var(0.0, lower, upper, integer=integer)
    switch: dict[str, int] = {}
    for r in range(model.num_rows):
        index = model.row_index[model.row_start[r]:model.row_start[r + 1]]
        value = model.row_value[model.row_start[r]:model.row_start[r + 1]]
        lower, upper, key = model.row_lower[r], model.row_upper[r], model.row_requirement[r]
        if key is None:
            elastic.row(index, value, lower, upper, family=model.row_family[r])
            continue
        if key not in switch:
            switch[key] = elastic.binary(1.0)
            detail = {k: v for k, v in model.requirements[key].items() if k != "requirement"}
            elastic.requirement(key, **detail)
        z = switch[key]
        low_act, high_act = _activity_range(model, index, value)
        if math.isfinite(lower):
            big = lower - low_act if math.isfinite(low_act) else _BIG
            if big > 0:
                elastic.row([*index, z], [*value, big], lower, math.inf, family=model.row_family[r])
            else:
                elastic.row(index, value, lower, math.inf, family=model.row_family[r])
        if math.isfinite(upper):
            big = high_act - upper if math.isfinite(high_act) else _BIG
            if big > 0:
                elastic.row([*index, z], [*value, -big], -math.inf, upper, family=model.row_family[r])
            else:
                elastic.row(index, value, -math.inf, upper, family=model.row_family[r])
    outcome = solve(elastic, time_limit_s=time_limit_s, gap=0.0)
    if not outcome.has_plan:
        return Relaxation([], False, outcome.status, outcome.seconds)
    chosen = [model.requirements[key] for key, col in switch.items() if outcome.values[col] > 0.5]
    return Relaxation(chosen, outcome.status == "optimal", outcome.status, outcome.seconds)


def _activity_range(model: MilpBuilder, index: list[int], value: list[float]) -> tuple[float, float]:
    low = high = 0.0
    for j, a in zip(index, value):
        lo, up = model.lower[j], model.upper[j]
        if a >= 0:
            low += a * lo
            high += a * up
        else:
            low += a * up
            high += a * lo
    return low, high
