"""Scheduling: DP = MILP = brute force (hypothesis), multi-room and flexible starts, checker, rendering."""
from __future__ import annotations

import itertools

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.allocation import AllocationInputError, check_plan, generate, render_plan, solve
from engine.allocation.scheduling.model import maximal_cliques
from engine.allocation.scheduling.wis import weighted_interval_scheduling

HORIZON = 120


def sched(procs, rooms=(("OR1", ("gen",)),), starts="fixed", method="auto"):
    return {"horizon": {"start": 0, "end": HORIZON}, "rooms": [{"id": r, "types": list(t)} for r, t in rooms],
            "procedures": procs, "starts": starts, "method": method, "slot_minutes": 5}


procedure = st.builds(
    lambda i, e, d, slack, v, t: {"id": f"P{i}", "earliest_start": e, "duration": d, "value": v,
                                  "room_type": t, "latest_end": min(HORIZON, max(e, e + d + slack))},
    st.integers(0, 0), st.integers(0, 90), st.integers(1, 30), st.integers(-10, 15),
    st.sampled_from([1.0, 2.0, 3.0, 5.0, 0.5]), st.sampled_from(["gen"]))


def proc(pid, duration, value, earliest, latest, room_type="gen"):
    return {"id": pid, "duration": duration, "value": value, "earliest_start": earliest, "latest_end": latest,
            "room_type": room_type}


def with_ids(procs):
    return [{**p, "id": f"P{i}"} for i, p in enumerate(procs)]


def brute_force_one_room(procs):
    fits = [p for p in procs if p["earliest_start"] + p["duration"] <= p["latest_end"]]
    best = 0.0
    for k in range(len(fits) + 1):
        for subset in itertools.combinations(fits, k):
            spans = sorted((p["earliest_start"], p["earliest_start"] + p["duration"]) for p in subset)
            if all(a[1] <= b[0] for a, b in zip(spans, spans[1:])):
                best = max(best, sum(p["value"] for p in subset))
    return best


def test_weighted_interval_scheduling_hand_case():
    # a[0,3)2 b[1,5)4 c[4,6)4 d[3,9)7 e[6,8)2 f[8,10)3: a+d = 9, b+e+f = 9, a+c+e+f = 11 (the optimum)
    intervals = [(0, 3, 2.0), (1, 5, 4.0), (4, 6, 4.0), (3, 9, 7.0), (6, 8, 2.0), (8, 10, 3.0)]
    assert weighted_interval_scheduling(intervals) == (11.0, [0, 2, 4, 5])


def test_touching_intervals_are_compatible_and_empty_input_is_zero():
    assert weighted_interval_scheduling([(0, 5, 1.0), (5, 10, 1.0)]) == (2.0, [0, 1])
    assert weighted_interval_scheduling([]) == (0.0, [])


@settings(max_examples=60, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(procedure, min_size=0, max_size=10))
def test_dp_equals_milp_equals_brute_force_single_room(procs):
    procs = with_ids(procs)
    dp = solve("scheduling", sched(procs, method="dp"), gap=0.0)
    milp = solve("scheduling", sched(procs, method="milp"), gap=0.0)
    assert dp.method == "dp" and milp.method == "milp"
    best = brute_force_one_room(procs)
    assert dp.objective == pytest.approx(best)
    assert milp.objective == pytest.approx(best)
    for result in (dp, milp):
        assert check_plan("scheduling", sched(procs), result.plan) == []


@settings(max_examples=25, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(procedure, min_size=10, max_size=60))
def test_dp_equals_milp_on_larger_single_room_instances(procs):
    procs = with_ids(procs)
    dp = solve("scheduling", sched(procs, method="dp"), gap=0.0)
    milp = solve("scheduling", sched(procs, method="milp"), gap=0.0)
    assert dp.objective == pytest.approx(milp.objective)


def brute_force_rooms(procs, rooms):
    """Each procedure to no room or one compatible room at its fixed start; best value without overlaps."""
    options = [[None] + [r for r, types in rooms if p["room_type"] in types
                         and p["earliest_start"] + p["duration"] <= p["latest_end"]] for p in procs]
    best = 0.0
    for combo in itertools.product(*options):
        ok = True
        for room, _ in rooms:
            spans = sorted((p["earliest_start"], p["earliest_start"] + p["duration"])
                           for p, c in zip(procs, combo) if c == room)
            ok &= all(a[1] <= b[0] for a, b in zip(spans, spans[1:]))
        if ok:
            best = max(best, sum(p["value"] for p, c in zip(procs, combo) if c is not None))
    return best


@settings(max_examples=30, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(procedure.map(lambda p: p), min_size=1, max_size=7), st.randoms(use_true_random=False))
def test_multi_room_milp_equals_brute_force(procs, rnd):
    rooms = (("OR1", ("gen",)), ("OR2", ("gen", "ortho")), ("OR3", ("ortho",)))
    procs = [{**p, "room_type": rnd.choice(["gen", "ortho"])} for p in with_ids(procs)]
    result = solve("scheduling", sched(procs, rooms=rooms), gap=0.0)
    assert result.method == "milp"
    assert result.objective == pytest.approx(brute_force_rooms(procs, rooms))
    assert check_plan("scheduling", sched(procs, rooms=rooms), result.plan) == []


@settings(max_examples=25, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(procedure, min_size=1, max_size=12))
def test_flexible_starts_never_do_worse_than_fixed(procs):
    procs = with_ids(procs)
    rooms = (("OR1", ("gen",)), ("OR2", ("gen",)))
    fixed = solve("scheduling", sched(procs, rooms=rooms), gap=0.0)
    flexible = solve("scheduling", sched(procs, rooms=rooms, starts="flexible"), gap=0.0)
    assert flexible.objective >= fixed.objective - 1e-9
    assert check_plan("scheduling", sched(procs, rooms=rooms, starts="flexible"), flexible.plan) == []


def test_flexible_start_fits_a_procedure_fixed_starts_cannot():
    procs = [proc("A", 60, 5, 0, 60),
             proc("B", 30, 3, 30, 120)]
    assert solve("scheduling", sched(procs)).objective == 5
    flexible = solve("scheduling", sched(procs, starts="flexible"))
    assert flexible.objective == 8
    assert {s["procedure"]: s["start"] for s in flexible.plan["schedule"]}["B"] >= 60


def test_maximal_cliques_of_intervals():
    assert maximal_cliques([(0, 10), (5, 15), (10, 20), (12, 13)]) == [[0, 1], [1, 2, 3]]
    assert maximal_cliques([]) == []


def test_unscheduled_reasons_and_render_timeline():
    procs = [proc("A", 60, 5, 0, 60),
             proc("B", 30, 1, 30, 90),
             proc("C", 30, 1, 0, 20),
             proc("D", 30, 1, 0, 30, "mri")]
    p = sched(procs)
    result = solve("scheduling", p)
    reasons = {s["procedure"]: s["reason"] for s in result.explanation["shortfalls"]}
    assert reasons == {"B": "rooms of this type are busy over its window (fixed start)",
                       "C": "window shorter than the duration", "D": "no room of type mri"}
    assert result.explanation["fairness"]["utilisation_by_room"] == {"OR1": 0.5}
    text = render_plan("scheduling", p, result)
    assert "Room OR1 [gen]" in text and "00:00-01:00  A" in text and "UNSCHEDULED C" in text


def test_checker_reports_overlaps_and_windows():
    procs = [proc("A", 60, 5, 0, 60),
             proc("B", 30, 1, 30, 90)]
    plan = {"schedule": [{"procedure": "A", "room": "OR1", "start": 0, "end": 60},
                         {"procedure": "B", "room": "OR1", "start": 40, "end": 70}], "unscheduled": []}
    text = "\n".join(check_plan("scheduling", sched(procs), plan))
    assert "overlaps" in text and "must start at its earliest start 30" in text


def test_dp_handles_two_thousand_procedures_fast():
    problem = generate("scheduling", 2000, seed=3, rooms=1)
    result = solve("scheduling", problem)
    assert result.method == "dp" and result.status == "optimal"
    assert result.solve_seconds < 1.0
    assert check_plan("scheduling", problem, result.plan) == []


def test_validation_errors_name_paths():
    procs = [proc("A", -5, 5, 0, 60),
             proc("B", 30, 1, 30, 900)]
    with pytest.raises(AllocationInputError) as err:
        solve("scheduling", sched(procs))
    assert err.value.paths == ["problem.procedures[0].duration"]
    procs[0]["duration"] = 5
    with pytest.raises(AllocationInputError) as err:
        solve("scheduling", sched(procs))
    assert err.value.paths == ["problem.procedures[1].latest_end"]
    rooms = (("OR1", ("gen",)), ("OR2", ("gen",)))
    with pytest.raises(AllocationInputError) as err:
        solve("scheduling", sched(procs[:1], rooms=rooms, method="dp"))
    assert err.value.paths == ["problem.method"]
