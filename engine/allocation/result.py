"""The value every solve returns, whatever happened (business infeasibility included)."""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

STATUSES = ("optimal", "feasible", "infeasible", "time_limit")


@dataclass
class AllocationResult:
    """Outcome of one solve.

    status: "optimal" (proven within the requested relative gap), "feasible" (a plan that keeps every
    hard rule, stopped by the time limit before the gap was proven), "infeasible" (the hard
    requirements conflict; `explanation["conflicting_requirements"]` names the fewest to give up) or
    "time_limit" (time ran out before any plan was found; `plan` is empty).
    """

    status: str
    objective: float | None
    bound: float | None
    gap: float | None
    solve_seconds: float
    variables: int
    constraints: int
    plan: dict[str, Any]
    explanation: dict[str, Any] = field(default_factory=dict)
    kind: str = ""
    method: str = "milp"

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (non-finite numbers become None)."""
        return _json_ready(asdict(self))


def _json_ready(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): _json_ready(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_ready(v) for v in value]
    if hasattr(value, "item") and callable(value.item):  # numpy scalars
        return _json_ready(value.item())
    return value
