"""Runs last: the whole session's server-side logs, at every level, name no patient from the test data."""
from __future__ import annotations

import json
import logging
import re

from tests.conftest import SESSION_LOGS, SHARED_DATA

# Names, identifiers and dates the tests write into the store.
TEST_VALUES = {"Nguyen", "Ångström", "Angstrom", "Baker", "Consenting", "Secretive", "OtherInstitution", "Audited",
               "Hijacked", "Everyman", "EVERYMAN", "MRN001", "PATID1234", "19800101", "1980-02-03"}


def _synthea_names() -> set[str]:
    names: set[str] = set()
    for path in (SHARED_DATA / "fhir-r4" / "synthea").rglob("*.json"):
        bundle = json.loads(path.read_text("utf-8"))
        for entry in bundle.get("entry", []):
            resource = entry.get("resource", {})
            if resource.get("resourceType") == "Patient":
                for name in resource.get("name", []):
                    if isinstance(name.get("family"), str) and len(name["family"]) > 4:
                        names.add(name["family"])
    return names


def test_the_collector_sees_debug_records_of_server_loggers():
    logging.getLogger("tessera.selfcheck").debug("collector probe %s", "7f3a")
    assert "tessera.selfcheck: collector probe 7f3a" in SESSION_LOGS.lines[-50:]  # threads may log meanwhile


def test_no_log_line_of_the_session_contains_patient_data():
    forbidden = TEST_VALUES | _synthea_names()
    pattern = re.compile("|".join(re.escape(value) for value in sorted(forbidden, key=len, reverse=True)))
    leaks = [line[:200] for line in SESSION_LOGS.lines if pattern.search(line)]
    assert not leaks, f"{len(leaks)} log lines name patient data, e.g. {leaks[:5]}"
