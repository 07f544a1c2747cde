"""One table of scopes x interactions x institutions with the expected answer, on both store backends."""
from __future__ import annotations

import pytest

# (scope, interaction, whose data, expected status)
#   whose: "own" = the caller's institution created the Patient; "other" = another institution did.
#   Cross-institution reads follow consent (default opt-out: shared); writes to another's data answer 404.
MATRIX = [
    ("system/*.cruds", "read", "own", 200), ("system/*.cruds", "read", "other", 200),
    ("system/*.cruds", "search", "own", 200), ("system/*.cruds", "create", "own", 201),
    ("system/*.cruds", "update", "own", 200), ("system/*.cruds", "update", "other", 404),
    ("system/*.cruds", "delete", "own", 204), ("system/*.cruds", "delete", "other", 404),
    ("system/*.cruds", "history", "own", 200),
    ("user/Patient.rs", "read", "own", 200), ("user/Patient.rs", "search", "own", 200),
    ("user/Patient.rs", "create", "own", 403), ("user/Patient.rs", "update", "own", 403),
    ("user/Patient.rs", "delete", "own", 403), ("user/Patient.rs", "history", "own", 200),
    ("user/Patient.r", "search", "own", 403), ("user/Patient.s", "read", "own", 403),
    ("user/Observation.rs", "read", "own", 403), ("user/Observation.rs", "search", "own", 403),
    ("user/Patient.cu", "create", "own", 201), ("user/Patient.cu", "update", "own", 200),
    ("user/Patient.cu", "delete", "own", 403), ("user/Patient.cu", "read", "own", 403),
    ("user/Patient.read", "read", "own", 200), ("user/Patient.read", "search", "own", 200),
    ("user/Patient.read", "create", "own", 403), ("user/Patient.write", "update", "own", 200),
    ("user/*.d", "delete", "own", 204), ("user/*.d", "read", "own", 403),
    ("patient/*.rs", "read", "own", 200),  # patient context = that patient
    ("openid launch", "read", "own", 403), ("", "search", "own", 403),
]


def _act(client, headers, interaction: str, pid: str):
    body = {"resourceType": "Patient", "id": pid, "name": [{"family": "Matrix"}]}
    if interaction == "read":
        return client.get(f"/fhir/Patient/{pid}", headers=headers)
    if interaction == "search":
        return client.get("/fhir/Patient", params={"_id": pid}, headers=headers)
    if interaction == "create":
        return client.post("/fhir/Patient", json={k: v for k, v in body.items() if k != "id"}, headers=headers)
    if interaction == "update":
        return client.put(f"/fhir/Patient/{pid}", json=body, headers=headers)
    if interaction == "delete":
        return client.delete(f"/fhir/Patient/{pid}", headers=headers)
    return client.get(f"/fhir/Patient/{pid}/_history", headers=headers)


@pytest.mark.parametrize("scope, interaction, whose, expected", MATRIX,
                         ids=[f"{s or 'no-scope'}-{i}-{w}" for s, i, w, _ in MATRIX])
def test_scope_matrix(app_client, as_client, scope, interaction, whose, expected):
    owner = "hospital-a" if whose == "own" else "hospital-b"
    created = app_client.post("/fhir/Patient", json={"resourceType": "Patient", "name": [{"family": "Matrix"}]},
                              headers=as_client(owner))
    assert created.status_code == 201
    pid = created.json()["id"]
    patient = pid if scope.startswith("patient/") else None
    response = _act(app_client, as_client("hospital-a", scope, patient=patient), interaction, pid)
    assert response.status_code == expected, response.text
    if expected == 403:
        assert "missing scope" in response.json()["issue"][0]["diagnostics"].lower() or \
            "scope" in response.text
