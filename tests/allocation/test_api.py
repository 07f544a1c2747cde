"""The public API: kinds, schemas, examples, results as JSON, generators, validation paths."""
from __future__ import annotations

import json

import pytest

import engine.allocation as allocation
from engine.allocation import KINDS, AllocationInputError, AllocationResult
from engine.allocation.elastic import minimum_relaxation
from engine.allocation.highs import MilpBuilder
from engine.allocation.highs import solve as solve_milp
from engine.errors import InvalidRequest


@pytest.mark.parametrize("kind", KINDS)
def test_schema_example_solve_check_render(kind):
    schema = allocation.problem_schema(kind)
    assert schema["type"] == "object" and schema["properties"]
    example = allocation.problem_example(kind)
    json.dumps(example)
    result = allocation.solve(kind, example, time_limit_s=20)
    assert isinstance(result, AllocationResult)
    assert result.status == "optimal"
    assert result.objective is not None and result.bound is not None and result.gap is not None
    assert allocation.check_plan(kind, example, result.plan) == []
    as_dict = result.to_dict()
    assert json.loads(json.dumps(as_dict))["status"] == "optimal"
    assert {"slack", "fairness", "shortfalls"} <= set(result.explanation)
    text = allocation.render_plan(kind, example, result)
    assert isinstance(text, str) and "status optimal" in text
    assert allocation.render_plan(kind, example, as_dict) == text


def test_schema_fields_have_descriptions():
    schema = allocation.problem_schema("staffing")
    staff = schema["$defs"]["Staff"]["properties"]
    assert "description" in staff["contracted_hours"] and "description" in staff["senior"]


@pytest.mark.parametrize("kind", KINDS)
def test_generate_is_reproducible_and_valid(kind):
    a = allocation.generate(kind, 30, seed=4)
    assert a == allocation.generate(kind, 30, seed=4)
    assert a != allocation.generate(kind, 30, seed=5)
    allocation.check_plan(kind, a, {})  # validates


def test_unknown_kind_and_bad_limits_are_input_errors():
    with pytest.raises(AllocationInputError) as err:
        allocation.solve("rostering", {})
    assert err.value.paths == ["kind"]
    with pytest.raises(AllocationInputError) as err:
        allocation.solve("beds", allocation.problem_example("beds"), time_limit_s=0, gap=2)
    assert err.value.paths == ["time_limit_s", "gap"]


def test_input_error_is_an_engine_invalid_request_with_located_issues():
    with pytest.raises(AllocationInputError) as err:
        allocation.solve("scheduling", [1, 2])
    exc = err.value
    assert isinstance(exc, InvalidRequest) and exc.status == 400
    assert exc.fields == [("problem", "the problem must be a JSON object")]
    assert exc.issues[0].expression == "problem"


def test_derive_demand_is_exported_under_both_names():
    census = [{"ward": "A", "day": 0, "shift": "early", "patients": 9}]
    ratios = [{"patients_per_nurse": 4}]
    assert allocation.derive_demand(census, ratios) == allocation.census_demand(census, ratios) == [
        {"ward": "A", "day": 0, "shift": "early", "required": 3}]


def test_elastic_relaxation_finds_the_minimum_number_of_requirements():
    # x + y <= 1 (hard); x >= 1, y >= 1, x + y >= 2 (three requirements): dropping y>=1 and x+y>=2, or
    # x>=1 and x+y>=2, needs two; no single requirement can go alone.
    b = MilpBuilder()
    x, y = b.binary(), b.binary()
    b.row([x, y], 1.0, upper=1.0, family="hard")
    for key, idx in (("need_x", [x]), ("need_y", [y]), ("need_both", [x, y])):
        b.requirement(key, "demo", key)
        b.row(idx, 1.0, lower=float(len(idx)), family="demo", requirement=key)
    assert solve_milp(b, time_limit_s=5, gap=0).status == "infeasible"
    relaxation = minimum_relaxation(b, time_limit_s=5)
    names = {r["requirement"] for r in relaxation.requirements}
    assert relaxation.proven and len(names) == 2 and "need_both" in names


def test_benchmark_smoke_run_reports_every_section():
    from engine.allocation.bench import run_benchmark

    report = run_benchmark(scale=0.04, time_limit_s=20)
    for section in ("staffing", "beds", "scheduling_dp", "scheduling_milp"):
        row = report[section]
        assert row["status"] in ("optimal", "feasible"), section
        assert row["check_violations"] == 0, section
        assert row["variables"] > 0 and row["solve_seconds"] >= 0 and "fairness" in row
    assert report["scheduling_dp"]["milp_cross_check"]["same_optimum"]
