"""Message types beyond ADT and results, end to end into the store (SQLite and PostgreSQL): visit events,
identifier corrections, visit moves and account merges, documents, pharmacy, problems, billing, referrals, and
who may overwrite what."""
from __future__ import annotations

from tests.feeds.stored import _adt, _all, _by_mrn, _message, _oru, _pid, _pv1, _read, _receive


def test_leave_of_absence_pending_discharge_and_deleted_visit_events_update_the_stored_visit(container):
    def visit() -> dict:
        [found] = _all(container, "Encounter", identifier="V1")
        return found

    plans = "PV2||||||||20260101100000|20260110"
    _receive(container, _adt("A01", "1", _pid(), _pv1("V1")), _adt("A21", "2", _pid(), _pv1("V1")))
    assert visit()["status"] == "onleave"
    _receive(container, _adt("A22", "3", _pid(), _pv1("V1")))
    assert visit()["status"] == "in-progress"
    _receive(container, _message("ADT^A16^ADT_A16", "4", "EVN|A16", _pid(), _pv1("V1"), plans))
    assert {e["url"].rsplit(".", 1)[1] for e in visit()["extension"]} == {"plannedStartDate", "plannedEndDate"}
    _receive(container, _message("ADT^A25^ADT_A21", "5", "EVN|A25", _pid(), _pv1("V1"), plans))
    assert {e["url"].rsplit(".", 1)[1] for e in visit()["extension"]} == {"plannedStartDate"}
    assert visit()["status"] == "in-progress"
    _receive(container, _adt("A03", "6", _pid(), _pv1("V1", discharged="20260105100000")),
             _adt("A23", "7", _pid(), _pv1("V1")))
    assert visit()["status"] == "entered-in-error"
    assert visit()["period"]["end"].startswith("2026-01-05")


def test_a_document_notification_without_text_keeps_the_text_it_updates(container):
    def txa(status: str) -> str:
        return f"TXA|1|DS^Discharge summary^HL70270|TX|20260101100000||20260101110000||||||DOC-7^EHR|||||{status}"

    def document() -> dict:
        [found] = _all(container, "DocumentReference", identifier="DOC-7")
        return found

    _receive(container, _message("MDM^T02^MDM_T02", "1", "EVN|T02", _pid(), txa("PA"),
                                 "OBX|1|TX|1^Text||Patient stable.||||||F", app="EHR"))
    text = document()["content"]
    assert text[0]["attachment"]["data"] and document()["docStatus"] == "preliminary"
    _receive(container, _message("MDM^T03^MDM_T01", "2", "EVN|T03", _pid(), txa("AU"), app="EHR"))
    assert document()["content"] == text and document()["docStatus"] == "final"
    _receive(container, _message("MDM^T08^MDM_T02", "3", "EVN|T08", _pid(), txa("AU"),
                                 "OBX|1|TX|1^Text||Patient stable, discharged.||||||F", app="EHR"))
    assert document()["content"] != text and document()["content"][0]["attachment"]["data"]


def _a47(control: str, new: str, old: str) -> bytes:
    return _message("ADT^A47^ADT_A30", control, "EVN|A47|20260102120000", _pid(f"{new}^^^GENHOSP^MR"),
                    f"MRG|{old}^^^GENHOSP^MR")


def test_a_corrected_mrn_replaces_the_wrong_one_on_the_same_record(container):
    _receive(container, _adt("A01", "1", _pid("111^^^GENHOSP^MR"), _pv1("V1")), _oru("2", "111"))
    [before] = _by_mrn(container, "111")
    _receive(container, _a47("3", "999", "111"))
    assert _by_mrn(container, "111") == []  # the wrong number names no one any more
    [after] = _by_mrn(container, "999")
    assert after["id"] == before["id"] and {i["value"] for i in after["identifier"]} == {"999"}
    assert [o["subject"]["reference"] for o in _all(container, "Observation")] == [f"Patient/{after['id']}"]
    [visit] = _all(container, "Encounter", identifier="V1")
    assert visit["subject"]["reference"] == f"Patient/{after['id']}"
    assert any(p["target"][0]["reference"].startswith(f"Patient/{after['id']}/_history/")
               for p in _all(container, "Provenance") if len(p["target"]) == 1)
    _receive(container, _a47("4", "999", "111"))  # the correction again (a replay): nothing changes
    assert _read(container, f"Patient/{after['id']}")["meta"]["versionId"] == after["meta"]["versionId"]
    assert len(_all(container, "Patient")) == 1
    _receive(container, _adt("A08", "5", _pid("111^^^GENHOSP^MR", name="Roe^Richard")))
    assert [p["name"][0]["family"] for p in _by_mrn(container, "111")] == ["Roe"]  # someone else's number
    assert len(_all(container, "Patient")) == 2


def test_a_correction_to_a_number_another_patient_has_is_refused_as_a_merge(container):
    _receive(container, _adt("A01", "1", _pid("111^^^GENHOSP^MR"), _pv1("V1")),
             _adt("A01", "2", _pid("222^^^GENHOSP^MR", name="Roe^Richard"), _pv1("V2")))
    outcome = container.feeds.receive(_a47("3", "222", "111"), peer="test")
    assert outcome.ack_code == "AE"
    assert [(i.segment, i.field, i.code) for i in outcome.issues] == [("PID", 3, "205")]
    assert "merge" in outcome.issues[0].text
    assert {i["value"] for i in _by_mrn(container, "111")[0]["identifier"]} == {"111"}


def test_a_corrected_visit_number_replaces_the_wrong_one_on_the_same_visit(container):
    _receive(container, _adt("A01", "1", _pid(), _pv1("V1")))
    [before] = _all(container, "Encounter", identifier="V1")
    _receive(container, _message("ADT^A50^ADT_A50", "2", "EVN|A50", _pid(), "MRG|||||V1^^^GENHOSP^VN", _pv1("V2")))
    assert _all(container, "Encounter", identifier="V1") == []
    [after] = _all(container, "Encounter", identifier="V2")
    assert after["id"] == before["id"] and [i["value"] for i in after["identifier"]] == ["V2"]
    assert after["status"] == "in-progress" and len(_all(container, "Encounter")) == 1


def test_a_pharmacy_order_and_its_dispense_are_one_request_and_a_dispense_that_names_it(container):
    order = ["ORC|NW|RX-5^EHR||||||||20260105073000", "RXE||00071015523^Atorvastatin 10 mg tab^NDC|1||TAB^tablet|||"
             "|||30|TAB^tablet|3", "RXR|PO^Oral^HL70162"]
    _receive(container, _message("RDE^O11^RDE_O11", "1", _pid(), *order, app="EHR"))
    dispensed = [order[0], order[1].replace("|1||TAB", "|2||TAB"),
                 "RXD|1|00071015523^Atorvastatin 10 mg tab^NDC|20260105093000|30|TAB^tablet||PN-77"]
    _receive(container, _message("RDS^O13^RDS_O13", "2", _pid(), *dispensed, app="PHARM"))
    [request] = _all(container, "MedicationRequest")
    assert request["dosageInstruction"][0]["doseAndRate"][0]["doseQuantity"]["value"] == 1  # the prescriber's
    [dispense] = _all(container, "MedicationDispense")
    assert dispense["authorizingPrescription"] == [{"reference": f"MedicationRequest/{request['id']}"}]
    assert dispense["subject"] == request["subject"] and dispense["quantity"]["value"] == 30


def test_a_problem_added_updated_and_deleted_stays_one_condition(container):
    prb = "PRB|{action}|20260101100000|I10^Essential hypertension^I10C|P-9^EHR|||20260101|||||||{status}"
    for control, trigger, action, status in (("1", "PC1", "AD", "A"), ("2", "PC2", "UP", "R"), ("3", "PC3", "DE", "")):
        _receive(container, _message(f"PPR^{trigger}^PPR_PC1", control, _pid(),
                                     prb.format(action=action, status=status), app="EHR"))
        [condition] = _all(container, "Condition")
        if trigger == "PC2":
            assert condition["clinicalStatus"]["coding"][0]["code"] == "resolved"
    assert condition["verificationStatus"]["coding"][0]["code"] == "entered-in-error"
    assert "clinicalStatus" not in condition


def test_billing_messages_store_an_account_and_charges_for_the_known_patient(container):
    pid = "PID|1||111^^^GENHOSP^MR||Doe^Jane||19800101|F|||1 Main St^^Springfield^IL^62701|||||||ACCT-1^^^GENHOSP^AN"
    _receive(container, _adt("A01", "1", _pid(), _pv1("V1")),
             _message("BAR^P01^BAR_P01", "2", "EVN|P01", pid, _pv1("V1"), "IN1|1|PLAN-A^Gold|PAYER-1^^^GENHOSP|Acme",
                      app="PAS"),
             _message("DFT^P03^DFT_P03", "3", "EVN|P03", pid, _pv1("V1"),
                      "FT1|1|T-1||20260101|20260101|CG|71045^Chest x-ray^C4|||1|80&USD",
                      "PR1|1||71045^Chest x-ray^C4||20260101090000", app="BILL"))
    [patient] = _all(container, "Patient")
    [account] = _all(container, "Account")
    [charge] = _all(container, "ChargeItem")
    [procedure] = _all(container, "Procedure")
    assert account["subject"][0]["reference"] == f"Patient/{patient['id']}" and account["coverage"]
    assert charge["service"] == [{"reference": f"Procedure/{procedure['id']}"}]
    assert charge["account"] == [{"reference": f"Account/{account['id']}"}]
    assert patient["name"][0]["family"] == "Doe" and len(_all(container, "Encounter")) == 1


def test_a_referral_and_its_cancellation_are_one_service_request(container):
    def referral(trigger: str, control: str) -> bytes:
        return _message(f"REF^{trigger}^REF_I12", control, "RF1|P|R|Med||O|R-1^EHR|20260105",
                        "PRD|RP|Powell^Robert|||||LIC-1^SL", "PRD|RT|McWilliams^Paul|||||LIC-2^SL", _pid(), app="EHR")

    _receive(container, referral("I12", "1"))
    [request] = _all(container, "ServiceRequest")
    assert request["status"] == "active" and request["requester"]["reference"].startswith("Practitioner/")
    _receive(container, referral("I14", "2"))
    [request] = _all(container, "ServiceRequest")
    assert request["status"] == "revoked" and len(_all(container, "Practitioner")) == 2


def test_a_write_racing_an_identifier_correction_is_kept(postgres_container, monkeypatch):
    """PostgreSQL only: on SQLite the correction's locking lookup already holds the single writer's lock."""
    import engine.services.identifier_changes as changes

    container = postgres_container
    _receive(container, _adt("A01", "1", _pid("111^^^GENHOSP^MR"), _pv1("V1")))
    [patient] = _by_mrn(container, "111")
    real_named, raced = changes._named, []

    def named_then_raced(uow, resource_type, query, owner, *, for_write=False):
        found = real_named(uow, resource_type, query, owner, for_write=for_write)
        if not raced and "111" in query:  # another writer updates the patient between lookup and lock
            raced.append(True)
            body = dict(_read(container, f"Patient/{patient['id']}"), maritalStatus={"text": "married"})
            container.resources.update("Patient", patient["id"], body)
        return found

    monkeypatch.setattr(changes, "_named", named_then_raced)
    _receive(container, _a47("2", "999", "111"))
    [after] = _by_mrn(container, "999")
    assert raced and after["maritalStatus"] == {"text": "married"}  # the racing write survived the correction
    assert {i["value"] for i in after["identifier"]} == {"999"}


def test_a_message_that_does_not_own_an_allergy_or_diagnosis_never_overwrites_it(container):
    _receive(container, _adt("A01", "1", _pid(), _pv1("V1")),
             _message("ADT^A60^ADT_A60", "2", "EVN|A60", _pid(), _pv1("V1"),
                      "IAM|1|FA|12345^Peanut^L|||D|A-9^EHR||||||20260101", "DG1|1||I10^Hypertension^I10C"))
    [allergy] = _all(container, "AllergyIntolerance")
    [diagnosis] = _all(container, "Condition")
    assert allergy["verificationStatus"]["coding"][0]["code"] == "entered-in-error"
    _receive(container, _message("BAR^P01^BAR_P01", "3", "EVN|P01", _pid(), "AL1|1|FA|12345^Peanut^L", app="PAS"),
             _message("DFT^P03^DFT_P03", "4", "EVN|P03", _pid(), "FT1|1|T-1||20260101|20260101|CG|99213^Visit^C4",
                      "DG1|1||I10^Hypertension^I10C", app="BILL"),
             _message("REF^I12^REF_I12", "5", "RF1|P|R|Med||O|R-1^EHR", _pid(), "DG1|1||I10^Hypertension^I10C",
                      app="EHR"))
    assert _all(container, "AllergyIntolerance") == [allergy]
    assert _all(container, "Condition") == [diagnosis] and diagnosis["encounter"]


def test_patient_accounting_corrects_the_diagnoses_and_procedures_it_codes(container):
    pr1 = "PR1|1||0DTJ4ZZ^Appendectomy^I10P||20260101090000||||||||||||||PROC-1^ADM"
    _receive(container, _adt("A01", "1", _pid(), _pv1("V1")),
             _message("ADT^A08^ADT_A01", "2", "EVN|A08", _pid(), _pv1("V1"), "DG1|1||K35.80^Appendicitis^I10C||"
                      "|W", pr1))
    _receive(container, _message("BAR^P12^BAR_P12", "3", "EVN|P12", _pid(), _pv1("V1"),
                                 "DG1|1||K35.80^Appendicitis^I10C|||F", pr1 + "|D", app="PAS"))
    [diagnosis] = _all(container, "Condition")
    [procedure] = _all(container, "Procedure")
    assert diagnosis["verificationStatus"]["coding"][0]["code"] == "confirmed"
    assert procedure["status"] == "entered-in-error"


def test_a_replacement_document_supersedes_the_one_it_replaces(container):
    def txa(number: str, parent: str = "") -> str:
        return f"TXA|1|DS^Discharge summary^HL70270|TX|20260101100000||20260101110000||||||{number}^EHR|{parent}||||AU"

    _receive(container, _message("MDM^T02^MDM_T02", "1", "EVN|T02", _pid(), txa("DOC-7"),
                                 "OBX|1|TX|1^Text||First version.||||||F", app="EHR"))
    _receive(container, _message("MDM^T10^MDM_T02", "2", "EVN|T10", _pid(), txa("DOC-8", "DOC-7^EHR"),
                                 "OBX|1|TX|1^Text||Second version.||||||F", app="EHR"))
    [old] = _all(container, "DocumentReference", identifier="DOC-7")
    [new] = _all(container, "DocumentReference", identifier="DOC-8")
    assert (old["status"], new["status"]) == ("superseded", "current")
    assert new["relatesTo"][0]["code"] == "replaces"
    _receive(container, _message("MDM^T08^MDM_T02", "2b", "EVN|T08", _pid(), txa("DOC-7"),
                                 "OBX|1|TX|1^Text||First version, edited late.||||||F", app="EHR"))
    [old] = _all(container, "DocumentReference", identifier="DOC-7")
    assert old["status"] == "superseded"  # a late edit does not make the replaced document current again
    other = _pid("222^^^GENHOSP^MR", name="Roe^Richard")
    _receive(container, _message("MDM^T02^MDM_T02", "2c", "EVN|T02", other, txa("DOC-50"),
                                 "OBX|1|TX|1^Text||Someone else's.||||||F", app="EHR"),
             _message("MDM^T10^MDM_T02", "2d", "EVN|T10", _pid(), txa("DOC-51", "DOC-50^EHR"),
                      "OBX|1|TX|1^Text||Names the wrong parent.||||||F", app="EHR"))
    [others] = _all(container, "DocumentReference", identifier="DOC-50")
    assert others["status"] == "current"  # another patient's document is never superseded
    _receive(container, _message("MDM^T10^MDM_T02", "3", "EVN|T10", _pid(), txa("DOC-9", "DOC-404^EHR"),
                                 "OBX|1|TX|1^Text||Replaces one never sent.||||||F", app="EHR"))
    assert len(_all(container, "DocumentReference")) == 5


def test_a_visit_moved_to_another_patient_takes_what_was_recorded_in_it(container):
    _receive(container, _adt("A01", "1", _pid("111^^^GENHOSP^MR"), _pv1("V1")),
             _adt("A01", "2", _pid("222^^^GENHOSP^MR", name="Roe^Richard"), _pv1("V2")),
             _message("ORU^R01^ORU_R01", "3", _pid("111^^^GENHOSP^MR"), _pv1("V1"),
                      "OBR|1|P8|F8|GLU^Glucose^L|||20260103080000", "OBX|1|NM|2345-7^Glucose^LN||5.1|mmol/L|||||F",
                      app="LIS"),
             _oru("4", "111"))  # a result of patient 111 outside the visit
    [first] = _by_mrn(container, "111")
    [second] = _by_mrn(container, "222")
    move = _message("ADT^A45^ADT_A45", "5", "EVN|A45", _pid("222^^^GENHOSP^MR", name="Roe^Richard"),
                    "MRG|111^^^GENHOSP^MR||||V1^^^GENHOSP^VN", _pv1("V1"))
    _receive(container, move)
    [visit] = _all(container, "Encounter", identifier="V1")
    assert visit["subject"]["reference"] == f"Patient/{second['id']}"
    in_visit = [o for o in _all(container, "Observation") if o.get("encounter")]
    outside = [o for o in _all(container, "Observation") if not o.get("encounter")]
    assert [o["subject"]["reference"] for o in in_visit] == [f"Patient/{second['id']}"]
    assert "display" not in in_visit[0]["subject"]  # it named the previous patient
    assert [o["subject"]["reference"] for o in outside] == [f"Patient/{first['id']}"]
    reports = _all(container, "DiagnosticReport", encounter=f"Encounter/{visit['id']}")
    assert [r["subject"]["reference"] for r in reports] == [f"Patient/{second['id']}"]
    moved = _read(container, f"Observation/{in_visit[0]['id']}")["meta"]["versionId"]
    _receive(container, move.replace(b"|5|P|", b"|6|P|"))  # the move again: nothing left to move
    assert _read(container, f"Observation/{in_visit[0]['id']}")["meta"]["versionId"] == moved
    third = _pid("333^^^GENHOSP^MR", name="Poe^Paula")
    _receive(container, _adt("A01", "7", third, _pv1("V3")))
    wrong = container.feeds.receive(_message("ADT^A45^ADT_A45", "8", "EVN|A45", _pid("222^^^GENHOSP^MR"),
                                             "MRG|111^^^GENHOSP^MR||||V3^^^GENHOSP^VN", _pv1("V3")), peer="test")
    assert wrong.ack_code == "AE" and [(i.segment, i.field) for i in wrong.issues] == [("MRG", 1)]
    [v3] = _all(container, "Encounter", identifier="V3")
    assert v3["subject"]["reference"] == f"Patient/{_by_mrn(container, '333')[0]['id']}"  # not handed over


def test_an_account_merged_into_another_hands_over_its_charges_and_closes(container):
    def pid(account: str) -> str:
        return f"PID|1||111^^^GENHOSP^MR||Doe^Jane||19800101|F|||1 Main St^^Springfield^IL^62701|||||||{account}^^^GENHOSP^AN"

    _receive(container, _message("BAR^P01^BAR_P01", "1", "EVN|P01", pid("ACCT-1"), app="PAS"),
             _message("DFT^P03^DFT_P03", "2", "EVN|P03", pid("ACCT-1"),
                      "FT1|1|T-1||20260101|20260101|CG|99213^Visit^C4|||1|80&USD", app="PAS"))
    merge = _message("ADT^A41^ADT_A39", "3", "EVN|A41", pid("ACCT-2"), "MRG|||ACCT-1^^^GENHOSP^AN", app="PAS")
    _receive(container, merge)
    accounts = {a["identifier"][0]["value"]: a for a in _all(container, "Account")}
    assert (accounts["ACCT-1"]["status"], accounts["ACCT-2"]["status"]) == ("inactive", "active")
    [charge] = _all(container, "ChargeItem")
    assert charge["account"] == [{"reference": f"Account/{accounts['ACCT-2']['id']}"}]
    _receive(container, merge.replace(b"|3|P|", b"|4|P|"))  # the merge again: nothing left to change
    assert _read(container, f"ChargeItem/{charge['id']}")["meta"]["versionId"] == charge["meta"]["versionId"]
    other = pid("ACCT-9").replace("111^^^GENHOSP^MR||Doe^Jane", "222^^^GENHOSP^MR||Roe^Richard")
    _receive(container, _message("BAR^P01^BAR_P01", "5", "EVN|P01", other, app="PAS"))
    refused = container.feeds.receive(_message("ADT^A41^ADT_A39", "6", "EVN|A41", pid("ACCT-2"),
                                               "MRG|||ACCT-9^^^GENHOSP^AN", app="PAS"), peer="test")
    assert refused.ack_code == "AE" and [(i.segment, i.field) for i in refused.issues] == [("MRG", 3)]


def test_two_records_of_one_person_are_linked_both_ways_and_unlinked(container):
    def link(trigger: str, control: str) -> bytes:
        return _message(f"ADT^{trigger}^ADT_A24", control, f"EVN|{trigger}", _pid("111^^^GENHOSP^MR"),
                        _pid("222^^^GENHOSP^MR", name="Doe^Janet"))

    def links() -> dict[str, list]:
        return {p["identifier"][0]["value"]: [(x["type"], x["other"]["reference"]) for x in p.get("link", [])]
                for p in _all(container, "Patient")}

    _receive(container, _adt("A01", "1", _pid("111^^^GENHOSP^MR"), _pv1("V1")),
             _adt("A01", "2", _pid("222^^^GENHOSP^MR", name="Doe^Janet"), _pv1("V2")), link("A24", "3"))
    [first] = _by_mrn(container, "111")
    [second] = _by_mrn(container, "222")
    assert links() == {"111": [("seealso", f"Patient/{second['id']}")],
                       "222": [("seealso", f"Patient/{first['id']}")]}
    _receive(container, link("A24", "4"), _adt("A08", "5", _pid("111^^^GENHOSP^MR", name="Doe^Jane^Q")))
    assert links()["111"] == [("seealso", f"Patient/{second['id']}")]  # once, and an update keeps it
    _receive(container, link("A37", "6"))
    assert links() == {"111": [], "222": []}
    _receive(container, link("A24", "6b"), _adt("A01", "6c", _pid("333^^^GENHOSP^MR", name="Poe^Paula")),
             _message("ADT^A40^ADT_A39", "6d", "EVN|A40", _pid("333^^^GENHOSP^MR", name="Poe^Paula"),
                      "MRG|222^^^GENHOSP^MR"), link("A37", "6e"))  # unlinked after 222 was merged into 333
    assert links()["111"] == []
    _receive(container, _message("ADT^A24^ADT_A24", "6f", "EVN|A24", _pid("111^^^GENHOSP^MR"), "PV1|1|I",
                                 _pid("333^^^GENHOSP^MR", name="Poe^Paula"), "PV1|1|I"))
    assert len(_all(container, "Encounter")) == 2  # a visit without a number is no visit to keep
    outcome = container.feeds.receive(_message("ADT^A24^ADT_A24", "7", "EVN|A24", _pid("111^^^GENHOSP^MR")),
                                      peer="test")
    assert outcome.ack_code == "AE" and outcome.issues[0].segment == "PID"


def test_a_person_registered_in_error_is_deleted_unless_records_still_name_them(container):
    def deletion(mrn: str, control: str) -> bytes:
        return _message("ADT^A29^ADT_A21", control, "EVN|A29", _pid(f"{mrn}^^^GENHOSP^MR"))

    _receive(container, _adt("A28", "1", _pid("111^^^GENHOSP^MR")),
             _adt("A01", "2", _pid("222^^^GENHOSP^MR", name="Roe^Richard"), _pv1("V2")))
    [registered] = _by_mrn(container, "111")
    _receive(container, deletion("111", "3"))
    assert _by_mrn(container, "111") == []
    versions = container.history.history(resource_type="Patient", resource_id=registered["id"], params=[],
                                         base_url="http://t/fhir")
    assert len(versions["entry"]) == 2  # kept in the history: registered, then deleted
    _receive(container, deletion("111", "4"))  # deleted before: nothing to do
    outcome = container.feeds.receive(deletion("222", "5"), peer="test")
    assert outcome.ack_code == "AE" and [(i.segment, i.field) for i in outcome.issues] == [("PID", 3)]
    assert "Encounter" in outcome.issues[0].text and len(_by_mrn(container, "222")) == 1
    registration = _message("ADT^A28^ADT_A05", "6", "EVN|A28", _pid("444^^^GENHOSP^MR"), "NK1|1|Doe^John|SPO",
                            "AL1|1|FA|12345^Peanut^L")
    _receive(container, registration, deletion("444", "7"))
    assert _by_mrn(container, "444") == [] and _all(container, "RelatedPerson") == []
    assert _all(container, "AllergyIntolerance") == []  # the registration's records went with the person
    recorded = [p for p in _all(container, "Provenance") if p["activity"]["coding"][0]["code"] == "A29"
                and len(p["target"]) == 3]
    assert recorded and recorded[0]["meta"]["source"].startswith("urn:tessera:hl7v2:ADM")


def test_a_visit_move_leaves_another_institutions_records_alone(container):
    lab = ("MSH|^~\\&|LIS|LABCO|TESSERA|TESSERA|20260101120000||ORU^R01^ORU_R01|L1|P|2.5.1\r"
           "PID|1||111^^^GENHOSP^MR||Doe^Jane\rPV1|1|I|||||||||||||||||V1^^^GENHOSP^VN\r"
           "OBR|1|P7|F7|GLU^Glucose^L|||20260103080000\rOBX|1|NM|2345-7^Glucose^LN||5.1|mmol/L|||||F\r").encode()
    _receive(container, _adt("A01", "1", _pid("111^^^GENHOSP^MR"), _pv1("V1")),
             _adt("A01", "2", _pid("222^^^GENHOSP^MR", name="Roe^Richard"), _pv1("V2")), lab)
    [theirs] = [o for o in _all(container, "Observation") if o["meta"]["source"].endswith(":LABCO")]
    _receive(container, _message("ADT^A45^ADT_A45", "3", "EVN|A45", _pid("222^^^GENHOSP^MR", name="Roe^Richard"),
                                 "MRG|111^^^GENHOSP^MR||||V1^^^GENHOSP^VN", _pv1("V1")))
    after = _read(container, f"Observation/{theirs['id']}")
    assert after["meta"]["versionId"] == theirs["meta"]["versionId"]  # LABCO's record is LABCO's to change


def test_a_deletion_takes_only_the_persons_own_records_and_refuses_anyone_elses(container):
    def deletion(mrn: str, control: str):
        return container.feeds.receive(_message("ADT^A29^ADT_A21", control, "EVN|A29", _pid(f"{mrn}^^^GENHOSP^MR")),
                                       peer="test")

    cancelled = _pv1("V5")
    _receive(container, _adt("A05", "1", _pid("555^^^GENHOSP^MR"), cancelled),
             _adt("A38", "2", _pid("555^^^GENHOSP^MR"), cancelled))
    assert deletion("555", "3").ack_code == "AA"  # a visit that never happened goes with the person
    assert _by_mrn(container, "555") == [] and _all(container, "Encounter") == []
    _receive(container, _adt("A28", "4", _pid("666^^^GENHOSP^MR")), _adt("A28", "5", _pid("777^^^GENHOSP^MR")))
    [six] = _by_mrn(container, "666")
    [seven] = _by_mrn(container, "777")
    container.resources.create({"resourceType": "Account", "status": "active", "subject": [
        {"reference": f"Patient/{seven['id']}"}, {"reference": f"Patient/{six['id']}"}]})
    refused = deletion("666", "6")
    assert refused.ack_code == "AE" and "Account" in refused.issues[0].text  # the account is also 777's
    assert len(_all(container, "Account")) == 1 and len(_by_mrn(container, "666")) == 1
    billing = ("MSH|^~\\&|PAS|BILLCO|TESSERA|TESSERA|20260101120000||BAR^P01^BAR_P01|B1|P|2.5.1\rEVN|P01\r"
               "PID|1||777^^^GENHOSP^MR||Doe^Jane|||||||||||||ACCT-7^^^BILLCO^AN\r").encode()
    _receive(container, billing)
    other = deletion("777", "7")
    assert other.ack_code == "AE" and "another institution" in other.issues[0].text
    _receive(container, _adt("A28", "8", _pid("888^^^GENHOSP^MR")), _adt("A28", "9", _pid("999^^^GENHOSP^MR")),
             _message("ADT^A40^ADT_A39", "10", "EVN|A40", _pid("999^^^GENHOSP^MR"), "MRG|888^^^GENHOSP^MR"))
    merged = deletion("888", "11")
    assert merged.ack_code == "AE" and "merged into another" in merged.issues[0].text
