"""ADT rules: Patient (PID), Encounter (PV1), merges, required fields and bad dates."""
from __future__ import annotations

import pytest

from adapters.hl7v2 import MappingError, UnsupportedMessage, map_message, parse_message
from tests.hl7v2.builders import RECEIVED, adt, msh, one, pid, pv1, requests, resources, run


def test_patient_from_pid():
    patient = one(run(adt(pid=pid("M1^^^GENHOSP^MR~999-11-2222^^^USSSA^SS", name="Doe^Jane^Q^Jr^Dr^^L",
                                  extra="||555-1234^PRN^PH~^NET^Internet^jane@example.org|^WPN^PH^^^312^5550000"
                                        "||M^Married"))), "Patient")
    assert patient["identifier"][0] == {"value": "M1", "system": "urn:tessera:hl7v2:authority:GENHOSP",
                                        "type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0203",
                                                             "code": "MR"}]}}
    assert patient["identifier"][1]["system"] == "http://hl7.org/fhir/sid/us-ssn"
    assert patient["name"] == [{"family": "Doe", "given": ["Jane", "Q"], "prefix": ["Dr"], "suffix": ["Jr"],
                                "use": "official"}]
    assert patient["gender"] == "female" and patient["birthDate"] == "1980-01-01"
    assert patient["address"][0]["line"] == ["1 Main St", "Apt 2"] and patient["address"][0]["use"] == "home"
    assert {"system": "email", "value": "jane@example.org", "use": "home"} in patient["telecom"]
    assert {"system": "phone", "value": "(312) 5550000", "use": "work"} in patient["telecom"]
    assert patient["maritalStatus"]["coding"][0]["code"] == "M"


@pytest.mark.parametrize("sex, gender", [("M", "male"), ("F", "female"), ("O", "other"), ("A", "other"),
                                         ("U", "unknown"), ("N", "unknown")])
def test_gender(sex, gender):
    assert one(run(adt(pid=pid(sex=sex))), "Patient")["gender"] == gender


def test_unknown_gender_is_a_warning():
    result = run(adt(pid=pid(sex="Q")))
    assert "gender" not in one(result, "Patient")
    assert [(w.segment, w.field, w.code, w.severity) for w in result.warnings] == [("PID", 8, "103", "W")]


@pytest.mark.parametrize("birth, expected", [("1980", "1980"), ("198007", "1980-07"), ("19800704", "1980-07-04"),
                                             ("198007041230", "1980-07-04")])
def test_birth_date_keeps_the_precision_given(birth, expected):
    patient = one(run(adt(pid=pid(birth=birth))), "Patient")
    assert patient["birthDate"] == expected
    if len(birth) > 8:
        assert patient["_birthDate"]["extension"][0]["valueDateTime"] == "1980-07-04T12:30:00+01:00"


def test_bad_birth_date_is_an_error_without_the_value():
    with pytest.raises(MappingError) as info:
        run(adt(pid=pid(birth="19991345")))
    issue = info.value.issues[0]
    assert (issue.segment, issue.sequence, issue.field, issue.code, issue.severity) == ("PID", 1, 7, "102", "E")
    assert "19991345" not in issue.text


def test_a_nul_character_is_an_error_naming_its_field():
    for name in ("Doe\x00^Jane", "Doe\\X00\\^Jane", "Doe\\X414200\\^Jane"):
        with pytest.raises(MappingError) as info:
            run(adt(pid=pid(name=name)))
        assert [(i.segment, i.field, i.code) for i in info.value.issues] == [("PID", 5, "102")], name
    assert one(run(adt(pid=pid(name="Doe\\X41\\^Jane"))), "Patient")["name"][0]["family"] == "DoeA"


def test_missing_pid3_is_an_error():
    with pytest.raises(MappingError) as info:
        run(adt(pid=pid(mrn="")))
    assert [(i.segment, i.field, i.code) for i in info.value.issues] == [("PID", 3, "101")]


def test_missing_pid_segment_is_an_error():
    with pytest.raises(MappingError) as info:
        run("\r".join([msh("ADT^A01"), "EVN|A01", pv1()]))
    assert info.value.issues[0].segment == "PID" and info.value.issues[0].code == "100"


def test_patient_key_without_assigning_authority_uses_the_sending_facility():
    result = run(adt(pid=pid("12345")))
    assert ("PUT", "Patient?identifier=urn:tessera:hl7v2:authority:GENHOSP|12345", None) in requests(result)
    oid = run(adt(pid=pid("12345"), facility="GENHOSP^1.2.3.4^ISO"))
    assert ("PUT", "Patient?identifier=urn:oid:1.2.3.4|12345", None) in requests(oid)


def test_first_identifier_with_an_authority_is_the_key():
    result = run(adt(pid=pid("LOCAL1~M9^^^&2.16.840.1.1&ISO^MR")))
    assert ("PUT", "Patient?identifier=urn:oid:2.16.840.1.1|M9", None) in requests(result)


@pytest.mark.parametrize("code, act", [("I", "IMP"), ("O", "AMB"), ("E", "EMER"), ("P", "PRENC"), ("R", "AMB"),
                                       ("B", "IMP")])
def test_encounter_class(code, act):
    encounter = one(run(adt(pv1=pv1(code))), "Encounter")
    assert encounter["class"] == {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": act,
                                  "display": encounter["class"]["display"]}


@pytest.mark.parametrize("trigger, status", [("A01", "in-progress"), ("A02", "in-progress"), ("A03", "finished"),
                                             ("A04", "arrived"), ("A05", "planned"), ("A06", "in-progress"),
                                             ("A07", "in-progress"), ("A11", "cancelled"), ("A13", "in-progress"),
                                             ("A14", "planned"), ("A08", "in-progress"), ("A21", "onleave"),
                                             ("A22", "in-progress"), ("A52", "in-progress"), ("A53", "onleave"),
                                             ("A27", "cancelled"), ("A38", "cancelled"),
                                             ("A23", "entered-in-error"), ("A09", "in-progress"),
                                             ("A10", "in-progress"), ("A12", "in-progress"), ("A15", "in-progress"),
                                             ("A16", "in-progress"), ("A25", "in-progress"), ("A26", "in-progress"),
                                             ("A32", "in-progress"), ("A33", "in-progress"), ("A54", "in-progress"),
                                             ("A55", "in-progress")])
def test_encounter_status_by_trigger(trigger, status):
    assert one(run(adt(trigger)), "Encounter")["status"] == status


def _visit_with(field: int, value: str, *, pending: str = "") -> str:
    visit = pv1().split("|")
    visit += [""] * (44 - len(visit))
    visit[field] = value
    visit[42] = pending
    return "|".join(visit)


@pytest.mark.parametrize("trigger, field, kept", [("A02", 6, True), ("A12", 6, False), ("A09", 11, True),
                                                  ("A32", 11, False), ("A33", 11, False)])
def test_a_cancelling_event_does_not_place_the_patient_where_it_undoes(trigger, field, kept):
    result = run(adt(trigger, pv1=_visit_with(field, "WARD^7^B^GENHOSP")))
    assert ("WARD" in {r["name"] for r in resources(result, "Location")}) is kept
    assert len(one(result, "Encounter")["location"]) == (2 if kept else 1)


def test_a_cancelled_pending_transfer_drops_the_pending_location_and_a_pending_one_plans_it():
    pending = one(run(adt("A15", pv1=_visit_with(6, "", pending="WARD^7^B^GENHOSP"))), "Encounter")
    assert [item["status"] for item in pending["location"]] == ["active", "planned"]
    cancelled = one(run(adt("A26", pv1=_visit_with(6, "", pending="WARD^7^B^GENHOSP"))), "Encounter")
    assert [item["status"] for item in cancelled["location"]] == ["active"]


def test_a_cancelled_pending_discharge_deletes_the_expected_discharge_date():
    planned = adt("A16") + "\rPV2||||||||20260101100000|20260110"
    assert [e["url"].rsplit(".", 1)[1] for e in one(run(planned), "Encounter")["extension"]] == [
        "plannedStartDate", "plannedEndDate"]
    result = run(adt("A25", control_id="C2") + "\rPV2||||||||20260101100000|20260110")
    encounter = one(result, "Encounter")
    assert [e["url"].rsplit(".", 1)[1] for e in encounter["extension"]] == ["plannedStartDate"]
    rule = result.updates[next(e["fullUrl"] for e in result.bundle["entry"]
                               if e["resource"]["resourceType"] == "Encounter")]
    assert any(name.endswith("plannedEndDate") for name in rule.cleared)


def test_encounter_details():
    result = run(adt("A03", pv1=pv1(admit="20260101110000", discharge="20260103093000")))
    encounter = one(result, "Encounter")
    assert encounter["period"] == {"start": "2026-01-01T11:00:00+01:00", "end": "2026-01-03T09:30:00+01:00"}
    assert encounter["identifier"][0]["value"] == "V1"
    assert ("PUT", "Encounter?identifier=urn:tessera:hl7v2:authority:GENHOSP|V1", None) in requests(result)
    participant = encounter["participant"][0]
    assert participant["type"][0]["coding"][0]["code"] == "ATND"
    doctor = one(result, "Practitioner")
    assert doctor["identifier"][0]["system"] == "http://hl7.org/fhir/sid/us-npi"
    bed = [r for r in resources(result, "Location") if r["name"] == "A"][0]
    assert bed["physicalType"]["coding"][0]["code"] == "bd"
    assert encounter["location"][0]["location"]["reference"].startswith("urn:uuid:")
    assert encounter["location"][0]["status"] == "completed"  # the patient left (A03)
    assert {r["name"] for r in resources(result, "Location")} == {"GENHOSP", "ICU", "101", "A"}


def test_expected_admit_and_discharge_dates_are_plans_not_the_period():
    message = adt("A01") + "\rPV2||||||||20260101100000|20260110"
    encounter = one(run(message), "Encounter")
    assert encounter["status"] == "in-progress"
    assert encounter["period"] == {"start": "2026-01-01T11:00:00+01:00"}
    assert {e["url"].rsplit(".", 1)[1]: e["valueDateTime"] for e in encounter["extension"]} == {
        "plannedStartDate": "2026-01-01T10:00:00+01:00", "plannedEndDate": "2026-01-10"}


def test_transfer_keeps_the_prior_location_as_completed():
    visit = pv1().split("|")
    visit[6] = "WARD^7^B^GENHOSP"
    encounter = one(run(adt("A02", pv1="|".join(visit))), "Encounter")
    assert [item["status"] for item in encounter["location"]] == ["active", "completed"]


def test_merge_messages_give_merge_instructions():
    text = "\r".join([msh("ADT^A40^ADT_A39"), "EVN|A40", pid("NEW1^^^GENHOSP^MR"), "MRG|OLD1^^^GENHOSP^MR"])
    result = run(text)
    assert [(m.survivor, m.merged) for m in result.merges] == [
        ("identifier=urn:tessera:hl7v2:authority:GENHOSP|NEW1", "identifier=urn:tessera:hl7v2:authority:GENHOSP|OLD1")]
    assert one(result, "Patient")["identifier"][0]["value"] == "NEW1"


@pytest.mark.parametrize("trigger", ["A47"])
def test_a_patient_identifier_correction_names_the_old_and_the_new_key(trigger):
    result = run("\r".join([msh(f"ADT^{trigger}^ADT_A30"), f"EVN|{trigger}", pid("NEW1^^^GENHOSP^MR"),
                            "MRG|OLD1^^^GENHOSP^MR"]))
    [change] = result.identifier_changes
    assert (change.resource_type, change.old, change.new_identifier) == (
        "Patient", ("urn:tessera:hl7v2:authority:GENHOSP", "OLD1"),
        {"system": "urn:tessera:hl7v2:authority:GENHOSP", "value": "NEW1"})
    assert (change.old_query, change.new_query) == ("identifier=urn:tessera:hl7v2:authority:GENHOSP|OLD1",
                                                    "identifier=urn:tessera:hl7v2:authority:GENHOSP|NEW1")
    assert one(result, "Patient")["identifier"][0]["value"] == "NEW1" and not result.merges


def test_a_visit_number_correction_names_the_old_and_the_new_visit():
    result = run("\r".join([msh("ADT^A50^ADT_A50"), "EVN|A50", pid(), "MRG|||||V0^^^GENHOSP^VN", pv1()]))
    [change] = result.identifier_changes
    assert (change.resource_type, change.old, change.new_query, change.old_field) == (
        "Encounter", ("urn:tessera:hl7v2:authority:GENHOSP", "V0"), "identifier=urn:tessera:hl7v2:authority:GENHOSP|V1",
        "MRG-5")
    assert one(result, "Encounter")["identifier"][0]["value"] == "V1"


@pytest.mark.parametrize("segments, where", [(["MRG|"], ("MRG", 1)), ([], ("MRG", None))])
def test_a_patient_identifier_correction_without_the_old_identifier_is_an_error(segments, where):
    with pytest.raises(MappingError) as info:
        run("\r".join([msh("ADT^A47^ADT_A30"), "EVN|A47", pid(), *segments]))
    assert (info.value.issues[0].segment, info.value.issues[0].field) == where


@pytest.mark.parametrize("segments, where", [(["MRG|", pv1()], ("MRG", 5)), (["MRG|||||V0"], ("PV1", None)),
                                             (["MRG|||||V0", "PV1|1|I"], ("PV1", 19))])
def test_a_visit_number_correction_needs_both_visit_numbers(segments, where):
    with pytest.raises(MappingError) as info:
        run("\r".join([msh("ADT^A50^ADT_A50"), "EVN|A50", pid(), *segments]))
    assert (info.value.issues[0].segment, info.value.issues[0].field) == where


def _a60(*iam: str) -> str:
    return "\r".join([msh("ADT^A60^ADT_A60"), "EVN|A60", pid(), *iam])


@pytest.mark.parametrize("action, status, verification, clinical", [
    ("A", "C", "confirmed", "active"), ("U", "I", "confirmed", "inactive"), ("A", "U", "unconfirmed", "active"),
    ("A", "E", "entered-in-error", None), ("D", "C", "entered-in-error", None), ("A", "", None, "active")])
def test_adverse_reaction_information_updates_the_allergy(action, status, verification, clinical):
    iam = (f"IAM|1|FA^Food allergy^HL70127|12345^Peanut^L|SV^Severe^HL70128|Hives~Wheezing|{action}|A-9^EHR||||"
           f"201805||202010051600||||{status}")
    allergy = one(run(_a60(iam)), "AllergyIntolerance")
    assert allergy["code"]["coding"][0]["code"] == "12345" and allergy["category"] == ["food"]
    assert allergy["criticality"] == "high" and allergy["onsetDateTime"] == "2018-05"
    assert [m["text"] for m in allergy["reaction"][0]["manifestation"]] == ["Hives", "Wheezing"]
    assert allergy["recordedDate"] == "2020-10-05T16:00:00+01:00"
    assert {"value": "A-9", "system": "urn:tessera:hl7v2:authority:EHR"} in allergy["identifier"]
    assert (allergy.get("verificationStatus") or {}).get("coding", [{}])[0].get("code") == verification
    assert (allergy.get("clinicalStatus") or {}).get("coding", [{}])[0].get("code") == clinical


def test_al1_and_iam_about_one_allergen_update_one_allergy():
    iam = "IAM|1|FA|12345^Peanut^L|||A"
    al1 = "AL1|1|FA|12345^Peanut^L"
    urls = [[url for _, url, _ in requests(run(text)) if url.startswith("AllergyIntolerance?")]
            for text in (_a60(iam), adt("A08") + "\r" + al1)]
    assert urls[0] == urls[1] and len(urls[0]) == 1


def test_procedures_of_an_admission():
    pr1 = ("PR1|1||76164006^Biopsy of colon^SCT|colon biopsy|20260101114000|D^Diagnostic procedure^HL70230|20|"
           "12^Anes^Mark||||55^Cutter^Sam|||K63.5^Polyp of colon^I10C||||PROC-1^GENHOSP")
    result = run(adt("A01") + "\r" + pr1)
    procedure = one(result, "Procedure")
    assert procedure["status"] == "completed" and procedure["code"]["coding"][0]["code"] == "76164006"
    assert procedure["code"]["text"] == "colon biopsy"
    assert procedure["performedDateTime"] == "2026-01-01T11:40:00+01:00"
    assert procedure["category"]["coding"][0] == {"system": "http://terminology.hl7.org/CodeSystem/v2-0230",
                                                  "code": "D", "display": "Diagnostic procedure"}
    assert [p["function"]["coding"][0]["display"] for p in procedure["performer"]] == [
        "Anesthesiologist", "Healthcare professional"]
    assert procedure["reasonCode"][0]["coding"][0]["code"] == "K63.5"
    assert procedure["encounter"]["reference"] == next(e["fullUrl"] for e in result.bundle["entry"]
                                                       if e["resource"]["resourceType"] == "Encounter")
    assert ("PUT", "Procedure?identifier=urn:tessera:hl7v2:authority:GENHOSP|PROC-1", None) in requests(result)
    deleted = run(adt("A08") + "\r" + pr1 + "|D")
    assert one(deleted, "Procedure")["status"] == "entered-in-error"


def test_a_swap_moves_each_of_two_patients_to_the_location_its_visit_names():
    first = pv1(visit="V1^^^GENHOSP^VN").replace("ICU^101^A^GENHOSP", "WARD^7^B^GENHOSP")
    second = pv1(visit="V2^^^GENHOSP^VN")
    result = run("\r".join([msh("ADT^A17^ADT_A17"), "EVN|A17", pid(), first, "OBX|1|NM|8302-2^Height^LN||170|cm",
                            pid("MRN2^^^GENHOSP^MR", name="Roe^Richard"), second]))
    [height] = resources(result, "Observation")
    assert height["subject"]["display"] == "Jane Q Doe"
    encounters = {e["identifier"][0]["value"]: e for e in resources(result, "Encounter")}
    places = {url: r["name"] for url, r in ((e["fullUrl"], e["resource"]) for e in result.bundle["entry"])
              if r["resourceType"] == "Location"}
    assert {visit: places[e["location"][0]["location"]["reference"]] for visit, e in encounters.items()} == {
        "V1": "B", "V2": "A"}
    assert len({e["subject"]["reference"] for e in encounters.values()}) == 2
    with pytest.raises(MappingError):
        run("\r".join([msh("ADT^A17^ADT_A17"), "EVN|A17", pid(), first]))


def test_a_visit_move_names_the_visit_and_its_previous_patient():
    result = run("\r".join([msh("ADT^A45^ADT_A45"), "EVN|A45", pid("NEW1^^^GENHOSP^MR"),
                            "MRG|OLD1^^^GENHOSP^MR||||V0^^^GENHOSP^VN", pv1()]))
    [move] = result.visit_moves
    assert (move.visit_query, move.from_patient_query) == ("identifier=urn:tessera:hl7v2:authority:GENHOSP|V1",
                                                           "identifier=urn:tessera:hl7v2:authority:GENHOSP|OLD1")
    assert [(c.old, c.new_query) for c in result.identifier_changes] == [
        (("urn:tessera:hl7v2:authority:GENHOSP", "V0"), "identifier=urn:tessera:hl7v2:authority:GENHOSP|V1")]
    assert one(result, "Encounter")["subject"]["reference"] == next(
        e["fullUrl"] for e in result.bundle["entry"] if e["resource"]["resourceType"] == "Patient")


@pytest.mark.parametrize("segments, where", [(["MRG|OLD1^^^GENHOSP^MR"], ("MRG", 1)), ([], ("MRG", None)),
                                             (["MRG|", pv1()], ("MRG", 1)),
                                             (["MRG|OLD1^^^GENHOSP^MR", "PV1|1|I"], ("PV1", 19))])
def test_a_visit_move_needs_the_previous_patient_and_the_visit(segments, where):
    with pytest.raises(MappingError) as info:
        run("\r".join([msh("ADT^A45^ADT_A45"), "EVN|A45", pid(), *segments]))
    assert (info.value.issues[0].segment, info.value.issues[0].field) == where


@pytest.mark.parametrize("patient, mrg, where", [
    (pid(extra="|||||||ACCT-2^^^GENHOSP^AN"), "MRG|||ACCT-1^^^GENHOSP^AN", None),
    (pid(), "MRG|||ACCT-1^^^GENHOSP^AN", ("PID", 18)),
    (pid(extra="|||||||ACCT-2^^^GENHOSP^AN"), "MRG|OLD1", ("MRG", 3))])
def test_an_account_merge_names_the_surviving_and_the_merged_account(patient, mrg, where):
    text = "\r".join([msh("ADT^A41^ADT_A39"), "EVN|A41", patient, mrg])
    if where is not None:
        with pytest.raises(MappingError) as info:
            run(text)
        assert (info.value.issues[0].segment, info.value.issues[0].field) == where
        return
    [merge] = run(text).account_merges
    assert (merge.survivor_query, merge.merged_query) == ("identifier=urn:tessera:hl7v2:authority:GENHOSP|ACCT-2",
                                                          "identifier=urn:tessera:hl7v2:authority:GENHOSP|ACCT-1")


@pytest.mark.parametrize("trigger, linked", [("A24", True), ("A37", False)])
def test_a_link_or_unlink_names_two_patients(trigger, linked):
    result = run("\r".join([msh(f"ADT^{trigger}^ADT_A24"), f"EVN|{trigger}", pid("ONE^^^GENHOSP^MR"),
                            pid("TWO^^^GENHOSP^MR")]))
    assert [(link.first_query, link.second_query, link.linked) for link in result.patient_links] == [
        ("identifier=urn:tessera:hl7v2:authority:GENHOSP|ONE", "identifier=urn:tessera:hl7v2:authority:GENHOSP|TWO",
         linked)]
    with pytest.raises(MappingError):
        run("\r".join([msh(f"ADT^{trigger}^ADT_A24"), f"EVN|{trigger}", pid("ONE^^^GENHOSP^MR")]))


def test_a_deletion_names_the_patient_and_writes_nothing_of_it():
    result = run("\r".join([msh("ADT^A29^ADT_A21"), "EVN|A29", pid("GONE1^^^GENHOSP^MR")]))
    assert [d.patient_query for d in result.patient_deletions] == ["identifier=urn:tessera:hl7v2:authority:GENHOSP|GONE1"]
    assert not resources(result, "Patient")
    with pytest.raises(MappingError):
        run("\r".join([msh("ADT^A29^ADT_A21"), "EVN|A29"]))


def test_merge_without_mrg_is_an_error():
    with pytest.raises(MappingError) as info:
        run("\r".join([msh("ADT^A34"), "EVN|A34", pid()]))
    assert info.value.issues[0].segment == "MRG"


@pytest.mark.parametrize("message_type, code", [("ADT^A99", "201"), ("ZZZ^Z01", "200"), ("ORU^R99", "201"),
                                                ("", "200")])
def test_unsupported_types_are_refused(message_type, code):
    with pytest.raises(UnsupportedMessage) as info:
        map_message(parse_message("\r".join([msh(message_type), pid()])), raw_message_id="1", received_at=RECEIVED)
    assert info.value.code == code


def test_non_v2_version_is_refused():
    with pytest.raises(UnsupportedMessage):
        run(adt(version="3.0"))


def test_provenance_and_meta_source():
    result = run(adt(sender="ADT 1", facility="GEN/HOSP"), raw_message_id="raw-9")
    provenance = one(result, "Provenance")
    assert provenance["recorded"] == RECEIVED
    assert provenance["activity"]["coding"][0]["code"] == "A01"
    assert provenance["agent"][0]["who"] == {"display": "GEN/HOSP"}
    assert provenance["entity"][0] == {"role": "source", "what": {
        "identifier": {"system": "urn:tessera:raw-message", "value": "raw-9"}, "display": "HL7v2 ADT^A01 C1"}}
    assert one(result, "Patient")["meta"]["source"] == "urn:tessera:hl7v2:ADT%201:GEN%2FHOSP"


def test_next_of_kin_allergy_diagnosis_insurance():
    text = adt() + "\r" + "\r".join([
        "NK1|1|Doe^John|SPO^Spouse^HL70063|1 Main St^^Springfield^IL|555-0000",
        "AL1|1|DA^Drug allergy^HL70127|70618^Penicillin^RXNORM|SV^Severe^HL70128|Hives~Rash|20250101",
        "DG1|1||J18.9^Pneumonia^I10C|||A",
        "|".join(["IN1", "1", "PLAN1^Gold Plan", "PAYER1^^^GENHOSP", "Acme Insurance"] + [""] * 31 + ["POL-77"]),
    ])
    result = run(text)
    assert one(result, "RelatedPerson")["relationship"][0]["coding"][0]["code"] == "SPO"
    allergy = one(result, "AllergyIntolerance")
    assert allergy["category"] == ["medication"] and allergy["criticality"] == "high"
    assert allergy["code"]["coding"][0]["system"] == "http://www.nlm.nih.gov/research/umls/rxnorm"
    assert [m["text"] for m in allergy["reaction"][0]["manifestation"]] == ["Hives", "Rash"]
    condition = one(result, "Condition")
    assert condition["code"]["coding"][0]["system"] == "http://hl7.org/fhir/sid/icd-10-cm"
    assert condition["verificationStatus"]["coding"][0]["code"] == "provisional"
    coverage = one(result, "Coverage")
    assert coverage["subscriberId"] == "POL-77" and coverage["payor"][0]["display"] == "Acme Insurance"


def test_an_internal_defect_becomes_a_207_error_and_logs_no_message_content(monkeypatch, caplog):
    from adapters.hl7v2.messages import adt as adt_module

    def broken(*args, **kwargs):
        raise KeyError("Doe^Jane")
    monkeypatch.setattr(adt_module, "map_encounter", broken)
    with pytest.raises(MappingError) as info:
        run(adt())
    assert [(i.segment, i.code) for i in info.value.issues] == [("MSH", "207")]
    assert "KeyError" in caplog.text and "Doe" not in caplog.text


def test_pid40_telecom_of_newer_versions_is_kept_once():
    pid40 = "^PRN^CP^^1^555^1234567~^NET^Internet^jane@example.org~^PRN^PH^^1^555^7654321"
    patient = one(run(adt(pid=pid(extra="||^PRN^PH^^1^555^7654321|^WPN^PH^^1^555^7654321" + "|" * 26 + pid40))),
                  "Patient")
    assert patient["telecom"] == [
        {"system": "phone", "value": "+1 (555) 7654321", "use": "home"},
        {"system": "phone", "value": "+1 (555) 7654321", "use": "work"},
        {"system": "phone", "value": "+1 (555) 1234567", "use": "mobile"},
        {"system": "email", "value": "jane@example.org"}]


def test_street_name_and_house_number_are_parts_of_the_street_line():
    def lines(xad: str) -> list[str]:
        patient_segment = pid().split("|")
        patient_segment[11] = xad
        return one(run(adt(pid="|".join(patient_segment))), "Patient")["address"][0]["line"]

    assert lines("Verkade 743&Verkade&743^^Den Haag^^2511 LZ^NL^H") == ["Verkade 743"]
    assert lines("&Verkade&743^Bus 2^Den Haag^^2511 LZ^NL^H") == ["Verkade 743", "Bus 2"]
