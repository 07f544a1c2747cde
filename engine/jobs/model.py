"""The job record and its lifecycle."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

QUEUED, RUNNING, SUCCEEDED, INFEASIBLE, FAILED, CANCELLED = (
    "queued", "running", "succeeded", "infeasible", "failed", "cancelled")
TERMINAL = frozenset({SUCCEEDED, INFEASIBLE, FAILED, CANCELLED})


@dataclass
class Job:
    """An allocation job: the problem, how to solve it, and (when done) the result."""

    id: str
    kind: str
    status: str
    institution: str | None
    client_id: str | None
    created_us: int
    updated_us: int
    problem: dict[str, Any]
    options: dict[str, Any]
    result: dict[str, Any] | None = None
    error: str | None = None
    attempts: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The job as the API shows it."""
        body: dict[str, Any] = {"id": self.id, "kind": self.kind, "status": self.status,
                                "created": self.created_us, "updated": self.updated_us,
                                "options": self.options, "attempts": self.attempts}
        if self.result is not None:
            body["result"] = self.result
        if self.error:
            body["error"] = self.error
        return body
