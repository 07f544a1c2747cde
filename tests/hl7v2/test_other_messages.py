"""VXU (Immunization), MDM (DocumentReference), SIU (Appointment), ORM/OML (ServiceRequest) rules."""
from __future__ import annotations

import base64

import pytest

from adapters.hl7v2 import MappingError
from tests.hl7v2.builders import msh, one, pid, requests, resources, run


def vxu(rxa: str, *extra: str, orc: str = "ORC|RE||IMM-1^EHR|||||||||1234^Nurse^Ann^^^^^^NPI") -> str:
    return "\r".join([msh("VXU^V04^VXU_V04", sender="EHR"), pid(), orc, rxa, *extra])


RXA = ("RXA|0|1|20250105||140^Influenza^CVX|0.5|mL^mL^UCUM||00^New record^NIP001|1234^Nurse^Ann|||||LOT9|20251231"
       "|SKB^GSK^MVX|||CP|A")


def test_immunization():
    result = run(vxu(RXA, "RXR|C28161^Intramuscular^NCIT|LD^Left Deltoid^HL70163",
                     "OBX|1|CE|64994-7^Eligibility^LN|1|V02^Medicaid^HL70064||||||F"))
    imm = one(result, "Immunization")
    assert imm["vaccineCode"]["coding"][0] == {"system": "http://hl7.org/fhir/sid/cvx", "code": "140",
                                               "display": "Influenza"}
    assert imm["occurrenceDateTime"] == "2025-01-05" and imm["status"] == "completed"
    assert imm["doseQuantity"] == {"value": 0.5, "unit": "mL", "system": "http://unitsofmeasure.org", "code": "mL"}
    assert imm["lotNumber"] == "LOT9" and imm["expirationDate"] == "2025-12-31" and imm["primarySource"] is True
    assert imm["route"]["coding"][0]["code"] == "C28161" and imm["site"]["coding"][0]["code"] == "LD"
    assert imm["programEligibility"][0]["coding"][0]["code"] == "V02"
    assert [p["function"]["coding"][0]["code"] for p in imm["performer"]] == ["AP", "OP"]
    assert one(result, "Organization")["identifier"][0]["system"] == "http://hl7.org/fhir/sid/mvx"
    assert ("PUT", "Immunization?identifier=urn:tessera:hl7v2:authority:EHR|IMM-1", None) in requests(result)
    assert not resources(result, "Observation")


@pytest.mark.parametrize("completion, status", [("RE", "not-done"), ("NA", "not-done"), ("PA", "completed")])
def test_immunization_not_done(completion, status):
    imm = one(run(vxu(RXA.replace("|||CP|A", f"|||{completion}|A").replace("|0.5|", "|999|"))), "Immunization")
    assert imm["status"] == status and "doseQuantity" not in imm
    if completion == "RE":
        assert imm["statusReason"]["coding"][0]["code"] == "PATOBJ"


def test_immunization_without_filler_number_is_keyed_by_patient_vaccine_and_date():
    result = run(vxu(RXA, orc="ORC|RE"))
    key = ("Immunization?identifier=urn:tessera:hl7v2:key:immunization"
           "|urn:tessera:hl7v2:authority:GENHOSP^MRN1^140^20250105")
    assert ("PUT", key, None) in requests(result)


def test_immunization_bad_date_is_an_error():
    with pytest.raises(MappingError) as info:
        run(vxu(RXA.replace("20250105", "2025010X")))
    assert (info.value.issues[0].segment, info.value.issues[0].field) == ("RXA", 3)


def mdm(trigger: str, *obx: str) -> str:
    txa = "TXA|1|DS^Discharge summary^HL70270|TX|20260101100000||20260101110000|||1234^Author^Al|||DOC-7^EHR|||||AU"
    return "\r".join([msh(f"MDM^{trigger}^MDM_T02", sender="EHR"), "EVN|" + trigger, pid(),
                      "PV1|1|I|||||||||||||||||V1^^^GENHOSP^VN", txa, *obx])


def test_document_reference_with_text_content():
    result = run(mdm("T02", "OBX|1|TX|1^Text||First line~Second line||||||F",
                     "OBX|2|FT|1^Text||Third\\.br\\Fourth||||||F"))
    doc = one(result, "DocumentReference")
    assert doc["status"] == "current" and doc["docStatus"] == "final"
    attachment = doc["content"][0]["attachment"]
    assert attachment["contentType"] == "text/plain"
    assert base64.b64decode(attachment["data"]).decode() == "First line\nSecond line\nThird\nFourth"
    assert doc["date"] == "2026-01-01T11:00:00+01:00" and doc["type"]["coding"][0]["code"] == "DS"
    assert doc["identifier"][0]["value"] == "DOC-7" and doc["context"]["encounter"]
    assert ("PUT", "DocumentReference?identifier=urn:tessera:hl7v2:authority:EHR|DOC-7", None) in requests(result)


def test_document_notification_and_cancel():
    assert one(run(mdm("T01")), "DocumentReference")["content"][0]["attachment"]["contentType"] == "text/plain"
    assert one(run(mdm("T11")), "DocumentReference")["status"] == "entered-in-error"


@pytest.mark.parametrize("trigger, relation", [("T05", "appends"), ("T06", "appends"), ("T09", "replaces"),
                                               ("T10", "replaces"), ("T04", None), ("T08", None)])
def test_addenda_and_replacements_name_their_parent_document(trigger, relation):
    text = mdm(trigger, "OBX|1|TX|1^Text||Added line||||||F").replace("|DOC-7^EHR|", "|DOC-8^EHR|DOC-7^EHR")
    doc = one(run(text), "DocumentReference")
    assert doc["identifier"][0]["value"] == "DOC-8"
    if relation is None:
        assert "relatesTo" not in doc
    else:
        assert doc["relatesTo"] == [{"code": relation, "target": {"type": "DocumentReference", "identifier": {
            "value": "DOC-7", "system": "urn:tessera:hl7v2:authority:EHR"}}}]


def test_only_a_notification_without_text_marks_its_content_a_placeholder():
    for trigger, text in (("T03", ()), ("T07", ()), ("T04", ("OBX|1|TX|1^Text||Line||||||F",))):
        result = run(mdm(trigger, *text))
        rules = [rule.placeholders for rule in result.updates.values()]
        assert (frozenset({"content"}) in rules) is (not text)


def test_document_with_embedded_pdf():
    pdf = base64.b64encode(b"%PDF-1.4 test").decode()
    doc = one(run(mdm("T02", f"OBX|1|ED|1^PDF||^application^pdf^Base64^{pdf}||||||F")), "DocumentReference")
    assert doc["content"][0]["attachment"] == {"contentType": "application/pdf", "data": pdf}


def siu(trigger: str) -> str:
    return "\r".join([msh(f"SIU^{trigger}^SIU_S12", sender="SCHED"),
                      "SCH|P-1^EHR|F-1^SCHED||||Routine|CHECKUP^Checkup|NORMAL^Normal^HL70276|30|MIN",
                      "TQ1|||||||20260105090000|20260105093000", "NTE|1||bring glasses", pid(), "RGS|1",
                      "AIS|1||99213^Office visit^C4", "AIL|1||CLINIC^R1^^GENHOSP", "AIP|1||55^Welby^Marcus"])


@pytest.mark.parametrize("trigger, status", [("S12", "booked"), ("S13", "booked"), ("S14", "booked"),
                                             ("S15", "cancelled"), ("S16", "cancelled"), ("S17", "entered-in-error"),
                                             ("S26", "noshow")])
def test_appointment(trigger, status):
    result = run(siu(trigger))
    appointment = one(result, "Appointment")
    assert appointment["status"] == status
    assert appointment["start"] == "2026-01-05T09:00:00+01:00" and appointment["end"] == "2026-01-05T09:30:00+01:00"
    assert appointment["comment"] == "bring glasses" and appointment["serviceType"][0]["coding"][0]["code"] == "99213"
    kinds = sorted(p["actor"]["reference"] in {e["fullUrl"] for e in result.bundle["entry"]}
                   for p in appointment["participant"])
    assert len(appointment["participant"]) == 3 and all(kinds)
    assert ("PUT", "Appointment?identifier=urn:tessera:hl7v2:authority:SCHED|F-1", None) in requests(result)


@pytest.mark.parametrize("trigger, filler_status, status", [
    ("S14", "Noshow", "noshow"), ("S14", "Complete", "fulfilled"), ("S12", "Pending", "pending"),
    ("S14", "Started", "arrived"), ("S15", "Booked", "cancelled"), ("S16", "Booked", "cancelled"),
    ("S17", "Booked", "entered-in-error"), ("S26", "Booked", "noshow")])
def test_appointment_status_follows_the_filler_status(trigger, filler_status, status):
    sch = "SCH|P-1^EHR|F-1^SCHED||||Routine|CHECKUP^Checkup|NORMAL^Normal^HL70276|30|MIN" + "|" * 15 + filler_status
    text = siu(trigger).replace("SCH|P-1^EHR|F-1^SCHED||||Routine|CHECKUP^Checkup|NORMAL^Normal^HL70276|30|MIN", sch)
    assert one(run(text), "Appointment")["status"] == status


def test_appointment_end_from_duration():
    text = siu("S12").replace("TQ1|||||||20260105090000|20260105093000\r", "").replace(
        "AIS|1||99213^Office visit^C4", "AIS|1||99213^Office visit^C4|20260105090000|||45|min")
    appointment = one(run(text), "Appointment")
    assert appointment["end"] == "2026-01-05T09:45:00+01:00"


def orm(control: str, status: str = "") -> str:
    return "\r".join([msh("ORM^O01^ORM_O01", sender="EHR"), pid(), "PV1|1|O|||||||||||||||||V9^^^GENHOSP^VN",
                      f"ORC|{control}|PL-5^EHR||GRP-1^EHR|{status}||||20260101083000|||77^Orderer^Olga",
                      "OBR|1|PL-5^EHR||80053^CMP^C4", "NTE|1||fasting", "DG1|1||E11.9^Diabetes^I10C"])


@pytest.mark.parametrize("control, status, expected", [("NW", "", "active"), ("CA", "", "revoked"),
                                                       ("NW", "CM", "completed"), ("HD", "", "on-hold")])
def test_service_request(control, status, expected):
    result = run(orm(control, status))
    request = one(result, "ServiceRequest")
    assert request["status"] == expected and request["intent"] == "order"
    assert request["code"]["coding"][0]["code"] == "80053" and request["authoredOn"] == "2026-01-01T08:30:00+01:00"
    assert request["requester"]["display"] == "Olga Orderer" and request["note"] == [{"text": "fasting"}]
    assert request["requisition"]["value"] == "GRP-1" and request["reasonReference"]
    assert ("PUT", "ServiceRequest?identifier=urn:tessera:hl7v2:authority:EHR|PL-5", None) in requests(result)


@pytest.mark.parametrize("message_type", ["OML^O21^OML_O21", "OMG^O19^OMG_O19"])
def test_lab_and_general_clinical_orders_are_mapped_like_orm(message_type):
    result = run(orm("NW").replace("ORM^O01^ORM_O01", message_type))
    assert one(result, "ServiceRequest")["status"] == "active"
    assert ("PUT", "ServiceRequest?identifier=urn:tessera:hl7v2:authority:EHR|PL-5", None) in requests(result)


def test_older_orders_take_priority_and_start_from_the_quantity_timing_field():
    text = orm("NW").replace("|NW|PL-5^EHR||GRP-1^EHR|||", "|NW|PL-5^EHR||GRP-1^EHR|||^^^20260102070000^^S", 1)
    request = one(run(text.replace("2.5.1", "2.3")), "ServiceRequest")
    assert request["priority"] == "stat" and request["occurrenceDateTime"] == "2026-01-02T07:00:00+01:00"


RXE = ("RXE|^^^20260105080000^^R|00071015523^Atorvastatin 10 mg tab^NDC|1|2|TAB^tablet^HL70292|TAB|"
       "^Take with water|||30|TAB^tablet|3")


def rde(control: str = "NW", *, status: str = "", detail: str = RXE) -> str:
    return "\r".join([msh("RDE^O11^RDE_O11", sender="EHR"), pid(), "PV1|1|O|||||||||||||||||V9^^^GENHOSP^VN",
                      f"ORC|{control}|RX-5^EHR||GRP-2^EHR|{status}||||20260105073000|||77^Orderer^Olga",
                      detail, "TQ1|1||BID||||20260105080000|20260204080000", "RXR|PO^Oral^HL70162",
                      "OBX|1|NM|29463-7^Body weight^LN||72|kg|||||F"])


def test_an_encoded_pharmacy_order_is_a_medication_request():
    result = run(rde())
    request = one(result, "MedicationRequest")
    assert request["status"] == "active" and request["intent"] == "order"
    assert request["medicationCodeableConcept"]["coding"][0] == {
        "system": "http://hl7.org/fhir/sid/ndc", "code": "00071015523", "display": "Atorvastatin 10 mg tab"}
    assert request["authoredOn"] == "2026-01-05T07:30:00+01:00" and request["requester"]["display"] == "Olga Orderer"
    [dosage] = request["dosageInstruction"]
    assert dosage["text"] == "Take with water"
    assert dosage["doseAndRate"] == [{"doseRange": {"low": {"value": 1, "unit": "tablet"},
                                                    "high": {"value": 2, "unit": "tablet"}}}]
    assert dosage["route"]["coding"][0]["code"] == "PO" and dosage["timing"]["code"] == {"text": "BID"}
    assert dosage["timing"]["repeat"]["boundsPeriod"]["start"] == "2026-01-05T08:00:00+01:00"
    assert request["dispenseRequest"] == {"quantity": {"value": 30, "unit": "tablet"}, "numberOfRepeatsAllowed": 3}
    assert request["groupIdentifier"]["value"] == "GRP-2"
    weight = one(result, "Observation")
    assert [r["reference"] for r in request["supportingInformation"]] == [
        next(e["fullUrl"] for e in result.bundle["entry"] if e["resource"] is weight)]
    assert ("PUT", "MedicationRequest?identifier=urn:tessera:hl7v2:authority:EHR|RX-5", None) in requests(result)


@pytest.mark.parametrize("control, status, expected", [("CA", "", "cancelled"), ("DC", "", "stopped"),
                                                       ("HD", "", "on-hold"), ("NW", "CM", "completed"),
                                                       ("DC", "DC", "stopped"), ("XO", "DC", "stopped"),
                                                       ("OC", "CA", "cancelled")])
def test_medication_request_status_follows_the_order_control(control, status, expected):
    assert one(run(rde(control, status=status)), "MedicationRequest")["status"] == expected


def test_a_requested_pharmacy_order_without_rxe_uses_rxo():
    rxo = "RXO|00071015523^Atorvastatin 10 mg tab^NDC|1||TAB^tablet^HL70292"
    request = one(run(rde(detail=rxo)), "MedicationRequest")
    assert request["medicationCodeableConcept"]["coding"][0]["code"] == "00071015523"
    assert request["dosageInstruction"][0]["doseAndRate"] == [{"doseQuantity": {"value": 1, "unit": "tablet"}}]


def test_a_dispense_names_the_order_it_fills_and_only_creates_that_order_when_missing():
    text = rde().replace("RDE^O11^RDE_O11", "RDS^O13^RDS_O13").replace("|EHR|", "|PHARM|", 1) + "\r" + (
        "RXD|1|00071015523^Atorvastatin 10 mg tab^NDC|20260105093000|30|TAB^tablet|TAB|PN-77||Dispensed in vial|"
        "88^Pharmacist^Paul") + "\rRXR|PO^Oral^HL70162"
    result = run(text)
    dispense = one(result, "MedicationDispense")
    request_url = next(e["fullUrl"] for e in result.bundle["entry"]
                       if e["resource"]["resourceType"] == "MedicationRequest")
    assert dispense["authorizingPrescription"] == [{"reference": request_url}]
    assert dispense["status"] == "completed" and dispense["quantity"] == {"value": 30, "unit": "tablet"}
    assert dispense["whenHandedOver"] == "2026-01-05T09:30:00+01:00"
    assert dispense["performer"][0]["actor"]["display"] == "Paul Pharmacist"
    assert dispense["note"] == [{"text": "Dispensed in vial"}]
    assert {"system": "urn:tessera:hl7v2:authority:GENHOSP", "value": "PN-77"} in dispense["identifier"]
    methods = {url.split("?")[0]: method for method, url, _ in requests(result)}
    assert methods["MedicationRequest"] == "POST" and methods["MedicationDispense"] == "PUT"


@pytest.mark.parametrize("text, segment", [
    ("\r".join([msh("RDE^O11^RDE_O11"), pid(), "ORC|NW|RX-5^EHR"]), "RXE"),
    ("\r".join([msh("RDS^O13^RDS_O13"), pid(), "ORC|NW|RX-5^EHR", RXE]), "RXD"),
    ("\r".join([msh("RDE^O11^RDE_O11"), pid(), "ORC|NW|RX-5^EHR", "RXE||"]), "RXE")])
def test_a_pharmacy_order_without_its_medication_or_dispense_is_an_error(text, segment):
    with pytest.raises(MappingError) as info:
        run(text)
    assert info.value.issues[0].segment == segment


def test_a_pharmacy_order_in_an_orm_message_is_a_medication_request():
    text = "\r".join([msh("ORM^O01^ORM_O01", sender="EHR"), pid(), "ORC|NW|RX-6^EHR",
                      "RXO|00071015523^Atorvastatin 10 mg tab^NDC|1||TAB^tablet", "RXR|PO^Oral^HL70162",
                      "DG1|1||E78.5^Hyperlipidemia^I10C"])
    result = run(text)
    request = one(result, "MedicationRequest")
    assert request["dosageInstruction"][0]["route"]["coding"][0]["code"] == "PO"
    assert request["reasonReference"] and not resources(result, "ServiceRequest")
    assert ("PUT", "MedicationRequest?identifier=urn:tessera:hl7v2:authority:EHR|RX-6", None) in requests(result)


def ppr(trigger: str, prb: str, *extra: str) -> str:
    return "\r".join([msh(f"PPR^{trigger}^PPR_PC1", sender="EHR"), pid(), prb, *extra])


def _status(condition: dict, element: str) -> str | None:
    return (condition.get(element) or {}).get("coding", [{}])[0].get("code")


def test_a_problem_is_a_problem_list_condition():
    prb = ("PRB|AD|20260101100000|I10^Essential hypertension^I10C|P-9^EHR|||20260101||20260301||||CO^Confirmed|"
           "R^Resolved||20251201")
    condition = one(run(ppr("PC1", prb, "NTE|1||diet first")), "Condition")
    assert condition["category"][0]["coding"][0]["code"] == "problem-list-item"
    assert condition["code"]["coding"][0]["code"] == "I10"
    assert _status(condition, "verificationStatus") == "confirmed"
    assert _status(condition, "clinicalStatus") == "resolved"
    assert (condition["recordedDate"], condition["abatementDateTime"], condition["onsetDateTime"]) == (
        "2026-01-01", "2026-03-01", "2025-12-01")
    assert condition["note"] == [{"text": "diet first"}]
    assert {"value": "P-9", "system": "urn:tessera:hl7v2:authority:EHR"} in condition["identifier"]


@pytest.mark.parametrize("trigger, action", [("PC3", "DE"), ("PC2", "DE")])
def test_a_deleted_problem_is_entered_in_error_without_a_clinical_status(trigger, action):
    prb = f"PRB|{action}|20260101100000|I10^Essential hypertension^I10C|P-9^EHR||||||||||A"
    condition = one(run(ppr(trigger, prb)), "Condition")
    assert _status(condition, "verificationStatus") == "entered-in-error" and "clinicalStatus" not in condition


@pytest.mark.parametrize("action, confirmation, life_cycle, clinical, abated, warned", [
    ("UP", "", "A", "active", False, True), ("UP", "", "", "resolved", True, False),
    ("UP", "", "I", "inactive", True, False), ("DE", "", "R", None, False, False),
    ("UP", "R", "", "resolved", True, False), ("UP", "", "X", None, False, True)])
def test_a_resolution_date_only_ends_a_problem_that_is_over(action, confirmation, life_cycle, clinical, abated,
                                                            warned):
    prb = (f"PRB|{action}|20260101100000|I10^Essential hypertension^I10C|P-9|||20260101||20260301||||"
           f"{confirmation}|{life_cycle}")
    result = run(ppr("PC2", prb))
    condition = one(result, "Condition")
    assert _status(condition, "clinicalStatus") == clinical and ("abatementDateTime" in condition) is abated
    assert ((("PRB", 9) in [(w.segment, w.field) for w in result.warnings]) is warned)


def test_ruled_out_in_the_confirmation_field_is_refuted_not_resolved():
    condition = one(run(ppr("PC2", "PRB|UP|20260101100000|I10^Essential hypertension^I10C|P-9|||||||||R")),
                    "Condition")
    assert _status(condition, "verificationStatus") == "refuted" and "clinicalStatus" not in condition


def test_a_life_cycle_status_sent_in_the_confirmation_field_is_read_with_a_warning():
    result = run(ppr("PC2", "PRB|UP|20260101100000|I10^Essential hypertension^I10C|P-9|||||||||Resolved"))
    assert _status(one(result, "Condition"), "clinicalStatus") == "resolved"
    assert [(w.segment, w.field) for w in result.warnings] == [("PRB", 13)]


def test_a_problem_message_without_a_problem_is_an_error():
    with pytest.raises(MappingError) as info:
        run(ppr("PC1", "NTE|1||nothing"))
    assert info.value.issues[0].segment == "PRB"


def bar(trigger: str, *segments: str) -> str:
    return "\r".join([msh(f"BAR^{trigger}^BAR_P01", sender="PAS"), f"EVN|{trigger}",
                      pid(extra="|||||||ACCT-1^^^GENHOSP^AN"), *segments])


IN1 = "IN1|1|PLAN-A^Gold plan|PAYER-1^^^GENHOSP|Acme Health"


def test_a_patient_account_names_its_coverages_and_carries_the_visit_diagnoses_and_procedures():
    result = run(bar("P01", "PV1|1|I|||||||||||||||||V1^^^GENHOSP^VN", "DG1|1||I10^Hypertension^I10C",
                     "PR1|1||0DTJ4ZZ^Appendectomy^I10P||20260101090000", IN1))
    account = one(result, "Account")
    assert account["status"] == "active" and account["identifier"][0]["value"] == "ACCT-1"
    coverage_url = next(e["fullUrl"] for e in result.bundle["entry"] if e["resource"]["resourceType"] == "Coverage")
    assert account["coverage"] == [{"coverage": {"reference": coverage_url}, "priority": 1}]
    assert one(result, "Condition")["code"]["coding"][0]["code"] == "I10"
    assert one(result, "Procedure")["code"]["coding"][0]["code"] == "0DTJ4ZZ"
    methods = {url.split("?")[0]: method for method, url, _ in requests(result)}
    assert methods["Patient"] == "POST" and methods["Encounter"] == "POST" and methods["Account"] == "PUT"


def test_an_ended_account_is_inactive_and_each_patient_of_a_purge_is_its_own():
    assert one(run(bar("P06")), "Account")["status"] == "inactive"
    second = pid("MRN2^^^GENHOSP^MR", name="Roe^Richard", extra="|||||||ACCT-2^^^GENHOSP^AN")
    accounts = resources(run(bar("P02", "PV1|1|I", second)), "Account")
    assert sorted(a["identifier"][0]["value"] for a in accounts) == ["ACCT-1", "ACCT-2"]
    assert all(a["status"] == "inactive" for a in accounts)
    assert len({a["subject"][0]["reference"] for a in accounts}) == 2


def test_a_charge_is_a_charge_item_naming_its_procedure_and_a_payment_is_not():
    text = "\r".join([msh("DFT^P03^DFT_P03", sender="BILL"), "EVN|P03", pid(extra="|||||||ACCT-1^^^GENHOSP^AN"),
                      "PV1|1|I|||||||||||||||||V1^^^GENHOSP^VN",
                      "FT1|1|T-1||20260101|20260101|CG|71045^Chest x-ray^C4|||2|100.50&USD||||||||"
                      "R07.9^Chest pain^I10C|12^Reader^Rita|34^Orderer^Olga|||56^Clerk^Carl",
                      "PR1|1||71045^Chest x-ray^C4||20260101090000",
                      "FT1|2|T-2||20260102|20260102|PY|PAY^Payment^L|||1|50&USD",
                      "DG1|1||R07.9^Chest pain^I10C", IN1])
    result = run(text)
    charge = one(result, "ChargeItem")
    assert charge["status"] == "billable" and charge["code"]["coding"][0]["code"] == "71045"
    assert charge["priceOverride"] == {"value": 100.5, "currency": "USD"} and charge["quantity"] == {"value": 2}
    assert charge["occurrenceDateTime"] == "2026-01-01" and charge["reason"][0]["coding"][0]["code"] == "R07.9"
    assert charge["performer"][0]["actor"]["display"] == "Rita Reader" and charge["enterer"]["display"] == "Carl Clerk"
    urls = {e["resource"]["resourceType"]: e["fullUrl"] for e in result.bundle["entry"]}
    assert charge["service"] == [{"reference": urls["Procedure"]}]
    assert charge["account"] == [{"reference": urls["Account"]}] and charge["context"] == {"reference": urls["Encounter"]}
    assert [(w.segment, w.field) for w in result.warnings] == [("FT1", 6)]


def test_a_financial_transaction_message_without_a_transaction_is_an_error():
    with pytest.raises(MappingError) as info:
        run("\r".join([msh("DFT^P03^DFT_P03"), pid()]))
    assert info.value.issues[0].segment == "FT1"


def ref(trigger: str, status: str = "P") -> str:
    return "\r".join([msh(f"REF^{trigger}^REF_I12", sender="EHR"),
                      f"RF1|{status}^Pending^HL70283|S^STAT^HL70280|Med^Medical^HL70281||O|R-1^EHR|20260105|20260205|"
                      "|K63.3^Ulcer of intestine^I10C|X-9^CLINIC",
                      "PRD|RP^Referring provider^HL70286|Powell^Robert^^^Dr|||||LIC-1^SL",
                      "PRD|RT^Referred to provider^HL70286|McWilliams^Paul^^^Dr|||||LIC-2^SL",
                      pid(), "DG1|1||K63.3^Ulcer of intestine^I10C", "OBX|1|ST|22310-7^H pylori Ab^LN||Positive||||||F"])


@pytest.mark.parametrize("trigger, status, expected", [("I12", "P", "active"), ("I13", "A", "active"),
                                                       ("I12", "R", "revoked"), ("I14", "P", "revoked")])
def test_a_referral_is_a_service_request_from_the_referring_to_the_referred_to_provider(trigger, status, expected):
    result = run(ref(trigger, status))
    referral = one(result, "ServiceRequest")
    assert referral["status"] == expected and referral["priority"] == "stat"
    assert referral["category"][0]["coding"][0]["code"] == "3457005"
    assert referral["requester"]["display"] == "Robert Powell"
    assert [p["display"] for p in referral["performer"]] == ["Paul McWilliams"]
    assert referral["authoredOn"] == "2026-01-05" and referral["occurrencePeriod"] == {"end": "2026-02-05"}
    assert referral["reasonCode"][0]["coding"][0]["code"] == "K63.3"
    urls = {e["resource"]["resourceType"]: e["fullUrl"] for e in result.bundle["entry"]}
    assert referral["reasonReference"] == [{"reference": urls["Condition"]}]
    assert referral["supportingInfo"] == [{"reference": urls["Observation"]}]
    assert ("PUT", "ServiceRequest?identifier=urn:tessera:hl7v2:authority:EHR|R-1", None) in requests(result)


def test_a_licence_number_never_names_a_practitioner_of_the_staff_list():
    text = ref("I12").replace("|||||LIC-1^SL", "|||||1234^SL^IL").replace("|||||LIC-2^SL", "|||||1234567893^NPI")
    found = {(method, url if method == "PUT" else f"{url}?{condition}")
             for method, url, condition in requests(run(text + "\rPV1|1|I|||||1234^House^Gregory"))
             if url.startswith("Pract")}
    assert found == {("PUT", "Practitioner?identifier=urn:tessera:hl7v2:authority:GENHOSP|1234"),
                     ("POST", "Practitioner?identifier=urn:tessera:hl7v2:authority:licence%20SL%20IL|1234"),
                     ("POST", "Practitioner?identifier=http://hl7.org/fhir/sid/us-npi|1234567893")}
    stateless = {url for _, url, _ in requests(run(ref("I12")))} | {
        condition for _, _, condition in requests(run(ref("I12"))) if condition}
    assert "identifier=urn:tessera:hl7v2:authority:licence%20SL%20of%20GENHOSP|LIC-1" in stateless


def test_a_referral_without_rf1_is_an_error():
    with pytest.raises(MappingError) as info:
        run("\r".join([msh("REF^I12^REF_I12"), pid()]))
    assert info.value.issues[0].segment == "RF1"


def test_a_dispense_with_only_the_order_numbers_names_that_order():
    text = "\r".join([msh("RDS^O13^RDS_O13", sender="PHARM"), pid(), "ORC|RE|RX-5^EHR",
                      "RXD|1|00071015523^Atorvastatin 10 mg tab^NDC|20260105093000|30|TAB^tablet"])
    result = run(text)
    request = one(result, "MedicationRequest")
    assert request["medicationCodeableConcept"]["coding"][0]["code"] == "00071015523"
    url = next(e["fullUrl"] for e in result.bundle["entry"] if e["resource"] is request)
    assert one(result, "MedicationDispense")["authorizingPrescription"] == [{"reference": url}]
    assert ("POST", "MedicationRequest", "identifier=urn:tessera:hl7v2:authority:EHR|RX-5") in requests(result)
    filler_only = run(text.replace("ORC|RE|RX-5^EHR", "ORC|RE||RX-F1^PHARM"))
    assert not resources(filler_only, "MedicationRequest")
    assert "authorizingPrescription" not in one(filler_only, "MedicationDispense")


def test_a_refill_authorization_request_comes_from_the_pharmacy_and_only_creates_the_order():
    result = run(rde().replace("RDE^O11^RDE_O11", "RDE^O25^RDE_O25"))
    assert ("POST", "MedicationRequest", "identifier=urn:tessera:hl7v2:authority:EHR|RX-5") in requests(result)


@pytest.mark.parametrize("trigger, superseded", [("T10", True), ("T09", True), ("T06", False)])
def test_only_a_replacement_supersedes_its_parent(trigger, superseded):
    text = mdm(trigger, "OBX|1|TX|1^Text||Line||||||F").replace("|DOC-7^EHR|", "|DOC-8^EHR|DOC-7^EHR")
    changes = [(c.query, c.status) for c in run(text).status_changes]
    assert changes == ([("identifier=urn:tessera:hl7v2:authority:EHR|DOC-7", "superseded")] if superseded else [])
