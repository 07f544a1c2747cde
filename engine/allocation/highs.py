"""A small row-wise MILP builder and its solve with HiGHS (time limit, relative gap, warm start, bound)."""
from __future__ import annotations

import math
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import highspy
import numpy as np

from engine.allocation.errors import AllocationSolverError

INF = math.inf
_INTEGER = highspy.HighsVarType.kInteger
_CONTINUOUS = highspy.HighsVarType.kContinuous
_FEASIBLE = 2  # HiGHS SolutionStatus kSolutionStatusFeasible
_STOPPED = {
    highspy.HighsModelStatus.kTimeLimit: "time_limit",
    highspy.HighsModelStatus.kIterationLimit: "iteration_limit",
    highspy.HighsModelStatus.kSolutionLimit: "solution_limit",
    highspy.HighsModelStatus.kInterrupt: "interrupt",
    highspy.HighsModelStatus.kHighsInterrupt: "interrupt",
    highspy.HighsModelStatus.kObjectiveBound: "objective_bound",
    highspy.HighsModelStatus.kObjectiveTarget: "objective_target",
    highspy.HighsModelStatus.kMemoryLimit: "memory_limit",
}


class MilpBuilder:
    """Columns and rows of one model; rows carry a constraint family and optionally a named requirement.

    A requirement is a business rule the elastic relaxation may give up (senior cover of one shift,
    a must-place admission, a fairness bound); rows without one are held fixed when explaining
    infeasibility.
    """

    def __init__(self, *, maximize: bool = False):
        self.maximize = maximize
        self.offset = 0.0
        self.cost: list[float] = []
        self.lower: list[float] = []
        self.upper: list[float] = []
        self.integer: list[bool] = []
        self.row_start: list[int] = [0]
        self.row_index: list[int] = []
        self.row_value: list[float] = []
        self.row_lower: list[float] = []
        self.row_upper: list[float] = []
        self.row_family: list[str] = []
        self.row_requirement: list[str | None] = []
        self.requirements: dict[str, dict[str, Any]] = {}

    @property
    def num_vars(self) -> int:
        """Number of columns."""
        return len(self.cost)

    @property
    def num_rows(self) -> int:
        """Number of rows."""
        return len(self.row_lower)

    def var(self, cost: float = 0.0, lower: float = 0.0, upper: float = 1.0, *, integer: bool = False) -> int:
        """Add one column; return its index."""
        self.cost.append(float(cost))
        self.lower.append(float(lower))
        self.upper.append(float(upper))
        self.integer.append(integer)
        return len(self.cost) - 1

    def binary(self, cost: float = 0.0) -> int:
        """Add one 0/1 column; return its index."""
        return self.var(cost, 0.0, 1.0, integer=True)

    def row(self, index: Sequence[int], value: Sequence[float] | float, lower: float = -INF,
            upper: float = INF, *, family: str, requirement: str | None = None) -> int:
        """Add lower <= sum(value * x[index]) <= upper; a scalar `value` applies to every index."""
        index = list(index)
        values = [float(value)] * len(index) if isinstance(value, (int, float)) else [float(v) for v in value]
        if len(values) != len(index):
            raise ValueError("index and value lengths differ")
        self.row_index.extend(index)
        self.row_value.extend(values)
        self.row_start.append(len(self.row_index))
        self.row_lower.append(float(lower))
        self.row_upper.append(float(upper))
        self.row_family.append(family)
        if requirement is not None and requirement not in self.requirements:
            raise KeyError(f"unregistered requirement {requirement!r}")
        self.row_requirement.append(requirement)
        return len(self.row_lower) - 1

    def requirement(self, key: str, family: str, rule: str, **detail: Any) -> str:
        """Register a relaxable requirement (reported if it has to be given up); return its key."""
        self.requirements.setdefault(key, {"requirement": key, "family": family, "rule": rule, **detail})
        return key

    def family_counts(self) -> dict[str, int]:
        """Number of rows per constraint family."""
        return dict(Counter(self.row_family))

    def to_lp(self) -> highspy.HighsLp:
        """The model as a HiGHS LP (row-wise matrix)."""
        lp = highspy.HighsLp()
        lp.num_col_ = self.num_vars
        lp.num_row_ = self.num_rows
        lp.col_cost_ = np.asarray(self.cost, dtype=float)
        lp.col_lower_ = np.asarray(self.lower, dtype=float)
        lp.col_upper_ = np.asarray(self.upper, dtype=float)
        lp.row_lower_ = np.asarray(self.row_lower, dtype=float)
        lp.row_upper_ = np.asarray(self.row_upper, dtype=float)
        lp.a_matrix_.format_ = highspy.MatrixFormat.kRowwise
        lp.a_matrix_.start_ = np.asarray(self.row_start, dtype=np.int32)
        lp.a_matrix_.index_ = np.asarray(self.row_index, dtype=np.int32)
        lp.a_matrix_.value_ = np.asarray(self.row_value, dtype=float)
        lp.offset_ = self.offset
        lp.sense_ = highspy.ObjSense.kMaximize if self.maximize else highspy.ObjSense.kMinimize
        if any(self.integer):
            lp.integrality_ = [_INTEGER if i else _CONTINUOUS for i in self.integer]
        return lp

    def activity(self, values: Sequence[float]) -> np.ndarray:
        """Row activities for a column vector (used by tests and warm-start checks)."""
        x = np.asarray(values, dtype=float)
        out = np.zeros(self.num_rows)
        idx = np.asarray(self.row_index, dtype=np.int64)
        val = np.asarray(self.row_value, dtype=float)
        starts = np.asarray(self.row_start, dtype=np.int64)
        if len(idx):
            np.add.at(out, np.repeat(np.arange(self.num_rows), np.diff(starts)), val * x[idx])
        return out


@dataclass
class MilpSolution:
    """What HiGHS answered, in the engine's vocabulary."""

    status: str  # optimal | feasible | infeasible | time_limit
    objective: float | None
    bound: float | None
    gap: float | None
    values: np.ndarray | None
    seconds: float
    stopped_by: str | None = None
    highs_status: str = ""
    nodes: int = 0
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def has_plan(self) -> bool:
        """True when a solution vector keeping every row is available."""
        return self.values is not None


def solve(builder: MilpBuilder, *, time_limit_s: float, gap: float, start: Sequence[float] | None = None,
          options: dict[str, Any] | None = None) -> MilpSolution:
    """Solve with HiGHS; `start` is an optional feasible column vector used as the first incumbent."""
    began = time.perf_counter()
    if builder.num_vars == 0:
        infeasible = any(lo > 1e-9 or up < -1e-9 for lo, up in zip(builder.row_lower, builder.row_upper))
        return MilpSolution("infeasible" if infeasible else "optimal", None if infeasible else builder.offset,
                            None if infeasible else builder.offset, None if infeasible else 0.0,
                            None if infeasible else np.zeros(0), time.perf_counter() - began,
                            highs_status="empty")
    highs = highspy.Highs()
    highs.setOptionValue("output_flag", False)
    highs.setOptionValue("time_limit", max(0.01, float(time_limit_s)))
    highs.setOptionValue("mip_rel_gap", max(0.0, float(gap)))
    highs.setOptionValue("random_seed", 7)
    for name, value in (options or {}).items():
        highs.setOptionValue(name, value)
    if highs.passModel(builder.to_lp()) != highspy.HighsStatus.kOk:
        raise AllocationSolverError("HiGHS rejected the model")
    if start is not None:
        solution = highspy.HighsSolution()
        solution.col_value = [float(v) for v in start]
        highs.setSolution(solution)
    highs.run()
    seconds = time.perf_counter() - began
    model_status = highs.getModelStatus()
    info = highs.getInfo()
    name = highs.modelStatusToString(model_status)
    is_mip = any(builder.integer)
    nodes = int(info.mip_node_count) if is_mip else 0
    if model_status in (highspy.HighsModelStatus.kInfeasible,
                        highspy.HighsModelStatus.kUnboundedOrInfeasible):
        return MilpSolution("infeasible", None, None, None, None, seconds, highs_status=name, nodes=nodes)
    if model_status == highspy.HighsModelStatus.kOptimal:
        status, stopped = "optimal", None
    elif model_status in _STOPPED:
        stopped = _STOPPED[model_status]
        status = "feasible" if info.primal_solution_status == _FEASIBLE else "time_limit"
    else:
        raise AllocationSolverError(f"HiGHS stopped with status {name!r}")
    if status == "time_limit":
        bound = float(info.mip_dual_bound) if is_mip else None
        return MilpSolution(status, None, _finite(bound), None, None, seconds, stopped, name, nodes)
    values = np.asarray(highs.getSolution().col_value, dtype=float)
    # The objective is recomputed from the solution: when a MIP start ends the solve at the root,
    # HiGHS 1.16 reports primal and dual bound in the presolved space, without the constant that
    # presolve moved out of the model; the same shift is applied to the bound.
    objective = float(np.dot(np.asarray(builder.cost, dtype=float), values) + builder.offset)
    shift = objective - float(info.objective_function_value)
    extra = {"reported_objective_shift": shift} if abs(shift) > 1e-6 * max(1.0, abs(objective)) else {}
    if is_mip:
        bound = _finite(float(info.mip_dual_bound))
        if bound is not None:
            bound += shift if extra else 0.0
            bound = max(bound, objective) if builder.maximize else min(bound, objective)
        rel_gap = relative_gap(objective, bound)
    else:
        bound, rel_gap = objective, 0.0
    return MilpSolution(status, objective, bound, rel_gap, values, seconds, stopped, name, nodes, extra)


def relative_gap(objective: float | None, bound: float | None) -> float | None:
    """|objective - bound| / max(|objective|, 1e-9), as HiGHS reports mip_gap; 0 when both are 0."""
    if objective is None or bound is None:
        return None
    diff = abs(objective - bound)
    if diff <= 1e-9:
        return 0.0
    return diff / max(abs(objective), 1e-9)


def _finite(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) and abs(value) < 1e29 else None
