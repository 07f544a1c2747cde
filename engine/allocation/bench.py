"""Benchmark of the three models at hospital scale; `run_benchmark()` returns the measured figures."""
from __future__ import annotations

import os
import platform
import time
from typing import Any

from engine.allocation import check_plan, generate, solve
from engine.allocation.result import AllocationResult

STAFFING_TARGET_S = 60.0
DP_TARGET_S = 1.0


def run_benchmark(*, seed: int = 1, time_limit_s: float = 60.0, gap: float = 0.01,
                  scale: float = 1.0) -> dict[str, Any]:
    """Solve staffing (500 staff, 12 wards, 14 days x 3 shifts), beds (1,000 requests, 3 hospitals),
    scheduling (2,000 procedures in one room by DP, cross-checked by the MILP; 1,000 procedures in
    12 rooms with flexible starts by MILP); report size, time, gap, fairness and the checker's verdict.

    `scale` shrinks every size (for a quick smoke run); targets are judged at scale 1 only.
    """
    out: dict[str, Any] = {"machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
                           "settings": {"seed": seed, "time_limit_s": time_limit_s, "gap": gap,
                                        "scale": scale}}

    def n(size: int) -> int:
        return max(2, round(size * scale))

    problem = generate("staffing", n(500), seed)
    row = _run("staffing", problem, time_limit_s, gap)
    fair = row.pop("_explanation")["fairness"]
    und = {k: v for k, v in fair["undesirable_shifts"].items() if k != "per_person"}
    row.update({"size": {"staff": len(problem["staff"]), "wards": len(problem["wards"]),
                         "shifts": problem["horizon"]["days"] * len(problem["shifts"])},
                "fairness": {"undesirable_shifts": und, "hours_vs_contract": fair["hours_vs_contract"],
                             "coverage_ratio_overall": fair["coverage_ratio"]["overall"],
                             "coverage_ratio_min": fair["coverage_ratio"]["min"]},
                "target": {"seconds": STAFFING_TARGET_S, "gap": 0.01,
                           "met": row["wall_seconds"] < STAFFING_TARGET_S and row["gap"] is not None
                           and row["gap"] <= 0.01 + 1e-9}})
    out["staffing"] = row

    problem = generate("beds", n(1000), seed)
    row = _run("beds", problem, time_limit_s, gap)
    fair = row.pop("_explanation")["fairness"]
    row.update({"size": {"requests": len(problem["requests"]), "beds": len(problem["beds"]),
                         "institutions": len(problem["institutions"])},
                "fairness": {k: fair[k] for k in ("overall_rate", "min_rate", "max_rate", "spread",
                                                  "max_min_ratio", "gini_of_region_rates", "delta")}})
    out["beds"] = row

    problem = generate("scheduling", n(2000), seed, rooms=1)
    row = _run("scheduling", problem, time_limit_s, gap)
    fair = row.pop("_explanation")["fairness"]
    row.update({"size": {"procedures": n(2000), "rooms": 1, "starts": "fixed"},
                "fairness": {"utilisation_by_room": fair["utilisation_by_room"]},
                "target": {"seconds": DP_TARGET_S, "met": row["solve_seconds"] < DP_TARGET_S}})
    milp = _run("scheduling", {**problem, "method": "milp"}, time_limit_s, gap)
    milp.pop("_explanation")
    row["milp_cross_check"] = {k: milp[k] for k in ("status", "objective", "variables", "constraints",
                                                    "solve_seconds")}
    row["milp_cross_check"]["same_optimum"] = abs((milp["objective"] or 0) - (row["objective"] or 0)) < 1e-6
    out["scheduling_dp"] = row

    rooms = max(1, round(12 * min(1.0, scale * 4)))
    problem = generate("scheduling", n(1000), seed, rooms=rooms, room_types=min(3, rooms), starts="flexible")
    row = _run("scheduling", problem, time_limit_s, gap)
    fair = row.pop("_explanation")["fairness"]
    row.update({"size": {"procedures": n(1000), "rooms": rooms, "room_types": min(3, rooms),
                         "starts": "flexible", "slot_minutes": problem["slot_minutes"]},
                "fairness": {"utilisation_gini": fair["utilisation_gini"],
                             "utilisation_spread": fair["utilisation_spread"],
                             "rate_by_room_type": {k: v["rate"] for k, v in fair["by_room_type"].items()}}})
    out["scheduling_milp"] = row
    return out


def _run(kind: str, problem: dict[str, Any], time_limit_s: float, gap: float) -> dict[str, Any]:
    began = time.perf_counter()
    result: AllocationResult = solve(kind, problem, time_limit_s=time_limit_s, gap=gap)
    wall = time.perf_counter() - began
    violations = check_plan(kind, problem, result.plan)
    return {"status": result.status, "method": result.method, "objective": _round(result.objective),
            "bound": _round(result.bound), "gap": None if result.gap is None else round(result.gap, 6),
            "variables": result.variables, "constraints": result.constraints,
            "solve_seconds": round(result.solve_seconds, 4), "wall_seconds": round(wall, 3),
            "check_violations": len(violations), "summary": result.explanation.get("summary", {}),
            "_explanation": result.explanation}


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


if __name__ == "__main__":  # pragma: no cover - manual run: python -m engine.allocation.bench
    import json

    print(json.dumps(run_benchmark(), indent=2))
