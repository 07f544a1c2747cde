"""Errors of the allocation engine: malformed input and solver failures (never business infeasibility)."""
from __future__ import annotations

from engine.errors import InvalidRequest, Issue, TesseraError


class AllocationInputError(InvalidRequest):
    """The problem is malformed; `fields` lists (path, message) pairs.

    Paths look like 'problem.staff[3].contracted_hours'.

    `issues` carries the same findings as engine `Issue`s (expression = path) so adapters can answer
    with an OperationOutcome like any other `InvalidRequest`.
    """

    def __init__(self, issues: list[tuple[str, str]]):
        self.fields = [(str(path), str(message)) for path, message in issues]
        summary = "; ".join(f"{path}: {message}" for path, message in self.fields[:5])
        more = f" (and {len(self.fields) - 5} more)" if len(self.fields) > 5 else ""
        super().__init__(f"Invalid allocation problem: {summary}{more}",
                         issues=[Issue("invalid", message, path) for path, message in self.fields])

    @property
    def paths(self) -> list[str]:
        """The paths of every bad field, in the order found."""
        return [path for path, _ in self.fields]


class AllocationSolverError(TesseraError):
    """The solver failed for a technical reason (not because the requirements conflict)."""

    issue_code = "exception"
    status = 500
