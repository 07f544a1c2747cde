"""The scheduling problem as JSON: rooms with types, procedures with duration, value and time window."""
from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from engine.allocation.schema import Problem, ProblemModel, duplicate_ids, path_of


class Room(ProblemModel):
    """A room (theatre, scanner, cath lab) available over the whole horizon."""

    id: str = Field(min_length=1)
    types: list[str] = Field(min_length=1, description="Room types this room provides (procedures need one).")


class Procedure(ProblemModel):
    """A procedure to schedule; it occupies one room for `duration` minutes, uninterrupted."""

    id: str = Field(min_length=1)
    duration: int = Field(gt=0, description="Minutes.")
    value: float = Field(1.0, gt=0, description="Priority / value gained when scheduled.")
    earliest_start: int = Field(ge=0, description="Minute the procedure can start at the earliest.")
    latest_end: int = Field(ge=0, description="Minute by which it must be finished.")
    room_type: str = Field(min_length=1, description="Room type required.")


class Horizon(ProblemModel):
    """Planning horizon in minutes."""

    start: int = Field(0, ge=0)
    end: int = Field(gt=0)


class SchedulingProblem(Problem):
    """Choose procedures, rooms and start times without overlaps in a room, maximising scheduled value.

    starts = "fixed": a procedure can only run at [earliest_start, earliest_start + duration) (if that
    ends by latest_end) - classic weighted interval scheduling; one room per procedure type is solved
    exactly by dynamic programming in O(n log n), several rooms by an interval MILP.
    starts = "flexible": any start on the grid horizon.start + k * slot_minutes (plus earliest_start
    itself) inside the window; time-indexed MILP.
    """

    horizon: Horizon
    rooms: list[Room] = Field(default_factory=list)
    procedures: list[Procedure] = Field(default_factory=list)
    starts: Literal["fixed", "flexible"] = Field("fixed", description="Fixed (earliest) or flexible starts.")
    slot_minutes: int = Field(15, ge=1, description="Grid of flexible start times.")
    method: Literal["auto", "dp", "milp"] = Field(
        "auto", description="auto: dynamic programming when starts are fixed and every procedure fits at "
                            "most one room, MILP otherwise; dp / milp force one (dp needs those "
                            "conditions).")

    def cross_check(self) -> list[tuple[str, str]]:
        """Windows inside the horizon and not inverted; duplicate ids; dp only where it is exact."""
        issues = duplicate_ids(self.rooms, "rooms") + duplicate_ids(self.procedures, "procedures")
        h = self.horizon
        if h.end <= h.start:
            issues.append((path_of(("horizon", "end")), "the horizon must end after it starts"))
        for i, proc in enumerate(self.procedures):
            if proc.earliest_start < h.start:
                issues.append((path_of(("procedures", i, "earliest_start")),
                               f"{proc.earliest_start} is before the horizon start {h.start}"))
            if proc.latest_end > h.end:
                issues.append((path_of(("procedures", i, "latest_end")),
                               f"{proc.latest_end} is after the horizon end {h.end}"))
            if proc.latest_end < proc.earliest_start:
                issues.append((path_of(("procedures", i, "latest_end")), "ends before its earliest start"))
        if self.method == "dp":
            if self.starts != "fixed":
                issues.append((path_of(("method",)),
                               "dynamic programming solves the fixed-start variant only"))
            for i, proc in enumerate(self.procedures):
                if len(self.rooms_for(proc)) > 1:
                    issues.append((path_of(("method",)), f"dynamic programming needs at most one room per "
                                                        f"procedure; procedures[{i}] fits several"))
                    break
        return issues

    def rooms_for(self, proc: Procedure) -> list[Room]:
        """Rooms providing the procedure's room type."""
        return [r for r in self.rooms if proc.room_type in r.types]

    def fits_window(self, proc: Procedure) -> bool:
        """True when the procedure fits between its earliest start and latest end."""
        return proc.earliest_start + proc.duration <= proc.latest_end

    def use_dp(self) -> bool:
        """Whether the solve uses dynamic programming."""
        if self.method != "auto":
            return self.method == "dp"
        return self.starts == "fixed" and all(len(self.rooms_for(p)) <= 1 for p in self.procedures)

    def candidate_starts(self, proc: Procedure) -> list[int]:
        """Start times the solver may use for a procedure (empty when it cannot fit)."""
        if not self.fits_window(proc):
            return []
        if self.starts == "fixed":
            return [proc.earliest_start]
        last = proc.latest_end - proc.duration
        step, origin = self.slot_minutes, self.horizon.start
        first_grid = origin + -(-(proc.earliest_start - origin) // step) * step
        return sorted({proc.earliest_start, *range(first_grid, last + 1, step)})

    @classmethod
    def example(cls) -> dict[str, Any]:
        """Two theatres (one general, one general + orthopaedic) and six procedures over one day."""
        return {
            "horizon": {"start": 480, "end": 1080},
            "rooms": [{"id": "OR1", "types": ["general"]}, {"id": "OR2", "types": ["general", "ortho"]}],
            "procedures": [
                {"id": "P1", "duration": 120, "value": 5, "earliest_start": 480, "latest_end": 720,
                 "room_type": "general"},
                {"id": "P2", "duration": 90, "value": 3, "earliest_start": 540, "latest_end": 900,
                 "room_type": "general"},
                {"id": "P3", "duration": 180, "value": 8, "earliest_start": 480, "latest_end": 1080,
                 "room_type": "ortho"},
                {"id": "P4", "duration": 60, "value": 2, "earliest_start": 600, "latest_end": 780,
                 "room_type": "general"},
                {"id": "P5", "duration": 240, "value": 6, "earliest_start": 720, "latest_end": 1080,
                 "room_type": "ortho"},
                {"id": "P6", "duration": 45, "value": 1, "earliest_start": 900, "latest_end": 1000,
                 "room_type": "cardiac"},
            ],
            "starts": "flexible",
        }
