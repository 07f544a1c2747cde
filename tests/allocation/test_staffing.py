"""Staffing: hand-made optima, brute force, hard rules, infeasibility, degenerate inputs, rendering."""
from __future__ import annotations

import itertools
import random

import pytest

from engine.allocation import AllocationInputError, check_plan, derive_demand, generate, render_plan, solve

EARLY = {"id": "early", "start_hour": 7, "hours": 8}
LATE = {"id": "late", "start_hour": 15, "hours": 8}
NIGHT = {"id": "night", "start_hour": 23, "hours": 8, "undesirable": True}
NO_FAIRNESS = {"undesirable_fairness": 0, "hours_fairness": 0}


def person(pid, *, senior=False, hours=40, cost=20, **extra):
    return {"id": pid, "senior": senior, "contracted_hours": hours, "cost_per_hour": cost, **extra}


def problem(days, shifts, staff, demand, *, wards=("W",), rules=None, weights=None, start_weekday=0):
    return {"horizon": {"days": days, "start_weekday": start_weekday}, "shifts": shifts,
            "wards": [{"id": w} for w in wards], "staff": staff,
            "demand": [{"ward": w, "day": d, "shift": s, "required": n} for (w, d, s), n in demand.items()],
            "rules": rules or {}, "weights": {**NO_FAIRNESS, **(weights or {})}}


def solved(p, **kw):
    result = solve("staffing", p, time_limit_s=20, gap=0.0, **kw)
    assert check_plan("staffing", p, result.plan) == [], result.plan
    return result


def test_derive_demand_rounds_up_and_uses_the_most_specific_ratio():
    census = [{"ward": "A", "day": 0, "shift": "early", "patients": 16},
              {"ward": "A", "day": 0, "shift": "night", "patients": 16},
              {"ward": "B", "day": 0, "shift": "night", "patients": 17},
              {"ward": "B", "day": 1, "shift": "early", "patients": 0}]
    ratios = [{"patients_per_nurse": 8}, {"shift": "night", "patients_per_nurse": 10},
              {"ward": "A", "shift": "night", "patients_per_nurse": 4}]
    assert [d["required"] for d in derive_demand(census, ratios)] == [2, 4, 2, 0]


def test_hand_made_optimum_seniors_split_by_shift_type():
    # Two days x (early, night), one nurse each, each must be senior. Seniors A (30/h) and B (40/h)
    # must both work both days; night->early is forbidden, so one takes both earlies and the other
    # both nights: cost 2*8*30 + 2*8*40 = 1120. Junior C would only add cost.
    demand = {("W", d, s): 1 for d in range(2) for s in ("early", "night")}
    staff = [person("A", senior=True, cost=30), person("B", senior=True, cost=40), person("C", cost=10)]
    result = solved(problem(2, [EARLY, NIGHT], staff, demand))
    assert result.status == "optimal"
    assert result.objective == pytest.approx(1120)
    worked = {(a["staff"], a["day"]): a["shift"] for a in result.plan["assignments"]}
    assert worked[("A", 0)] == worked[("A", 1)] and worked[("B", 0)] == worked[("B", 1)]
    assert "C" not in {a["staff"] for a in result.plan["assignments"]}
    assert result.gap == 0 and result.bound == pytest.approx(1120)


def _asked(staff, kind, assignment):
    return any(u["day"] == assignment["day"] and u.get("shift") in (None, assignment["shift"])
               for u in staff.get(kind, []))


def _brute_force(p):
    """Minimum objective over every roster the independent checker accepts (no fairness terms)."""
    shifts = {s["id"]: s["hours"] for s in p["shifts"]}
    wards = [w["id"] for w in p["wards"]]
    req = {(d["ward"], d["day"], d["shift"]): d["required"] for d in p["demand"]}
    w8 = {"cost": 1.0, "understaffing": 10_000.0, "avoid_penalty": 100.0, "prefer_bonus": 20.0,
          **p["weights"]}
    per_day = [None] + [(s, w) for s in shifts for w in wards]
    best = None
    staff = p["staff"]
    for combo in itertools.product(per_day, repeat=len(staff) * p["horizon"]["days"]):
        plan = []
        for k, choice in enumerate(combo):
            if choice is not None:
                person_, day = staff[k // p["horizon"]["days"]], k % p["horizon"]["days"]
                plan.append({"staff": person_["id"], "day": day, "shift": choice[0], "ward": choice[1]})
        if req.keys() != {(a["ward"], a["day"], a["shift"]) for a in plan} | req.keys():
            continue  # assignments to ward shifts nobody asked for
        if check_plan("staffing", p, {"assignments": plan}):
            continue
        value = 0.0
        count = {}
        for a in plan:
            s = next(x for x in staff if x["id"] == a["staff"])
            value += w8["cost"] * s["cost_per_hour"] * shifts[a["shift"]]
            value += w8["avoid_penalty"] * _asked(s, "avoids", a)
            value -= w8["prefer_bonus"] * _asked(s, "prefers", a)
            count[(a["ward"], a["day"], a["shift"])] = count.get((a["ward"], a["day"], a["shift"]), 0) + 1
        value += w8["understaffing"] * sum(max(0, n - count.get(c, 0)) for c, n in req.items())
        best = value if best is None or value < best else best
    return best


@pytest.mark.parametrize("seed", range(6))
def test_milp_matches_brute_force_on_tiny_random_rosters(seed):
    rng = random.Random(seed)
    days = 2
    staff = []
    for i in range(3):
        s = person(f"S{i}", senior=i == 0 or rng.random() < 0.4, hours=rng.choice([8, 16]),
                   cost=rng.choice([20, 25, 30]))
        if rng.random() < 0.4:
            s["unavailable"] = [{"day": rng.randrange(days)}]
        if rng.random() < 0.4:
            s["avoids"] = [{"day": rng.randrange(days), "shift": rng.choice(["early", "night"])}]
        if rng.random() < 0.4:
            s["prefers"] = [{"day": rng.randrange(days), "shift": "early"}]
        staff.append(s)
    demand = {("W", d, s): rng.randint(0, 2) for d in range(days) for s in ("early", "night")}
    p = problem(days, [EARLY, NIGHT], staff, demand, rules={"senior_cover": "soft"},
                weights={"senior_shortfall": 0})
    result = solved(p)
    assert result.status == "optimal"
    assert result.objective == pytest.approx(_brute_force(p))


def test_more_seniors_needed_than_exist_is_infeasible_and_names_the_senior_rule():
    demand = {("W", 0, s): 1 for s in ("early", "late", "night")}
    p = problem(1, [EARLY, LATE, NIGHT], [person("Boss", senior=True), person("J1"), person("J2")], demand)
    result = solve("staffing", p, time_limit_s=20)
    assert result.status == "infeasible"
    assert result.plan == {"assignments": []}
    conflict = result.explanation["conflicting_requirements"]
    assert len(conflict) == 2  # the one senior covers one of the three shifts: two cannot be met
    assert {c["family"] for c in conflict} == {"senior_cover"}
    assert result.explanation["conflicting_families"] == ["senior_cover"]
    assert result.explanation["minimal"] is True
    assert all(c["ward"] == "W" and c["day"] == 0 for c in conflict)
    text = render_plan("staffing", p, result)
    assert "senior_cover[W/0/" in text


def test_no_staff_is_infeasible_with_hard_senior_cover_and_all_short_when_soft():
    demand = {("W", d, "early"): 2 for d in range(2)}
    hard = problem(2, [EARLY], [], demand)
    result = solve("staffing", hard)
    assert result.status == "infeasible"
    assert len(result.explanation["conflicting_requirements"]) == 2
    soft = problem(2, [EARLY], [], demand, rules={"senior_cover": "soft"})
    result = solved(soft)
    assert result.status == "optimal" and result.plan["assignments"] == []
    assert [s["shortfall"] for s in result.explanation["shortfalls"]] == [2, 2]
    assert result.explanation["summary"]["short_nurse_shifts"] == 4
    text = render_plan("staffing", soft, result)
    assert "SHORT ward W day 0 early: 0/2 nurses, short 2" in text


def test_zero_demand_gives_an_empty_optimal_roster():
    p = problem(3, [EARLY, NIGHT], [person("A", senior=True)], {("W", 0, "early"): 0})
    result = solved(p)
    assert result.status == "optimal" and result.plan["assignments"] == []
    assert result.objective == pytest.approx(0)
    assert result.explanation["shortfalls"] == []


def test_one_shift_and_max_consecutive_days_leave_a_reported_shortfall():
    # One senior, 7 days of one shift, at most 5 days in a row: one day off somewhere in days 1..5
    # (a day off at either end would leave a run of 6), so exactly one day stays short.
    demand = {("W", d, "early"): 1 for d in range(7)}
    p = problem(7, [EARLY], [person("A", senior=True, hours=56)], demand,
                rules={"max_consecutive_days": 5, "senior_cover": "soft"})
    result = solved(p)
    days = sorted(a["day"] for a in result.plan["assignments"])
    assert len(days) == 6
    off = ({*range(7)} - set(days)).pop()
    assert 1 <= off <= 5
    assert result.explanation["summary"]["short_nurse_shifts"] == 1
    assert result.explanation["shortfalls"][0]["day"] == off


def test_max_hours_and_availability_are_kept():
    demand = {("W", d, "early"): 1 for d in range(4)}
    staff = [person("A", senior=True, hours=16, unavailable=[{"day": 0}]),
             person("B", senior=True, hours=40, cost=50)]
    result = solved(problem(4, [EARLY], staff, demand))
    hours = {}
    for a in result.plan["assignments"]:
        hours[a["staff"]] = hours.get(a["staff"], 0) + 8
        assert not (a["staff"] == "A" and a["day"] == 0)
    assert hours["A"] == 16 and hours["B"] == 16


def test_skills_restrict_wards():
    staff = [person("ICU", senior=True, skills=["critical_care"]), person("GEN", senior=True)]
    p = problem(1, [EARLY], staff, {("ICU", 0, "early"): 1, ("GEN", 0, "early"): 1}, wards=("ICU", "GEN"))
    p["wards"][0]["required_skills"] = ["critical_care"]
    result = solved(p)
    assert {(a["staff"], a["ward"]) for a in result.plan["assignments"]} == {("ICU", "ICU"), ("GEN", "GEN")}


def test_undesirable_shifts_are_spread_evenly():
    # 4 days x (early, night), one nurse each; four equal nurses who can each work two shifts: every
    # nurse gets exactly one night with the fairness term on.
    demand = {("W", d, s): 1 for d in range(4) for s in ("early", "night")}
    staff = [person(f"N{i}", senior=True, hours=16) for i in range(4)]
    p = problem(4, [EARLY, NIGHT], staff, demand, weights={"undesirable_fairness": 50})
    p["horizon"]["start_weekday"] = 0  # Monday..Thursday: no weekend days
    result = solved(p)
    fairness = result.explanation["fairness"]["undesirable_shifts"]
    assert fairness["per_person"] == {"N0": 1, "N1": 1, "N2": 1, "N3": 1}
    assert fairness["spread"] == 0 and fairness["gini"] == 0
    assert result.explanation["fairness"]["coverage_ratio"]["overall"] == 1.0


def test_preferences_are_honoured_when_free():
    demand = {("W", 0, "early"): 1}
    staff = [person("A", senior=True, avoids=[{"day": 0}]),
             person("B", senior=True, prefers=[{"day": 0, "shift": "early"}]), person("C", senior=True)]
    result = solved(problem(1, [EARLY], staff, demand))
    assert [a["staff"] for a in result.plan["assignments"]] == ["B"]
    assert result.objective == pytest.approx(20 * 8 - 20)


def test_checker_reports_each_broken_rule():
    staff = [person("A", senior=True, hours=8, unavailable=[{"day": 1, "shift": "early"}]), person("B")]
    p = problem(2, [EARLY, NIGHT], staff,
                {("W", d, s): 1 for d in range(2) for s in ("early", "night")}, wards=("W", "X"))
    p["wards"][1]["required_skills"] = ["theatre"]
    plan = {"assignments": [
        {"staff": "A", "day": 0, "shift": "early", "ward": "W"},
        {"staff": "A", "day": 0, "shift": "night", "ward": "W"},
        {"staff": "A", "day": 1, "shift": "early", "ward": "W"},
        {"staff": "B", "day": 1, "shift": "night", "ward": "X"},
        {"staff": "Z", "day": 0, "shift": "early", "ward": "W"},
    ]}
    text = "\n".join(check_plan("staffing", p, plan))
    for fragment in ("A works 2 shifts on day 0", "A works early on day 1 right after night on day 0",
                     "A is unavailable on day 1 early", "above the maximum of 8 h",
                     "B lacks skills ['theatre']", "ward X needs nobody on day 1 night", "unknown staff",
                     "ward W day 1 night: 0 senior(s)"):
        assert fragment in text, fragment


def test_render_has_a_table_per_ward_and_shortfall_lines():
    demand = {("W1", d, s): 2 for d in range(2) for s in ("early", "late")}
    demand.update({("W2", d, "early"): 1 for d in range(2)})
    staff = [person("A", senior=True), person("B", senior=True), person("C")]
    p = problem(2, [EARLY, LATE], staff, demand, wards=("W1", "W2"), rules={"senior_cover": "soft"})
    result = solved(p)
    text = render_plan("staffing", p, result)
    assert "Ward W1" in text and "Ward W2" in text
    assert "day   early" in text and "late" in text
    assert "SHORT ward" in text


def test_validation_errors_name_every_bad_path():
    p = problem(14, [EARLY, NIGHT], [person(f"S{i}") for i in range(4)], {("W", 0, "early"): 1})
    p["staff"][3]["contracted_hours"] = -5
    p["staff"][1]["unavailable"] = [{"day": 3, "shift": "evening"}]
    p["demand"].append({"ward": "NOPE", "day": 20, "shift": "early", "required": 1})
    with pytest.raises(AllocationInputError) as err:
        solve("staffing", p)
    assert err.value.paths == ["problem.staff[3].contracted_hours"]  # field errors first
    p["staff"][3]["contracted_hours"] = 5
    with pytest.raises(AllocationInputError) as err:
        solve("staffing", p)
    assert set(err.value.paths) == {"problem.staff[1].unavailable[0].shift", "problem.demand[1].ward",
                                    "problem.demand[1].day"}
    assert "outside the horizon of 14 days" in str(err.value)


def test_unknown_fields_and_missing_demand_are_errors():
    p = problem(1, [EARLY], [person("A", contracted=3)], {("W", 0, "early"): 1})
    with pytest.raises(AllocationInputError) as err:
        solve("staffing", p)
    assert err.value.paths == ["problem.staff[0].contracted"]
    p = problem(1, [EARLY], [], {})
    del p["demand"]
    with pytest.raises(AllocationInputError) as err:
        solve("staffing", p)
    assert err.value.paths == ["problem.demand"]


def test_a_tiny_time_limit_still_answers_with_a_result_and_a_usable_plan():
    p = generate("staffing", 80, seed=2)
    result = solve("staffing", p, time_limit_s=0.05)
    assert result.status in ("feasible", "optimal", "time_limit")
    if result.status != "time_limit":  # the greedy warm start is a plan keeping every hard rule
        assert result.plan["assignments"] and check_plan("staffing", p, result.plan) == []
        assert result.bound is None or result.bound <= result.objective + 1e-6
