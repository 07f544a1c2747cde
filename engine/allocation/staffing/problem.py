"""The staffing problem as JSON: staff, wards, shifts over a horizon, demand (or census and ratios), rules."""
from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any, Literal

from pydantic import Field

from engine.allocation.schema import Problem, ProblemModel, duplicate_ids, path_of

DEFAULT_SUCCESSIONS = (("night", "early"),)


class Shift(ProblemModel):
    """One shift of the day."""

    id: str = Field(min_length=1, description="Shift id, e.g. 'early', 'late', 'night'.")
    start_hour: float = Field(0.0, ge=0, lt=24, description="Clock hour the shift starts (for display).")
    hours: float = Field(gt=0, le=24, description="Paid hours of the shift.")
    undesirable: bool = Field(False, description="Counts towards the fairness of undesirable shifts "
                                                 "(nights); weekend shifts always count.")


class Ward(ProblemModel):
    """A ward to staff."""

    id: str = Field(min_length=1, description="Ward id.")
    name: str | None = Field(None, description="Display name.")
    required_skills: list[str] = Field(default_factory=list,
                                       description="Skills every nurse working on the ward must have.")


class DayShift(ProblemModel):
    """A day of the horizon, optionally one shift of it (no shift = the whole day)."""

    day: int = Field(ge=0, description="Day index, 0 = first day of the horizon.")
    shift: str | None = Field(None, description="Shift id; omitted means every shift of the day.")


class Staff(ProblemModel):
    """A nurse who can be rostered."""

    id: str = Field(min_length=1, description="Staff id.")
    grade: str = Field("band5", description="Grade, informative.")
    senior: bool = Field(False, description="Can take charge of a ward shift (senior cover).")
    skills: list[str] = Field(default_factory=list, description="Skills held (checked against ward needs).")
    contracted_hours: float = Field(ge=0, description="Contracted hours over the whole horizon.")
    max_hours: float | None = Field(None, ge=0, description="Hours cap over the horizon; default contracted "
                                                           "hours times rules.max_hours_ratio.")
    cost_per_hour: float = Field(1.0, ge=0, description="Cost of one paid hour.")
    wards: list[str] | None = Field(None, description="Wards this person may work on (home ward / cluster); "
                                                      "default: every ward whose skills they hold.")
    unavailable: list[DayShift] = Field(default_factory=list, description="Leave, training, requests off.")
    prefers: list[DayShift] = Field(default_factory=list, description="Shifts the person asked to work.")
    avoids: list[DayShift] = Field(default_factory=list, description="Shifts the person asked not to work.")


class Demand(ProblemModel):
    """Nurses required on one ward for one shift of one day."""

    ward: str
    day: int = Field(ge=0)
    shift: str
    required: int = Field(ge=0, description="Nurses required (minimum cover).")


class Census(ProblemModel):
    """Patients expected on one ward for one shift of one day."""

    ward: str
    day: int = Field(ge=0)
    shift: str
    patients: int = Field(ge=0)


class Ratio(ProblemModel):
    """Nurse-to-patient ratio: one nurse per `patients_per_nurse` patients; the most specific entry wins."""

    ward: str | None = Field(None, description="Ward id; omitted = every ward.")
    shift: str | None = Field(None, description="Shift id; omitted = every shift.")
    patients_per_nurse: float = Field(gt=0)


class Horizon(ProblemModel):
    """The planning horizon."""

    days: int = Field(ge=1, le=366, description="Number of days planned.")
    start_weekday: int = Field(0, ge=0, le=6,
                               description="Weekday of day 0 (0 = Monday); Sat/Sun are weekend.")


class Rules(ProblemModel):
    """Hard rules (and how senior cover is treated)."""

    max_consecutive_days: int = Field(5, ge=1, description="Most working days in a row.")
    max_hours_ratio: float = Field(1.0, gt=0, description="Default hours cap = contracted hours times this.")
    seniors_per_shift: int = Field(1, ge=0, description="Seniors required on every ward shift with demand.")
    senior_cover: Literal["hard", "soft"] = Field(
        "hard", description="hard: a plan without senior cover is infeasible and the missing cover is "
                            "reported; soft: missing cover is allowed at weights.senior_shortfall each.")
    forbidden_successions: list[tuple[str, str]] | None = Field(
        None, description="Pairs (shift a, shift b): nobody works b the day after a. Default: "
                          "[('night', 'early')] when both shift ids exist.")


class Weights(ProblemModel):
    """Objective weights (all in cost units)."""

    cost: float = Field(1.0, ge=0, description="Multiplier of paid cost (cost_per_hour * hours).")
    understaffing: float = Field(10_000.0, ge=0, description="Per missing nurse on a ward shift.")
    senior_shortfall: float = Field(20_000.0, ge=0,
                                    description="Per missing senior (soft senior cover only).")
    undesirable_fairness: float = Field(
        50.0, ge=0, description="Per undesirable shift of absolute deviation from a person's "
                                "contract-proportional share.")
    hours_fairness: float = Field(2.0, ge=0, description="Per hour of absolute deviation from the "
                                                          "contract-proportional share of hours.")
    avoid_penalty: float = Field(100.0, ge=0, description="Per worked shift the person asked to avoid.")
    prefer_bonus: float = Field(20.0, ge=0, description="Per worked shift the person asked for.")


class StaffingProblem(Problem):
    """Roster staff to ward x shift over a horizon: demand cover, seniors, legal and contract rules."""

    horizon: Horizon
    shifts: list[Shift] = Field(min_length=1)
    wards: list[Ward] = Field(min_length=1)
    staff: list[Staff] = Field(default_factory=list)
    demand: list[Demand] | None = Field(None, description="Required nurses per ward/day/shift (missing = 0).")
    census: list[Census] | None = Field(None, description="Alternative to demand: patients per "
                                                          "ward/day/shift, turned into demand with `ratios`.")
    ratios: list[Ratio] | None = Field(None, description="Nurse-to-patient ratios used with `census`.")
    rules: Rules = Field(default_factory=Rules)
    weights: Weights = Field(default_factory=Weights)

    def cross_check(self) -> list[tuple[str, str]]:
        """Unknown ward/shift ids, days outside the horizon, duplicates, demand given twice or not at all."""
        issues = duplicate_ids(self.shifts, "shifts") + duplicate_ids(self.wards, "wards")
        issues += duplicate_ids(self.staff, "staff")
        wards = {w.id for w in self.wards}
        shifts = {s.id for s in self.shifts}
        days = self.horizon.days

        def day_shift(entries: Iterable[DayShift], *loc: Any) -> None:
            for i, e in enumerate(entries):
                if e.day >= days:
                    issues.append((path_of((*loc, i, "day")),
                                   f"day {e.day} is outside the horizon of {days} days"))
                if e.shift is not None and e.shift not in shifts:
                    issues.append((path_of((*loc, i, "shift")), f"unknown shift {e.shift!r}"))

        for i, person in enumerate(self.staff):
            for j, ward in enumerate(person.wards or []):
                if ward not in wards:
                    issues.append((path_of(("staff", i, "wards", j)), f"unknown ward {ward!r}"))
            for name in ("unavailable", "prefers", "avoids"):
                day_shift(getattr(person, name), "staff", i, name)
        if self.demand is not None and self.census is not None:
            issues.append((path_of(("demand",)), "give either demand or census with ratios, not both"))
        if self.census is not None and not self.ratios:
            issues.append((path_of(("ratios",)), "census needs nurse-to-patient ratios"))
        if self.demand is None and self.census is None:
            issues.append((path_of(("demand",)), "give demand, or census with ratios"))
        for name in ("demand", "census"):
            seen: set[tuple[str, int, str]] = set()
            for i, e in enumerate(getattr(self, name) or []):
                if e.ward not in wards:
                    issues.append((path_of((name, i, "ward")), f"unknown ward {e.ward!r}"))
                if e.shift not in shifts:
                    issues.append((path_of((name, i, "shift")), f"unknown shift {e.shift!r}"))
                if e.day >= days:
                    issues.append((path_of((name, i, "day")),
                                   f"day {e.day} is outside the horizon of {days} days"))
                if (e.ward, e.day, e.shift) in seen:
                    issues.append((path_of((name, i)), f"{e.ward}/{e.day}/{e.shift} given twice"))
                seen.add((e.ward, e.day, e.shift))
        for i, r in enumerate(self.ratios or []):
            if r.ward is not None and r.ward not in wards:
                issues.append((path_of(("ratios", i, "ward")), f"unknown ward {r.ward!r}"))
            if r.shift is not None and r.shift not in shifts:
                issues.append((path_of(("ratios", i, "shift")), f"unknown shift {r.shift!r}"))
        if self.census and self.ratios:
            keys = {(r.ward, r.shift) for r in self.ratios}
            for i, c in enumerate(self.census):
                specific = ((c.ward, c.shift), (c.ward, None), (None, c.shift), (None, None))
                if not any(k in keys for k in specific):
                    issues.append((path_of(("census", i)), f"no nurse-to-patient ratio for ward {c.ward!r} "
                                                            f"shift {c.shift!r}"))
        for i, pair in enumerate(self.rules.forbidden_successions or []):
            for j, shift in enumerate(pair):
                if shift not in shifts:
                    issues.append((path_of(("rules", "forbidden_successions", i, j)),
                                   f"unknown shift {shift!r}"))
        return issues

    def demand_table(self) -> dict[tuple[str, int, str], int]:
        """Required nurses per (ward, day, shift), from `demand` or derived from `census` and `ratios`."""
        if self.demand is not None:
            entries = [d.model_dump() for d in self.demand]
        else:
            entries = derive_demand([c.model_dump() for c in self.census or []],
                                    [r.model_dump() for r in self.ratios or []])
        return {(e["ward"], e["day"], e["shift"]): int(e["required"]) for e in entries if e["required"] > 0}

    def successions(self) -> list[tuple[str, str]]:
        """Forbidden (shift on day d, shift on day d+1) pairs in force."""
        if self.rules.forbidden_successions is not None:
            return [tuple(p) for p in self.rules.forbidden_successions]
        ids = {s.id for s in self.shifts}
        return [p for p in DEFAULT_SUCCESSIONS if p[0] in ids and p[1] in ids]

    def max_hours(self, person: Staff) -> float:
        """The hours cap of one person."""
        if person.max_hours is not None:
            return person.max_hours
        return person.contracted_hours * self.rules.max_hours_ratio

    def is_weekend(self, day: int) -> bool:
        """True for Saturdays and Sundays."""
        return (self.horizon.start_weekday + day) % 7 >= 5

    def allowed_wards(self, person: Staff) -> list[str]:
        """Wards a person may work on: listed (or all) wards whose required skills they hold."""
        skills = set(person.skills)
        allowed = set(person.wards) if person.wards is not None else None
        return [w.id for w in self.wards
                if (allowed is None or w.id in allowed) and set(w.required_skills) <= skills]

    @classmethod
    def example(cls) -> dict[str, Any]:
        """Two wards, three shifts, three days, ten nurses (six senior), demand from census and ratios."""
        shifts = [{"id": "early", "start_hour": 7, "hours": 8}, {"id": "late", "start_hour": 15, "hours": 8},
                  {"id": "night", "start_hour": 23, "hours": 8, "undesirable": True}]
        census = [{"ward": w, "day": d, "shift": s, "patients": p}
                  for w, p in (("W1", 14), ("W2", 6)) for d in range(3) for s in ("early", "late", "night")]
        staff = [{"id": f"N{i}", "grade": "band6" if i < 6 else "band5", "senior": i < 6,
                  "contracted_hours": 24, "cost_per_hour": 32 if i < 6 else 27} for i in range(10)]
        staff[7]["unavailable"] = [{"day": 1}]
        staff[8]["avoids"] = [{"day": 0, "shift": "night"}]
        staff[9]["prefers"] = [{"day": 2, "shift": "early"}]
        return {"horizon": {"days": 3, "start_weekday": 4}, "shifts": shifts,
                "wards": [{"id": "W1", "name": "Medical 1"}, {"id": "W2", "name": "Surgical 2"}],
                "staff": staff, "census": census,
                "ratios": [{"patients_per_nurse": 8},
                           {"ward": "W1", "shift": "night", "patients_per_nurse": 14}],
                "rules": {"max_consecutive_days": 3}}


def derive_demand(census: Iterable[Mapping[str, Any]],
                  ratios: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Required nurses = ceil(patients / patients_per_nurse), using the most specific ratio for each entry.

    `census` entries have ward, day, shift, patients; `ratios` entries have patients_per_nurse and
    optionally ward and/or shift (ward+shift beats ward beats shift beats the default).
    """
    table: dict[tuple[str | None, str | None], float] = {}
    for r in ratios:
        table[(r.get("ward"), r.get("shift"))] = float(r["patients_per_nurse"])
    out = []
    for c in census:
        ward, shift = c["ward"], c["shift"]
        for key in ((ward, shift), (ward, None), (None, shift), (None, None)):
            if key in table:
                ratio = table[key]
                break
        else:
            raise ValueError(f"no nurse-to-patient ratio for ward {ward!r} shift {shift!r}")
        patients = int(c["patients"])
        # guard float noise: 16 / 8 must be exactly 2
        required = math.ceil(patients / ratio - 1e-9) if patients > 0 else 0
        out.append({"ward": ward, "day": int(c["day"]), "shift": shift, "required": required})
    return out
