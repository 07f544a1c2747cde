"""Stable identity: conditional keys repeat across messages, and the store applies the Bundles idempotently."""
from __future__ import annotations

import copy

import pytest

from adapters.hl7v2 import map_message, parse_message
from tests.hl7v2.builders import RECEIVED, adt, oru, pid, run
from tests.hl7v2.samples import relative, supported_samples

BASE = "http://tessera.test/fhir"


def keyed(result) -> list[tuple[str, str, str | None, str]]:
    """(method, url, ifNoneExist, fullUrl) of every keyed entry (the Provenance is per message)."""
    return [(e["request"]["method"], e["request"]["url"], e["request"].get("ifNoneExist"), e["fullUrl"])
            for e in result.bundle["entry"] if e["resource"]["resourceType"] != "Provenance"]


def test_the_same_a01_twice_gives_identical_keys():
    first, second = run(adt("A01", "C1"), "1"), run(adt("A01", "C1"), "2")
    assert keyed(first) == keyed(second)
    assert first.bundle["entry"][-1]["fullUrl"] != second.bundle["entry"][-1]["fullUrl"]  # one Provenance each


def test_an_a08_with_a_changed_name_updates_the_same_patient_and_encounter():
    admit = {e["resource"]["resourceType"]: e for e in run(adt("A01", "C1")).bundle["entry"]}
    changed = run(adt("A08", "C2", pid=pid(name="Roe^Janet")))
    update = {e["resource"]["resourceType"]: e for e in changed.bundle["entry"]}
    for kind in ("Patient", "Encounter"):
        assert admit[kind]["request"] == update[kind]["request"] and admit[kind]["fullUrl"] == update[kind]["fullUrl"]
    assert update["Patient"]["resource"]["name"][0]["family"] == "Roe"


def test_the_same_oru_twice_gives_the_same_observation_keys():
    obx = ["OBX|1|NM|1^A^L||1||||||F", "OBX|2|NM|2^B^L||2||||||F"]
    first, second = run(oru(obx, "C7")), run(oru(obx, "C8"))  # a resend with a new control id
    observations = [k for k in keyed(first) if k[1].startswith("Observation")]
    assert len(observations) == 2 and observations == [k for k in keyed(second) if k[1].startswith("Observation")]


@pytest.mark.parametrize("path", supported_samples(), ids=[relative(p) for p in supported_samples()])
def test_sample_keys_are_deterministic(path):
    raw = path.read_bytes()
    assert keyed(map_message(parse_message(raw), raw_message_id="1", received_at=RECEIVED)) == \
        keyed(map_message(parse_message(raw), raw_message_id="2", received_at=RECEIVED))


# -- through the real store (SQLite; PostgreSQL too when configured) -------------------------------------

def apply(container, text: str, raw_id: str = "1") -> dict:
    bundle = copy.deepcopy(run(text, raw_id).bundle)
    return container.bundles.process(bundle, base_url=BASE)


def search(container, resource_type: str, *params: tuple[str, str]) -> list[dict]:
    bundle = container.search.search(resource_type, list(params), base_url=BASE)
    return [e["resource"] for e in bundle.get("entry", []) if e.get("search", {}).get("mode", "match") == "match"]


def test_an_a08_before_its_a01_creates_then_updates_one_patient_and_encounter(container):
    apply(container, adt("A08", "C2", pid=pid(name="Early^Eve")))
    apply(container, adt("A01", "C1", pid=pid(name="Later^Lou")))
    patients = search(container, "Patient")
    assert len(patients) == 1 and patients[0]["name"][0]["family"] == "Later"
    encounters = search(container, "Encounter")
    assert len(encounters) == 1 and encounters[0]["status"] == "in-progress"
    assert len(search(container, "Provenance")) == 2


def test_results_never_overwrite_the_adt_patient_and_resends_update_in_place(container):
    obx = ["OBX|1|NM|1^A^L||1||||||F", "OBX|2|NM|2^B^L||2||||||F"]
    apply(container, oru(obx, "R1"))  # results first: the patient is created from the ORU's PID
    apply(container, adt("A01", "C1", pid=pid(name="Adt^Name")))
    apply(container, oru(obx, "R2"))
    apply(container, oru(["OBX|1|NM|1^A^L||9||||||C", "OBX|2|NM|2^B^L||2||||||F"], "R3"))
    patients = search(container, "Patient")
    assert len(patients) == 1 and patients[0]["name"][0]["family"] == "Adt"
    observations = search(container, "Observation")
    assert len(observations) == 2
    corrected = [o for o in observations if o["status"] == "corrected"]
    assert corrected and corrected[0]["valueQuantity"]["value"] == 9
    assert len(search(container, "DiagnosticReport")) == 1 and len(search(container, "ServiceRequest")) == 1


def test_every_sample_bundle_applies_to_the_store_twice(container):
    for path in supported_samples():
        message = parse_message(path.read_bytes())
        for attempt in range(2):
            bundle = map_message(message, raw_message_id=f"{path.name}-{attempt}", received_at=RECEIVED).bundle
            response = container.bundles.process(copy.deepcopy(bundle), base_url=BASE)
            assert len(response["entry"]) == len(bundle["entry"]), relative(path)
    counts = {kind: len(search(container, kind, ("_count", "1000"))) for kind in ("Patient", "Observation")}
    assert counts["Patient"] >= 10 and counts["Observation"] >= 50
