"""Allocation jobs through the API (inline runner), on SQLite and PostgreSQL."""
from __future__ import annotations

import time

import pytest

from engine import allocation
from tests.feeds import messages
from tests.integration.conftest import token_for


def _wait(api, job_id: str, timeout: float = 60) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = api.get(f"/api/allocation-jobs/{job_id}").json()
        if job["status"] not in ("queued", "running"):
            return job
        time.sleep(0.1)
    raise AssertionError(f"job {job_id} did not finish")


@pytest.mark.parametrize("kind", allocation.KINDS)
def test_each_kind_runs_and_returns_a_feasible_explained_plan(api, kind):
    problem = allocation.problem_example(kind)
    response = api.post("/api/allocation-jobs", json={"kind": kind, "problem": problem,
                                                     "options": {"time_limit_s": 20, "gap": 0.01}})
    assert response.status_code == 202, response.text
    job = _wait(api, response.json()["id"])
    assert job["status"] == "succeeded", job
    result = job["result"]
    assert {"objective", "bound", "gap", "explanation", "plan"} <= set(result)
    assert allocation.check_plan(kind, problem, result["plan"]) == []


def test_a_malformed_problem_is_422_naming_each_bad_field(api):
    problem = allocation.problem_example("staffing")
    problem["horizon"]["days"] = -3
    problem["staff"][0]["contracted_hours"] = "many"
    response = api.post("/api/allocation-jobs", json={"kind": "staffing", "problem": problem})
    assert response.status_code == 422
    paths = {e for issue in response.json()["issue"] for e in issue.get("expression", [])}
    assert "problem.horizon.days" in paths and "problem.staff[0].contracted_hours" in paths
    assert api.post("/api/allocation-jobs", json={"kind": "teleport", "problem": {}}).status_code == 422


def test_an_infeasible_request_is_a_result_not_an_error(api):
    problem = allocation.problem_example("staffing")
    for person in problem["staff"]:
        person["senior"] = False
    job = _wait(api, api.post("/api/allocation-jobs", json={"kind": "staffing", "problem": problem}).json()["id"])
    assert job["status"] == "infeasible"
    assert job["result"]["explanation"]["conflicting_requirements"]


def test_jobs_need_the_allocation_scope_and_stay_within_the_institution(api, container):
    job_id = api.post("/api/allocation-jobs", json={"kind": "beds",
                                                    "problem": allocation.problem_example("beds")}).json()["id"]
    _wait(api, job_id)
    reader = {"Authorization": f"Bearer {token_for(container, scope='user/*.rs')}"}
    assert api.get(f"/api/allocation-jobs/{job_id}", headers=reader).status_code == 403
    other = {"Authorization": f"Bearer {token_for(container, institution='elsewhere')}"}
    assert api.get(f"/api/allocation-jobs/{job_id}", headers=other).status_code == 404
    assert [j["id"] for j in api.get("/api/allocation-jobs").json()["items"]] == [job_id]
    assert api.get("/api/allocation-jobs", headers=other).json()["items"] == []
    cancelled = api.delete(f"/api/allocation-jobs/{job_id}").json()
    assert cancelled["status"] == "succeeded"  # a finished job stays finished


def test_census_from_the_store_uses_in_progress_inpatient_encounters(api, container):
    for index in range(3):
        outcome = container.feeds.receive(messages.adt("A01", f"CEN{index}", mrn=f"CEN{index}",
                                                       visit=f"VCEN{index}").encode())
        assert outcome.ack_code == "AA", outcome.issues
    problem = allocation.problem_example("staffing")
    problem.pop("demand", None)
    problem["census"] = "from-store"
    problem["ratios"] = [{"patients_per_nurse": 1}]
    problem["wards"] = [{"id": "ICU"}]
    for person in problem["staff"]:
        person.pop("wards", None)
    response = api.post("/api/allocation-jobs", json={"kind": "staffing", "problem": problem})
    assert response.status_code == 202, response.text
    job = _wait(api, response.json()["id"])
    assert job["status"] in ("succeeded", "infeasible"), job
    used = job["result"]["explanation"]["data_used"]
    assert used["current_occupancy"] == {"ICU": 3}


def test_the_openapi_document_carries_schemas_and_a_working_example_per_kind(api):
    document = api.get("/openapi.json").json()
    body = document["paths"]["/api/allocation-jobs"]["post"]["requestBody"]["content"]["application/json"]
    assert set(body["examples"]) == set(allocation.KINDS)
    for kind in allocation.KINDS:
        assert f"{kind.capitalize()}Problem" in document["components"]["schemas"]
        example = body["examples"][kind]["value"]
        assert api.post("/api/allocation-jobs", json=example).status_code == 202
