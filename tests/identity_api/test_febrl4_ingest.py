"""Febrl4 end to end: two institutions send their 5,000 Patients each through the FHIR API as transaction Bundles,
`tessera link --retrain` links them, and the golden records read back from the API are scored against the
5,000 true pairs.

The sending side maps each Febrl row to a Patient the way an interface would: rec_id stays with the test (the
MRN is a sequence number, so no identifier carries the answer), soc_sec_id becomes a national identifier, and a
birth date that is not a calendar date (64 rows of dataset4b) is left out, since FHIR cannot carry it. Each
file is one registry without duplicates of its own, which the link run is told
(`TESSERA_IDENTITY_MATCH_SETTINGS={"link_within_source": false}`), as `tests/identity/test_febrl4.py` does.
"""
from __future__ import annotations

import csv
import datetime
import subprocess
import time
from itertools import combinations
from pathlib import Path
from typing import Any

import orjson

from tests.e2e.conftest import cli_env, tessera_command
from tests.identity.test_febrl4 import febrl_folder, person_of
from tests.identity_api.conftest import FHIR_JSON, token_for

INSTITUTIONS = {"dataset4a.csv": "febrl-a", "dataset4b.csv": "febrl-b"}
NATIONAL_ID = "urn:febrl:soc_sec_id"
BUNDLE_SIZE = 500
PAGE = 1000
# The goal is under 30 s (measured 24-29 s on either backend); the test only catches a collapse (a shared
# machine can run 2x slower at times), the figure itself is what the printed line reports.
END_TO_END_BUDGET_S = 90
# Each Febrl file is a registry without duplicates of its own: the operator says so when training.
TWO_REGISTRIES = {"TESSERA_IDENTITY_MATCH_SETTINGS": '{"link_within_source": false}'}


def _birth_date(raw: str) -> str | None:
    try:
        return datetime.date(int(raw[:4]), int(raw[4:6]), int(raw[6:8])).isoformat() if len(raw) == 8 else None
    except ValueError:
        return None


def _patient(row: dict[str, str], institution: str, mrn: int) -> dict[str, Any]:
    body: dict[str, Any] = {"resourceType": "Patient",
                            "identifier": [{"system": f"urn:mrn:{institution}", "value": f"{mrn:06d}"}]}
    if row["soc_sec_id"]:
        body["identifier"].append({"system": NATIONAL_ID, "value": row["soc_sec_id"]})
    name = {k: v for k, v in (("family", row["surname"]), ("given", [row["given_name"]] if row["given_name"]
                                                                      else None)) if v}
    if name:
        body["name"] = [name]
    if birth := _birth_date(row["date_of_birth"]):
        body["birthDate"] = birth
    lines = [" ".join(p for p in (row["street_number"], row["address_1"]) if p), row["address_2"]]
    address = {k: v for k, v in (("line", [line for line in lines if line] or None), ("city", row["suburb"]),
                                 ("state", row["state"]), ("postalCode", row["postcode"])) if v}
    if address:
        body["address"] = [address]
    return body


def _institution_rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.reader(handle, skipinitialspace=True)
        header = [h.strip() for h in next(reader)]
        return [dict(zip(header, (v.strip() for v in row))) for row in reader]


def _send(api, container, institution: str, rows: list[dict[str, str]]) -> list[str]:
    """POST the institution's Patients as transaction Bundles; the created ids, in row order."""
    headers = {"Authorization": f"Bearer {token_for(container, institution=institution)}", **FHIR_JSON}
    ids: list[str] = []
    for start in range(0, len(rows), BUNDLE_SIZE):
        chunk = rows[start:start + BUNDLE_SIZE]
        bundle = {"resourceType": "Bundle", "type": "transaction",
                  "entry": [{"resource": _patient(row, institution, start + n),
                             "request": {"method": "POST", "url": "Patient"}} for n, row in enumerate(chunk)]}
        response = api.post("/fhir", content=orjson.dumps(bundle), headers=headers)
        assert response.status_code == 200, response.text[:500]
        entries = response.json()["entry"]
        statuses = [e["response"]["status"] for e in entries]
        assert all(s.startswith("201") for s in statuses), [s for s in statuses if not s.startswith("201")][:5]
        ids.extend(e["response"]["location"].split("/")[1] for e in entries)
    return ids


def _golden_groups(api) -> list[list[str]]:
    groups, url = [], f"/api/identity/golden-records?_count={PAGE}"
    while url:
        response = api.get(url)
        assert response.status_code == 200, response.text[:300]
        page = response.json()
        groups.extend([m.split("/", 1)[1] for m in item["members"]] for item in page["items"])
        url = page["next"]
    return groups


def test_febrl4_through_the_api_and_tessera_link(api, container, tmp_path):
    folder = febrl_folder()
    started = time.perf_counter()
    person: dict[str, str] = {}  # Patient id -> Febrl person number
    for file, institution in INSTITUTIONS.items():
        rows = _institution_rows(folder / file)
        assert len(rows) == 5000
        for patient_id, row in zip(_send(api, container, institution, rows), rows):
            person[patient_id] = person_of(row["rec_id"])
    loaded = time.perf_counter()

    linked = subprocess.run([tessera_command(), "link", "--retrain"], capture_output=True, text=True, timeout=300,
                            env=cli_env(tmp_path, container.settings.database_url, **TWO_REGISTRIES), cwd=tmp_path,
                            stdin=subprocess.DEVNULL)
    assert linked.returncode == 0, linked.stderr[-2000:]
    stats = orjson.loads(linked.stdout.strip().splitlines()[-1])
    seconds = time.perf_counter() - started

    groups = _golden_groups(api)
    members = [m for g in groups for m in g]
    assert sorted(members) == sorted(person), "every source Patient is in exactly one golden record"
    found = {frozenset(p) for g in groups for p in combinations(g, 2)}
    expected = _true_pairs(person)
    hits = len(found & expected)
    precision = hits / max(len(found), 1)
    recall = hits / len(expected)
    f1 = 2 * precision * recall / (precision + recall) if hits else 0.0
    print(f"\nFebrl4 via the API ({container.settings.database_url.split(':')[0]}): load {loaded - started:.1f} s, "
          f"tessera link --retrain {seconds - (loaded - started):.1f} s (its own count: {stats['seconds']} s, "
          f"{stats['pairs_scored']} pairs scored), end to end {seconds:.1f} s; precision {precision:.4f}, "
          f"recall {recall:.4f}, F1 {f1:.4f}")
    assert stats["records"] == 10000 and stats["trained"] is True
    assert len(expected) == 5000
    assert f1 >= 0.995, (precision, recall)
    assert seconds < END_TO_END_BUDGET_S, f"Febrl4 end to end took {seconds:.1f} s"


def _true_pairs(person: dict[str, str]) -> set[frozenset[str]]:
    by_person: dict[str, list[str]] = {}
    for patient_id, number in person.items():
        by_person.setdefault(number, []).append(patient_id)
    return {frozenset(p) for ids in by_person.values() for p in combinations(sorted(ids), 2)}
