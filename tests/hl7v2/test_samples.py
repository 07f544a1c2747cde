"""Every supported sample message maps to a valid FHIR R4 transaction Bundle; the others are refused."""
from __future__ import annotations

import pytest

from adapters.hl7v2 import UnsupportedMessage, map_message, parse_message
from engine.fhir.validation import validate_resource
from tests.hl7v2.samples import all_samples, relative, supported_samples

RECEIVED = "2026-01-02T03:04:05Z"
SAMPLES = supported_samples()


def test_the_corpus_holds_every_supported_kind():
    kinds = {parse_message(path.read_bytes()).header.message_type for path in SAMPLES}
    assert {"ADT", "ORU", "VXU", "MDM", "SIU", "ORM", "OML"} <= kinds
    assert len(SAMPLES) >= 50


@pytest.mark.parametrize("path", SAMPLES, ids=[relative(p) for p in SAMPLES])
def test_sample_maps_to_a_valid_transaction_bundle(path):
    result = map_message(parse_message(path.read_bytes()), raw_message_id="7", received_at=RECEIVED)
    bundle = result.bundle
    assert bundle["resourceType"] == "Bundle" and bundle["type"] == "transaction"
    entries = bundle["entry"]
    if result.patient_deletions:  # a deletion (A29) only names the patient: it writes nothing of it
        assert entries == []
        return
    full_urls = {entry["fullUrl"] for entry in entries}
    assert len(full_urls) == len(entries), "one entry per resource"
    for entry in entries:
        resource, request = entry["resource"], entry["request"]
        assert request["method"] in ("PUT", "POST") and request["url"]
        assert entry["fullUrl"].startswith("urn:uuid:")
        validate_resource(resource)
        assert resource["meta"]["source"].startswith("urn:tessera:hl7v2:")
        if request["method"] == "PUT" or "ifNoneExist" in request:  # keyed: the key is one of its identifiers
            query = request["url"].partition("?")[2] or request["ifNoneExist"]
            assert query.startswith("identifier=") and resource.get("identifier")
        for reference in _references(resource):
            assert reference in full_urls, f"dangling reference {reference} in {resource['resourceType']}"
    provenance = [e for e in entries if e["resource"]["resourceType"] == "Provenance"]
    assert len(provenance) == 1 and provenance[0]["request"] == {"method": "POST", "url": "Provenance"}
    targets = {t["reference"] for t in provenance[0]["resource"]["target"]}
    assert targets == full_urls - {provenance[0]["fullUrl"]}


def _references(value):
    if isinstance(value, dict):
        if isinstance(value.get("reference"), str):
            yield value["reference"]
        for item in value.values():
            yield from _references(item)
    elif isinstance(value, list):
        for item in value:
            yield from _references(item)


UNSUPPORTED = [p for p in all_samples() if p not in SAMPLES]


@pytest.mark.parametrize("path", SAMPLES, ids=[relative(p) for p in SAMPLES])
def test_a_sample_with_an_unknown_trigger_is_refused(path):
    text = path.read_bytes().decode("utf-8", "replace")
    header = parse_message(path.read_bytes()).header
    renamed = text.replace(f"{header.message_type}^{header.trigger_event}", f"{header.message_type}^Z99", 1)
    with pytest.raises(UnsupportedMessage) as info:
        map_message(parse_message(renamed.encode()), raw_message_id="7", received_at=RECEIVED)
    assert info.value.code == "201" and "Z99" in info.value.reason


def test_every_sample_of_the_corpus_is_a_supported_message():
    assert [relative(p) for p in UNSUPPORTED] == []
