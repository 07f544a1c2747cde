"""Beds: hand-made optima, brute force, single-sex bays, fairness bound, infeasibility, rendering."""
from __future__ import annotations

import itertools
import random

import pytest

from engine.allocation import AllocationInputError, check_plan, render_plan, solve


def beds_problem(beds, requests, *, bays=(), wards=None, delta=None, institutions=("H1", "H2"), weights=None):
    wards = wards or [{"id": "MED", "institution": "H1", "type": "medical"}]
    return {"institutions": [{"id": i} for i in institutions], "wards": wards, "bays": list(bays),
            "beds": beds, "requests": requests, "rules": {"region_fairness_delta": delta},
            "weights": weights or {}}


def req(rid, sex="female", urgency=3, **extra):
    return {"id": rid, "sex": sex, "ward_type": "medical", "urgency": urgency, **extra}


def solved(p):
    result = solve("beds", p, time_limit_s=20, gap=0.0)
    assert check_plan("beds", p, result.plan) == []
    return result


def test_flexible_bay_takes_the_sex_that_leaves_the_least_waiting():
    # One flexible bay of two beds. Female urgency 5 (waiting 1600) + female urgency 1 (100) beat the
    # male urgency 4 (800): the bay becomes female and the man waits; objective 800.
    p = beds_problem([{"id": "B1", "ward": "MED", "bay": "A"}, {"id": "B2", "ward": "MED", "bay": "A"}],
                     [req("F5", urgency=5), req("M4", "male", urgency=4), req("F1", urgency=1)],
                     bays=[{"id": "A", "ward": "MED"}])
    result = solved(p)
    assert result.objective == pytest.approx(800)
    assert result.plan["unplaced"] == ["M4"]
    assert {a["request"] for a in result.plan["placements"]} == {"F5", "F1"}
    assert result.explanation["shortfalls"][0]["reason"] == "all compatible beds are taken"


def test_transfers_cost_and_isolation_rules():
    wards = [{"id": "MED1", "institution": "H1", "type": "medical"},
             {"id": "MED2", "institution": "H2", "type": "medical"}]
    beds = [{"id": "S1", "ward": "MED1", "isolation": True}, {"id": "B2", "ward": "MED2"}]
    requests = [req("ISO", isolation=True, preferred_institution="H2"),
                req("PLAIN", preferred_institution="H1")]
    result = solved(beds_problem(beds, requests, wards=wards))
    placed = {a["request"]: a["bed"] for a in result.plan["placements"]}
    assert placed == {"ISO": "S1", "PLAIN": "B2"}
    assert result.objective == pytest.approx(2 * 30)  # two transfers, nobody waits
    assert result.explanation["summary"]["transfers"] == 2


def test_region_bound_levels_down_and_a_looser_bound_does_not():
    beds = [{"id": f"B{i}", "ward": "MED"} for i in range(3)]
    requests = [req("A1", region="a"), req("A2", region="a"), req("B1", region="b"), req("B2", region="b")]
    tight = solved(beds_problem(beds, requests, delta=0.1))
    # three placed would give rates 1 and 1/2 against an overall 3/4: 1/2 < 3/4 - 0.1
    assert len(tight.plan["placements"]) == 2
    rates = tight.explanation["fairness"]["by_region"]
    assert rates["a"]["placed"] == rates["b"]["placed"] == 1
    loose = solved(beds_problem(beds, requests, delta=0.3))
    assert len(loose.plan["placements"]) == 3
    assert loose.explanation["fairness"]["min_rate"] == 0.5
    assert loose.explanation["fairness"]["max_min_ratio"] == 0.5


def test_requests_no_bed_could_take_do_not_count_against_their_region():
    beds = [{"id": "B1", "ward": "MED"}]
    requests = [req("A1", region="a"), {**req("B1", region="b"), "ward_type": "surgical"}]
    result = solved(beds_problem(beds, requests, delta=0.0))
    assert [a["request"] for a in result.plan["placements"]] == ["A1"]
    assert result.explanation["shortfalls"][0]["reason"].startswith("no free bed")


def test_must_place_that_cannot_be_met_is_infeasible_and_named():
    beds = [{"id": "S1", "ward": "MED", "isolation": True}]
    requests = [req("X", isolation=True, must_place=True), req("Y", isolation=True, must_place=True),
                req("Z", must_place=False)]
    p = beds_problem(beds, requests)
    result = solve("beds", p)
    assert result.status == "infeasible"
    conflict = result.explanation["conflicting_requirements"]
    assert len(conflict) == 1 and conflict[0]["family"] == "must_place"
    assert conflict[0]["request"] in {"X", "Y"}
    assert result.plan["placements"] == [] and len(result.plan["unplaced"]) == 3
    assert "must_place[" in render_plan("beds", p, result)


def _rate(members, placed):
    return sum(r["id"] in placed for r in members) / len(members)


def _brute_force(p):
    """Minimum objective over every assignment of requests to beds that the rules (written here) allow."""
    ward = {w["id"]: w for w in p["wards"]}
    bay_sex = {b["id"]: b.get("sex", "flexible") for b in p["bays"]}
    w8 = {"waiting": 100.0, "transfer": 30.0, "isolation_bed_use": 5.0}
    delta = p["rules"]["region_fairness_delta"]
    beds, requests = p["beds"], p["requests"]

    def fits(r, b):
        if ward[b["ward"]]["type"] != r["ward_type"] or (r.get("isolation") and not b.get("isolation")):
            return False
        sex = bay_sex.get(b.get("bay"))
        return sex not in ("female", "male") or sex == r["sex"]

    placeable = [r for r in requests if any(fits(r, b) for b in beds)]
    best = None
    for combo in itertools.product([None, *range(len(beds))], repeat=len(requests)):
        used = [c for c in combo if c is not None]
        if len(used) != len(set(used)):
            continue
        if any(c is not None and not fits(r, beds[c]) for r, c in zip(requests, combo)):
            continue
        sexes = {}
        for r, c in zip(requests, combo):
            if c is not None and beds[c].get("bay") and bay_sex[beds[c]["bay"]] == "flexible":
                sexes.setdefault(beds[c]["bay"], set()).add(r["sex"])
        if any(len(s) > 1 for s in sexes.values()):
            continue
        placed = {r["id"] for r, c in zip(requests, combo) if c is not None}
        if delta is not None and placeable:
            overall = sum(r["id"] in placed for r in placeable) / len(placeable)
            regions = {r["region"] for r in placeable}
            rates = {g: _rate([r for r in placeable if r["region"] == g], placed) for g in regions}
            if len(regions) > 1 and any(rate < overall - delta - 1e-9 for rate in rates.values()):
                continue
        value = 0.0
        for r, c in zip(requests, combo):
            if c is None:
                value += w8["waiting"] * 2 ** (r["urgency"] - 1)
                continue
            if r.get("preferred_institution") not in (None, ward[beds[c]["ward"]]["institution"]):
                value += w8["transfer"]
            if beds[c].get("isolation") and not r.get("isolation"):
                value += w8["isolation_bed_use"]
        best = value if best is None or value < best else best
    return best


@pytest.mark.parametrize("seed", range(8))
def test_milp_matches_brute_force_on_tiny_random_instances(seed):
    rng = random.Random(seed)
    wards = [{"id": "M1", "institution": "H1", "type": "medical"},
             {"id": "M2", "institution": "H2", "type": "medical"},
             {"id": "S1", "institution": "H1", "type": "surgical"}]
    bays = [{"id": "BA", "ward": "M1", "sex": "flexible"},
            {"id": "BB", "ward": "M2", "sex": rng.choice(["female", "mixed", "flexible"])}]
    beds = [{"id": "a1", "ward": "M1", "bay": "BA"}, {"id": "a2", "ward": "M1", "bay": "BA"},
            {"id": "b1", "ward": "M2", "bay": "BB"}, {"id": "s1", "ward": "S1", "isolation": True},
            {"id": "m1", "ward": "M1", "isolation": rng.random() < 0.5}]
    requests = [{"id": f"R{i}", "sex": rng.choice(["female", "male"]),
                 "ward_type": rng.choice(["medical", "medical", "surgical"]),
                 "isolation": rng.random() < 0.2, "preferred_institution": rng.choice(["H1", "H2", None]),
                 "region": rng.choice(["n", "s"]), "urgency": rng.randint(1, 5)} for i in range(5)]
    p = beds_problem(beds, requests, bays=bays, wards=wards, delta=rng.choice([None, 0.0, 0.2]))
    result = solved(p)
    assert result.status == "optimal"
    assert result.objective == pytest.approx(_brute_force(p))


def test_checker_reports_each_broken_rule():
    p = beds_problem([{"id": "B1", "ward": "MED", "bay": "A"}, {"id": "B2", "ward": "MED", "bay": "A"},
                      {"id": "B3", "ward": "MED", "bay": "F"}],
                     [req("W1"), req("M1", "male"), req("I1", isolation=True), req("Q", must_place=True)],
                     bays=[{"id": "A", "ward": "MED"}, {"id": "F", "ward": "MED", "sex": "female"}])
    plan = {"placements": [{"request": "W1", "bed": "B1", "ward": "MED", "institution": "H1"},
                           {"request": "M1", "bed": "B2", "ward": "MED", "institution": "H1"},
                           {"request": "I1", "bed": "B3", "ward": "MED", "institution": "H1"},
                           {"request": "W1", "bed": "B3", "ward": "MED", "institution": "H1"}],
            "unplaced": ["Q"]}
    text = "\n".join(check_plan("beds", p, plan))
    for fragment in ("bay A mixes sexes", "I1 needs isolation", "request W1 placed 2 times",
                     "bed B3 used 2 times", "request Q must be placed"):
        assert fragment in text, fragment


def test_render_lists_placements_and_waiting():
    p = beds_problem([{"id": "B1", "ward": "MED"}], [req("R1", urgency=5), req("R2", urgency=1)])
    text = render_plan("beds", p, solved(p))
    assert "ward MED [medical]: 1/1 free beds used" in text
    assert "B1" in text and "<- R1" in text
    assert "UNPLACED R2" in text


def test_validation_errors_name_paths():
    p = beds_problem([{"id": "B1", "ward": "NOPE"}, {"id": "B1", "ward": "MED", "bay": "ZZ"}],
                     [req("R1", urgency=9), req("R2", preferred_institution="H9")])
    with pytest.raises(AllocationInputError) as err:
        solve("beds", p)
    assert err.value.paths == ["problem.requests[0].urgency"]
    p["requests"][0]["urgency"] = 2
    with pytest.raises(AllocationInputError) as err:
        solve("beds", p)
    assert set(err.value.paths) == {"problem.beds[0].id", "problem.beds[1].id", "problem.beds[0].ward",
                                    "problem.beds[1].bay", "problem.requests[1].preferred_institution"}
