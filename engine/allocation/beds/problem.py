"""The bed-placement problem as JSON: institutions, wards, bays, free beds, admission requests, rules."""
from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, PrivateAttr

from engine.allocation.schema import Problem, ProblemModel, duplicate_ids, path_of

Sex = Literal["female", "male"]


class Institution(ProblemModel):
    """A hospital."""

    id: str = Field(min_length=1)
    name: str | None = None


class Ward(ProblemModel):
    """A ward of an institution; `type` is what requests ask for (medical, surgical, icu, ...)."""

    id: str = Field(min_length=1)
    institution: str = Field(description="Institution id.")
    type: str = Field(min_length=1, description="Ward type matched against request.ward_type.")
    name: str | None = None


class Bay(ProblemModel):
    """A multi-bed bay; single-sex accommodation rules apply per bay."""

    id: str = Field(min_length=1)
    ward: str = Field(description="Ward id.")
    sex: Literal["female", "male", "mixed", "flexible"] = Field(
        "flexible", description="female/male: fixed single-sex bay; flexible: single-sex, the plan decides "
                                "which; mixed: no restriction (e.g. critical care).")


class Bed(ProblemModel):
    """A bed that is free for the planning period."""

    id: str = Field(min_length=1)
    ward: str = Field(description="Ward id.")
    bay: str | None = Field(None, description="Bay id; omitted for side rooms.")
    isolation: bool = Field(False, description="Can isolate (side room with isolation facilities).")


class Request(ProblemModel):
    """A patient waiting for a bed."""

    id: str = Field(min_length=1)
    sex: Sex
    ward_type: str = Field(min_length=1, description="Type of ward needed.")
    isolation: bool = Field(False, description="Needs an isolation bed.")
    preferred_institution: str | None = Field(None, description="Where the patient should be (home "
                                                                "hospital); elsewhere counts as a transfer.")
    region: str = Field("default", description="Referring region, for the fairness bound.")
    urgency: int = Field(3, ge=1, le=5,
                         description="1 (routine) to 5 (emergency); waiting costs 2^(urgency-1).")
    must_place: bool = Field(False, description="Hard requirement: this request must get a bed.")


class Rules(ProblemModel):
    """Hard rules of placement."""

    region_fairness_delta: float | None = Field(
        0.1, ge=0, le=1, description="Every region's placement rate must be at least the overall rate minus "
                                     "this; null disables the bound.")
    isolation_beds_for_others: bool = Field(
        True, description="Isolation beds may take patients who do not need isolation (at "
                          "weights.isolation_bed_use).")


class Weights(ProblemModel):
    """Objective weights."""

    waiting: float = Field(100.0, ge=0, description="Cost of leaving an urgency-1 request unplaced (doubles "
                                                    "per urgency level).")
    transfer: float = Field(30.0, ge=0,
                            description="Cost of a placement away from the preferred institution.")
    isolation_bed_use: float = Field(
        5.0, ge=0, description="Cost of using an isolation bed for a patient who does not need one.")


class BedsProblem(Problem):
    """Admission requests to free beds (type, isolation, single-sex bays); fewest transfers, least waiting."""

    institutions: list[Institution] = Field(min_length=1)
    wards: list[Ward] = Field(default_factory=list)
    bays: list[Bay] = Field(default_factory=list)
    beds: list[Bed] = Field(default_factory=list)
    requests: list[Request] = Field(default_factory=list)
    rules: Rules = Field(default_factory=Rules)
    weights: Weights = Field(default_factory=Weights)
    _ward_by_id: dict[str, Ward] = PrivateAttr(default_factory=dict)
    _bay_by_id: dict[str, Bay] = PrivateAttr(default_factory=dict)

    def model_post_init(self, context: Any) -> None:
        """Index wards and bays by id."""
        self._ward_by_id = {w.id: w for w in self.wards}
        self._bay_by_id = {b.id: b for b in self.bays}

    def cross_check(self) -> list[tuple[str, str]]:
        """Unknown institution/ward/bay ids, bays of another ward, duplicates."""
        issues = (duplicate_ids(self.institutions, "institutions") + duplicate_ids(self.wards, "wards")
                  + duplicate_ids(self.bays, "bays") + duplicate_ids(self.beds, "beds")
                  + duplicate_ids(self.requests, "requests"))
        institutions = {i.id for i in self.institutions}
        wards = {w.id for w in self.wards}
        bays = {b.id: b for b in self.bays}
        for i, w in enumerate(self.wards):
            if w.institution not in institutions:
                issues.append((path_of(("wards", i, "institution")),
                               f"unknown institution {w.institution!r}"))
        for i, b in enumerate(self.bays):
            if b.ward not in wards:
                issues.append((path_of(("bays", i, "ward")), f"unknown ward {b.ward!r}"))
        for i, b in enumerate(self.beds):
            if b.ward not in wards:
                issues.append((path_of(("beds", i, "ward")), f"unknown ward {b.ward!r}"))
            if b.bay is not None:
                if b.bay not in bays:
                    issues.append((path_of(("beds", i, "bay")), f"unknown bay {b.bay!r}"))
                elif bays[b.bay].ward != b.ward:
                    issues.append((path_of(("beds", i, "bay")), f"bay {b.bay!r} belongs to ward "
                                                                f"{bays[b.bay].ward!r}, not {b.ward!r}"))
        for i, r in enumerate(self.requests):
            if r.preferred_institution is not None and r.preferred_institution not in institutions:
                issues.append((path_of(("requests", i, "preferred_institution")),
                               f"unknown institution {r.preferred_institution!r}"))
        return issues

    def compatible(self, request: Request, bed: Bed) -> bool:
        """Ward type, isolation and fixed-sex bay rules (flexible bays are decided by the plan)."""
        ward = self.ward(bed.ward)
        if ward.type != request.ward_type:
            return False
        if request.isolation and not bed.isolation:
            return False
        if bed.isolation and not request.isolation and not self.rules.isolation_beds_for_others:
            return False
        if bed.bay is not None:
            sex = self.bay(bed.bay).sex
            if sex in ("female", "male") and sex != request.sex:
                return False
        return True

    def ward(self, ward_id: str) -> Ward:
        """The ward with that id."""
        return self._ward_by_id[ward_id]

    def bay(self, bay_id: str) -> Bay:
        """The bay with that id."""
        return self._bay_by_id[bay_id]

    def waiting_cost(self, request: Request) -> float:
        """Cost of leaving the request unplaced."""
        return self.weights.waiting * 2 ** (request.urgency - 1)

    @classmethod
    def example(cls) -> dict[str, Any]:
        """Two hospitals, three wards, eight free beds, seven requests from two regions."""
        return {
            "institutions": [{"id": "H1", "name": "City General"}, {"id": "H2", "name": "County"}],
            "wards": [{"id": "H1-MED", "institution": "H1", "type": "medical"},
                      {"id": "H1-SUR", "institution": "H1", "type": "surgical"},
                      {"id": "H2-MED", "institution": "H2", "type": "medical"}],
            "bays": [{"id": "H1-MED-A", "ward": "H1-MED"},
                     {"id": "H1-SUR-A", "ward": "H1-SUR", "sex": "female"},
                     {"id": "H2-MED-A", "ward": "H2-MED"}],
            "beds": [{"id": "H1-MED-A1", "ward": "H1-MED", "bay": "H1-MED-A"},
                     {"id": "H1-MED-A2", "ward": "H1-MED", "bay": "H1-MED-A"},
                     {"id": "H1-MED-SR1", "ward": "H1-MED", "isolation": True},
                     {"id": "H1-SUR-A1", "ward": "H1-SUR", "bay": "H1-SUR-A"},
                     {"id": "H1-SUR-A2", "ward": "H1-SUR", "bay": "H1-SUR-A"},
                     {"id": "H2-MED-A1", "ward": "H2-MED", "bay": "H2-MED-A"},
                     {"id": "H2-MED-A2", "ward": "H2-MED", "bay": "H2-MED-A"},
                     {"id": "H2-MED-A3", "ward": "H2-MED", "bay": "H2-MED-A"}],
            "requests": [
                {"id": "R1", "sex": "female", "ward_type": "medical", "preferred_institution": "H1",
                 "region": "north", "urgency": 4},
                {"id": "R2", "sex": "male", "ward_type": "medical", "preferred_institution": "H1",
                 "region": "north", "urgency": 2},
                {"id": "R3", "sex": "female", "ward_type": "medical", "isolation": True,
                 "preferred_institution": "H1", "region": "south", "urgency": 5, "must_place": True},
                {"id": "R4", "sex": "male", "ward_type": "surgical", "preferred_institution": "H1",
                 "region": "south", "urgency": 3},
                {"id": "R5", "sex": "female", "ward_type": "surgical", "preferred_institution": "H1",
                 "region": "north", "urgency": 3},
                {"id": "R6", "sex": "male", "ward_type": "medical", "preferred_institution": "H2",
                 "region": "south", "urgency": 1},
                {"id": "R7", "sex": "female", "ward_type": "medical", "preferred_institution": "H2",
                 "region": "south", "urgency": 2},
            ],
        }
