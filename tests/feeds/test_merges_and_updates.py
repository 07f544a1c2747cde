"""Feed updates on SQLite and PostgreSQL: merges that last, HL7 v2 "not sent" vs `""`, visits that stay closed."""
from __future__ import annotations

from engine.security.caller import SYSTEM
from tests.feeds.stored import _a40, _adt, _all, _by_mrn, _oru, _pid, _pv1, _read, _receive


def _links(patient: dict) -> set[tuple[str, str]]:
    return {(link["type"], link["other"]["reference"]) for link in patient.get("link", [])}


def _admitted_then_updated(container, admitted_pid: str, updated_pid: str) -> dict:
    """Patient MRN 111 after an A01 with one PID and an A08 with another."""
    _receive(container, _adt("A01", "1", admitted_pid, _pv1("V1")), _adt("A08", "2", updated_pid))
    [patient] = _by_mrn(container, "111")
    return patient


def _merged_pair(container) -> tuple[dict, dict]:
    _receive(container, _adt("A01", "1", _pid("111^^^GENHOSP^MR"), _pv1("V1")),
             _adt("A01", "2", _pid("222^^^GENHOSP^MR", name="Doe^Janet"), _pv1("V2")),
             _a40("3", "222", "111^^^GENHOSP^MR"))
    old = [p for p in _by_mrn(container, "111") if p.get("active") is False]
    [survivor] = [p for p in _by_mrn(container, "222")]
    assert len(old) == 1
    return old[0], survivor


def test_messages_for_a_merged_away_mrn_reach_the_survivor_and_the_merge_lasts(container):
    old, survivor = _merged_pair(container)
    _receive(container, _adt("A08", "4", _pid("111^^^GENHOSP^MR", name="Doe^Jane^Q"), _pv1("V3")),
             _oru("5", "111"))
    old_now = _read(container, f"Patient/{old['id']}")
    assert old_now["active"] is False and _links(old_now) == {("replaced-by", f"Patient/{survivor['id']}")}
    survivor_now = _read(container, f"Patient/{survivor['id']}")
    assert ("replaces", f"Patient/{old['id']}") in _links(survivor_now)
    assert {i["value"] for i in survivor_now["identifier"]} >= {"111", "222"}  # the old MRN now names it too
    [v3] = _all(container, "Encounter", identifier="V3")
    assert v3["subject"]["reference"] == f"Patient/{survivor['id']}"
    [result] = _all(container, "Observation", code="2345-7")
    assert result["subject"]["reference"] == f"Patient/{survivor['id']}"
    _receive(container, _adt("A08", "6", _pid("222^^^GENHOSP^MR", name="Doe^Janet^R")))
    assert ("replaces", f"Patient/{old['id']}") in _links(_read(container, f"Patient/{survivor['id']}"))


def test_a_second_merge_into_the_same_survivor_keeps_both_links(container):
    old, survivor = _merged_pair(container)
    _receive(container, _adt("A01", "7", _pid("333^^^GENHOSP^MR"), _pv1("V7")), _a40("8", "222", "333^^^GENHOSP^MR"))
    [third] = _by_mrn(container, "333")
    links = _links(_read(container, f"Patient/{survivor['id']}"))
    assert {("replaces", f"Patient/{old['id']}"), ("replaces", f"Patient/{third['id']}")} <= links


def test_a_thin_merge_message_keeps_what_the_survivor_had(container):
    _, survivor = _merged_pair(container)
    now = _read(container, f"Patient/{survivor['id']}")
    assert now["birthDate"] == "1980-01-01" and now["address"][0]["city"] == "Springfield"
    assert now["name"][0]["given"] == ["Jane"]  # what the merge message did say is taken


def test_a_field_sent_as_null_deletes_and_an_empty_one_keeps(container):
    _receive(container, _adt("A01", "1", _pid(), _pv1("V1")))
    _receive(container, _adt("A08", "2", _pid(address="", birth="")))
    [patient] = _by_mrn(container, "111")
    assert patient["address"][0]["city"] == "Springfield" and patient["birthDate"] == "1980-01-01"
    _receive(container, _adt("A08", "3", _pid(address='""', birth="")))
    [patient] = _by_mrn(container, "111")
    assert "address" not in patient and patient["birthDate"] == "1980-01-01"


def test_the_patient_key_does_not_depend_on_the_order_of_pid3(container):
    _receive(container, _adt("A01", "1", _pid("111^^^GENHOSP^MR"), _pv1("V1")),
             _adt("A08", "2", _pid("999^^^ENT^PI~111^^^GENHOSP^MR")),
             _adt("A08", "3", _pid("111^^^GENHOSP^MR~999^^^ENT^PI")))
    patients = _all(container, "Patient")
    assert len(patients) == 1
    assert {i["value"] for i in patients[0]["identifier"]} == {"111", "999"}


def test_a_closed_visit_stays_closed_until_a_cancelled_discharge(container):
    _receive(container, _adt("A01", "1", _pid(), _pv1("V1")),
             _adt("A03", "2", _pid(), _pv1("V1", discharged="20260105100000")),
             _adt("A01", "3", _pid(), _pv1("V1")),  # late
             _adt("A08", "4", _pid(), _pv1("V1", admitted="")))
    [visit] = _all(container, "Encounter", identifier="V1")
    assert visit["status"] == "finished"
    assert visit["period"]["start"].startswith("2026-01-01") and visit["period"]["end"].startswith("2026-01-05")
    _receive(container, _adt("A13", "5", _pid(), _pv1("V1")))
    [visit] = _all(container, "Encounter", identifier="V1")
    assert visit["status"] == "in-progress" and "end" not in visit["period"]


def test_merge_chains_keep_consistent_links_and_follow_to_the_last_survivor(container):
    for control, mrn, visit in (("1", "A", "VA"), ("2", "B", "VB"), ("3", "C", "VC")):
        _receive(container, _adt("A01", control, _pid(f"{mrn}^^^GENHOSP^MR"), _pv1(visit)))
    ids = {mrn: _by_mrn(container, mrn)[0]["id"] for mrn in "ABC"}
    _receive(container, _a40("4", "C", "B^^^GENHOSP^MR"), _a40("5", "B", "A^^^GENHOSP^MR"))
    a, b, c = (_read(container, f"Patient/{ids[m]}") for m in "ABC")
    assert _links(b) == {("replaced-by", f"Patient/{ids['C']}")} and b["active"] is False
    assert _links(a) == {("replaced-by", f"Patient/{ids['C']}")} and a["active"] is False
    assert _links(c) == {("replaces", f"Patient/{ids['B']}"), ("replaces", f"Patient/{ids['A']}")}
    [va] = _all(container, "Encounter", identifier="VA")
    assert va["subject"]["reference"] == f"Patient/{ids['C']}"


def test_a_merge_keeps_provenance_and_records_its_own(container):
    old, survivor = _merged_pair(container)
    provenances = _all(container, "Provenance")
    created_old = [p for p in provenances if any(t["reference"].startswith(f"Patient/{old['id']}")
                                                 for t in p["target"])]
    assert created_old, "the Provenance of the message that created the old patient still names it"
    merge_records = [p for p in provenances if p["activity"]["coding"][0]["code"] == "A40"]
    targets = {t["reference"].rsplit("/_history/", 1)[0] for p in merge_records for t in p["target"]}
    [v1] = _all(container, "Encounter", identifier="V1")
    assert {f"Patient/{old['id']}", f"Patient/{survivor['id']}", f"Encounter/{v1['id']}"} <= targets
    assert v1["meta"]["source"].endswith(":MPI:GENHOSP")
    assert _read(container, f"Patient/{old['id']}")["meta"]["source"].endswith(":MPI:GENHOSP")


def test_any_prior_identifier_of_mrg1_names_the_patient_to_merge(container):
    _receive(container, _adt("A01", "1", _pid("111^^^GENHOSP^MR"), _pv1("V1")),
             _adt("A01", "2", _pid("222^^^GENHOSP^MR"), _pv1("V2")),
             _a40("3", "222", "555^^^ENTERPRISE^PI~111^^^GENHOSP^MR"))
    [old] = [p for p in _by_mrn(container, "111") if p.get("active") is False]
    assert old["link"][0]["type"] == "replaced-by"


def test_absolute_and_versioned_references_move_too(container):
    _receive(container, _adt("A01", "1", _pid("111^^^GENHOSP^MR"), _pv1("V1")),
             _adt("A01", "2", _pid("222^^^GENHOSP^MR"), _pv1("V2")))
    [old] = _by_mrn(container, "111")
    created = []
    for reference in (f"http://elsewhere.example/fhir/Patient/{old['id']}", f"Patient/{old['id']}/_history/1"):
        body = {"resourceType": "Observation", "status": "final", "code": {"text": "weight"},
                "subject": {"reference": reference}}
        created.append(container.resources.create(body, caller=SYSTEM).stored.resource_id)
    _receive(container, _a40("3", "222", "111^^^GENHOSP^MR"))
    [survivor] = [p for p in _by_mrn(container, "222") if p.get("active") is not False]
    for resource_id in created:
        assert _read(container, f"Observation/{resource_id}")["subject"]["reference"] == f"Patient/{survivor['id']}"


def test_an_mrg1_identifier_the_survivor_shares_does_not_block_the_merge(container):
    _receive(container, _adt("A04", "1", _pid("111^^^GENHOSP^MR~999999999^^^SSA^SS"), _pv1("V1")),
             _adt("A04", "2", _pid("222^^^GENHOSP^MR~999999999^^^SSA^SS"), _pv1("V2")),
             _a40("3", "222", "111^^^GENHOSP^MR~999999999^^^SSA^SS"))
    [old] = [p for p in _by_mrn(container, "111") if p.get("active") is False]
    [survivor] = _by_mrn(container, "222")
    assert _links(old) == {("replaced-by", f"Patient/{survivor['id']}")}


def test_a_patient_merged_elsewhere_before_is_not_merged_again(container):
    for control, mrn in (("1", "A"), ("2", "B"), ("3", "C")):
        _receive(container, _adt("A01", control, _pid(f"{mrn}^^^GENHOSP^MR"), _pv1(f"V{mrn}")))
    _receive(container, _a40("4", "C", "A^^^GENHOSP^MR"))
    again = container.feeds.receive(_a40("5", "C", "A^^^GENHOSP^MR"))  # the same merge, re-sent: nothing to do
    assert again.ack_code == "AA"
    elsewhere = container.feeds.receive(_a40("6", "B", "A^^^GENHOSP^MR"))
    assert elsewhere.ack_code == "AE" and "merged into" in elsewhere.issues[0].text
    [b] = _by_mrn(container, "B")
    assert b.get("active") is not False and "link" not in b


def test_unsent_fields_keep_their_part_of_a_shared_list_and_cleared_extensions_go(container):
    patient = _admitted_then_updated(
        container, "PID|1||111^^^GENHOSP^MR||Doe^Jane|Smith^Mary|198001011230|F|||1 Main St^^Springfield"
                   "||555-1111|555-2222",
        'PID|1||111^^^GENHOSP^MR||Doe^Jane|""|19800102|F|||1 Main St^^Springfield||555-3333')
    assert {(t["use"], t["value"]) for t in patient["telecom"]} == {("home", "555-3333"), ("work", "555-2222")}
    assert "extension" not in patient  # PID-6 "" deleted the mother's maiden name
    assert patient["birthDate"] == "1980-01-02" and "_birthDate" not in patient  # no stale birth time


def test_a_visit_kept_closed_shows_its_locations_as_past(container):
    _receive(container, _adt("A01", "1", _pid(), _pv1("V1")),
             _adt("A03", "2", _pid(), _pv1("V1", discharged="20260105100000")),
             _adt("A01", "3", _pid(), _pv1("V1")))
    [visit] = _all(container, "Encounter", identifier="V1")
    assert visit["status"] == "finished"
    assert {item["status"] for item in visit["location"]} == {"completed"}


def test_an_update_racing_a_merge_reaches_the_survivor(postgres_container):
    import threading

    from engine.services import bundles

    container = postgres_container
    _receive(container, _adt("A04", "1", _pid("111^^^GENHOSP^MR")), _adt("A04", "2", _pid("222^^^GENHOSP^MR")))
    original = bundles.BundleService._assign_ids
    raced: list[bool] = []

    def merge_between_lookup_and_lock(self, uow, entries, *args, **kwargs):
        found = original(self, uow, entries, *args, **kwargs)
        if not raced:
            raced.append(True)
            merge = threading.Thread(target=_receive, args=(container, _a40("3", "222", "111^^^GENHOSP^MR")))
            merge.start()
            merge.join(30)
        return found

    bundles.BundleService._assign_ids = merge_between_lookup_and_lock
    try:
        _receive(container, _adt("A08", "4", _pid("111^^^GENHOSP^MR", name="Doe^Jane^Newname")))
    finally:
        bundles.BundleService._assign_ids = original
    [old] = [p for p in _by_mrn(container, "111") if p.get("active") is False]
    assert old["name"][0]["given"] == ["Jane"]
    [survivor] = _by_mrn(container, "222")
    assert survivor["name"][0]["given"] == ["Jane", "Newname"]


def test_a_merge_sent_again_after_a_chain_does_nothing(container):
    for control, mrn in (("1", "111"), ("2", "222"), ("3", "333")):
        _receive(container, _adt("A01", control, _pid(f"{mrn}^^^GENHOSP^MR"), _pv1(f"V{mrn}")))
    _receive(container, _a40("4", "222", "111^^^GENHOSP^MR"), _adt("A08", "5", _pid("111^^^GENHOSP^MR")),
             _a40("6", "333", "222^^^GENHOSP^MR"), _adt("A08", "7", _pid("111^^^GENHOSP^MR")),
             _a40("8", "222", "111^^^GENHOSP^MR"))  # the first merge again: 111 and 222 both end at 333


def test_an_mrg1_alternative_naming_several_patients_merges_none(container):
    _receive(container, _adt("A01", "1", _pid("222^^^GENHOSP^MR"), _pv1("V2")),
             _adt("A01", "2", _pid("444^^^GENHOSP^MR~123^^^SSA^SS"), _pv1("V4")),
             _adt("A01", "3", _pid("555^^^GENHOSP^MR~123^^^SSA^SS"), _pv1("V5")))
    refused = container.feeds.receive(_a40("4", "222", "999^^^GENHOSP^MR~123^^^SSA^SS"))
    assert refused.ack_code == "AE" and "more than one" in refused.issues[0].text
    assert all(p.get("active") is not False for p in _all(container, "Patient"))


def test_an_unsent_home_phone_field_keeps_all_its_numbers(container):
    patient = _admitted_then_updated(
        container, "PID|1||111^^^GENHOSP^MR||Doe^Jane||19800101|F|||1 Main St^^Springfield"
                   "||^PRN^CP^^^^5551111~^NET^Internet^jane@example.org|^WPN^PH^^^^5552222",
        "PID|1||111^^^GENHOSP^MR||Doe^Jane||19800101|F|||1 Main St^^Springfield|||^WPN^PH^^^^5553333")
    values = {t["value"] for t in patient["telecom"]}
    assert {"5551111", "jane@example.org", "5553333"} <= values and "5552222" not in values
