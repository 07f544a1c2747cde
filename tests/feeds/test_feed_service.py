"""The feed pipeline on SQLite and PostgreSQL: stable identity, duplicates, merges, error queue and replay."""
from __future__ import annotations

from engine.feeds.ports import MessageTranslator, UnreadableMessage, UntranslatableMessage
from engine.feeds.model import FeedIssue
from engine.feeds.service import FeedService
from tests.feeds import messages


def _search(container, resource_type: str, **params) -> dict:
    return container.search.search(resource_type, list(params.items()), base_url="http://t/fhir")


def _patients(container, mrn: str) -> list[dict]:
    bundle = _search(container, "Patient", identifier=mrn)
    return [e["resource"] for e in bundle.get("entry", []) if e["search"]["mode"] == "match"]


def test_an_admission_creates_patient_encounter_and_provenance(container):
    outcome = container.feeds.receive(messages.adt("A01", "C1").encode(), peer="test")
    assert outcome.ack_code == "AA", outcome.issues
    [patient] = _patients(container, "MRN001")
    assert patient["name"][0]["family"] == "Doe"
    assert patient["meta"]["source"].startswith("urn:tessera:hl7v2:")
    encounters = _search(container, "Encounter", subject=f"Patient/{patient['id']}")
    assert encounters["total"] == 1
    provenance = _search(container, "Provenance", _count="50")
    entities = [e["resource"]["entity"][0]["what"]["identifier"]["value"] for e in provenance["entry"]]
    assert entities == [str(outcome.message_id)]


def test_an_update_before_its_admission_and_repeats_update_the_same_resources(container):
    assert container.feeds.receive(messages.adt("A08", "C1", family="Early").encode()).ack_code == "AA"
    assert container.feeds.receive(messages.adt("A01", "C2", family="Doe").encode()).ack_code == "AA"
    assert container.feeds.receive(messages.adt("A08", "C3", family="Later").encode()).ack_code == "AA"
    [patient] = _patients(container, "MRN001")
    assert patient["name"][0]["family"] == "Later"
    assert patient["meta"]["versionId"] == "3"
    assert _search(container, "Encounter", identifier="V001")["total"] == 1


def test_a_repeated_update_with_unchanged_content_makes_no_new_version(container):
    assert container.feeds.receive(messages.adt("A08", "U1").encode()).ack_code == "AA"
    [patient] = _patients(container, "MRN001")
    with container.store.unit_of_work(read_only=True) as uow:
        before = len(uow.outbox(limit=10_000))
    repeat = container.feeds.receive(messages.adt("A08", "U2").encode())  # new control id, same content
    assert repeat.ack_code == "AA" and not repeat.duplicate
    [again] = _patients(container, "MRN001")
    assert again["meta"]["versionId"] == patient["meta"]["versionId"] == "1"
    with container.store.unit_of_work(read_only=True) as uow:
        written = [(e.resource_type, e.operation) for e in uow.outbox(limit=10_000)[before:]]
    assert ("Patient", "upsert") not in written  # the Patient repeat wrote nothing; the Provenance is new
    assert ("Provenance", "upsert") in written
    changed = container.feeds.receive(messages.adt("A08", "U3", family="Other").encode())
    assert changed.ack_code == "AA"
    assert _patients(container, "MRN001")[0]["meta"]["versionId"] == "2"


def test_a_duplicate_control_id_is_acknowledged_without_writing_twice(container):
    first = container.feeds.receive(messages.oru("C9").encode())
    again = container.feeds.receive(messages.oru("C9").encode())
    assert (first.ack_code, again.ack_code, again.duplicate) == ("AA", "AA", True)
    assert _search(container, "Observation", _summary="count")["total"] == 1
    assert _search(container, "Provenance", _summary="count")["total"] == 1
    [observation] = [e["resource"] for e in _search(container, "Observation")["entry"]]
    assert observation["meta"]["versionId"] == "1"


def test_a_resend_with_a_renewed_send_time_and_other_segment_endings_is_a_duplicate(container):
    first = container.feeds.receive(messages.oru("R1").encode())
    resent = messages.oru("R1").replace("20260101130000||ORU", "20260101131500||ORU", 1).replace("\r", "\r\n")
    again = container.feeds.receive(b"\x0b" + resent.encode() + b"\x1c\r")
    assert (first.ack_code, again.ack_code, again.duplicate) == ("AA", "AA", True)
    assert _search(container, "Observation", _summary="count")["total"] == 1


def test_a_control_id_reused_by_a_different_message_is_processed_with_a_warning(container):
    first = container.feeds.receive(messages.adt("A01", "N1", mrn="MRN-A", family="First").encode())
    other = container.feeds.receive(messages.adt("A01", "N1", mrn="MRN-B", family="Second").encode())
    assert (first.ack_code, other.ack_code, other.duplicate) == ("AA", "AA", False)
    [warning] = [issue for issue in other.issues if issue.code == "205"]
    assert (warning.segment, warning.field, warning.severity) == ("MSH", 10, "W")
    assert [p["name"][0]["family"] for p in _patients(container, "MRN-B")] == ["Second"]
    assert container.feeds.receive(messages.adt("A01", "N1", mrn="MRN-B", family="Second").encode()).duplicate
    assert container.feeds.receive(messages.adt("A01", "N1", mrn="MRN-A", family="First").encode()).duplicate
    retyped = container.feeds.receive(messages.adt("A08", "N1", mrn="MRN-A", family="First").encode())
    assert not retyped.duplicate and retyped.ack_code == "AA"  # same segments, another event: not a re-send
    with container.store.unit_of_work(read_only=True) as uow:
        assert len(uow.processed_messages("LAB|GENHOSP", "N1", 10)) == 3


def test_a_merge_keeps_the_survivor_and_moves_references(container):
    assert container.feeds.receive(messages.adt("A01", "M1", mrn="OLD1", visit="VOLD").encode()).ack_code == "AA"
    assert container.feeds.receive(messages.oru("M2", mrn="OLD1").encode()).ack_code == "AA"
    assert container.feeds.receive(messages.adt("A01", "M3", mrn="NEW1", visit="VNEW").encode()).ack_code == "AA"
    outcome = container.feeds.receive(messages.a40("M4", survivor="NEW1", merged="OLD1").encode())
    assert outcome.ack_code == "AA", outcome.issues
    [old] = _patients(container, "OLD1")
    [new] = _patients(container, "NEW1")
    assert old["active"] is False
    assert {"other": {"reference": f"Patient/{new['id']}"}, "type": "replaced-by"} in old["link"]
    assert _search(container, "Observation", subject=f"Patient/{old['id']}")["total"] == 0
    assert _search(container, "Observation", subject=f"Patient/{new['id']}")["total"] == 1
    assert _search(container, "Encounter", subject=f"Patient/{new['id']}")["total"] == 2


def test_a_merge_naming_an_unknown_patient_is_an_error_and_changes_nothing(container):
    assert container.feeds.receive(messages.adt("A01", "U1", mrn="NEW2").encode()).ack_code == "AA"
    outcome = container.feeds.receive(messages.a40("U2", survivor="NEW2", merged="GHOST").encode())
    assert outcome.ack_code == "AE"
    assert any(issue.segment == "MRG" for issue in outcome.issues)
    [new] = _patients(container, "NEW2")
    assert new["meta"]["versionId"] == "1"


def test_bad_messages_go_to_the_error_queue_with_the_reason(container):
    garbage = container.feeds.receive(b"this is not HL7")
    missing = container.feeds.receive(messages.without_pid3("E1").encode())
    assert (garbage.ack_code, missing.ack_code) == ("AR", "AE")
    assert any(issue.segment == "PID" and issue.field == 3 for issue in missing.issues)
    queue = {m.message_id: m for m in container.feeds.failed()}
    assert queue[garbage.message_id].status == "rejected"
    assert queue[missing.message_id].status == "failed" and queue[missing.message_id].reason
    assert queue[missing.message_id].raw == messages.without_pid3("E1").encode()


def test_refused_messages_name_the_hl7_error_code_and_field_at_fault(container):
    adt = messages.adt("A01", "R1")
    cases = {"unknown type": (adt.replace("ADT^A01^ADT_A01|R1", "ZZZ^A01^ADT_A01|R1"), (9, "200")),
             "unknown trigger": (adt.replace("ADT^A01^ADT_A01|R1", "ADT^A99^ADT_A01|R2"), (9, "201")),
             "unknown version": (adt.replace("|P|2.5.1", "|P|3.0"), (12, "203"))}
    for label, (message, (field, code)) in cases.items():
        outcome = container.feeds.receive(message.encode())
        assert outcome.ack_code == "AR", label
        [issue] = outcome.issues
        assert (issue.segment, issue.field, issue.code) == ("MSH", field, code), label


def test_identifiers_holding_search_special_characters_still_name_one_patient(container):
    mrn = "B$2\\F\\x\\E\\y"  # B$2|x\y once the HL7 escapes are read
    for control_id in ("S1", "S2"):
        assert container.feeds.receive(messages.adt("A08", control_id, mrn=mrn).encode()).ack_code == "AA"
    bundle = _search(container, "Patient", identifier="urn:tessera:hl7v2:authority:GENHOSP|B$2\\|x\\\\y")
    assert bundle["total"] == 1
    assert bundle["entry"][0]["resource"]["identifier"][0]["value"] == "B$2|x\\y"


def test_a_final_result_replaces_its_preliminary_whatever_order_the_segments_come_in(container):
    header = "MSH|^~\\&|LAB|GENHOSP|TESSERA|TESSERA|20260101130000||ORU^R01^ORU_R01|{}|P|2.5.1"
    pid = "PID|1||MRN001^^^GENHOSP^MR||Doe^Jane||19800101|F"
    obr = "OBR|1||ACC9^LAB|24323-8^Metabolic panel^LN|||20260101125500|||||||||||||||20260101130000|||{}"
    glucose = "OBX|{}|NM|2345-7^Glucose^LN||{}|mg/dL^mg/dL^UCUM|70-99|{}|||{}"
    sodium = "OBX|1|NM|2951-2^Sodium^LN||140|mmol/L^mmol/L^UCUM|135-145|N|||F"
    comments = ["OBX|{}|TX|8251-1^Comment^LN||line {}||||||F".format(n, n) for n in (3, 4)]
    preliminary = [header.format("P1"), pid, obr.format("P"), glucose.format(1, 250, "H", "P")]
    final = [header.format("F1"), pid, obr.format("F"), sodium, glucose.format(2, 95, "N", "F"), *comments]
    for message in (preliminary, final):
        outcome = container.feeds.receive(("\r".join(message) + "\r").encode())
        assert outcome.ack_code == "AA", outcome.issues
    found = [e["resource"] for e in _search(container, "Observation", _count="50")["entry"]]
    glucoses = [o for o in found if o["code"]["coding"][0]["code"] == "2345-7"]
    assert [(o["status"], o["valueQuantity"]["value"]) for o in glucoses] == [("final", 95)]
    assert sorted(o["valueString"] for o in found if o["code"]["coding"][0]["code"] == "8251-1") == [
        "line 3", "line 4"]


def _from_other_facility(message: str) -> bytes:
    return message.replace("|GENHOSP|TESSERA|", "|OTHERHOSP|TESSERA|", 1).encode()


def test_facilities_sharing_an_mrn_authority_each_keep_their_own_patient_record(container):
    """Each sending facility is an institution: another's Patient is absent to its writes, not an error."""
    assert container.feeds.receive(messages.adt("A08", "F1", family="Doe").encode()).ack_code == "AA"
    other = container.feeds.receive(_from_other_facility(messages.adt("A08", "F2", family="Roe")))
    assert other.ack_code == "AA", other.issues
    patients = _patients(container, "MRN001")
    assert sorted((p["name"][0]["family"], p["meta"]["source"].rsplit(":", 1)[1]) for p in patients) == [
        ("Doe", "GENHOSP"), ("Roe", "OTHERHOSP")]
    result = container.feeds.receive(_from_other_facility(messages.oru("F3")))
    assert result.ack_code == "AA", result.issues  # its own patient, not two ambiguous matches
    roe = next(p for p in patients if p["name"][0]["family"] == "Roe")
    observations = _search(container, "Observation", subject=f"Patient/{roe['id']}")
    assert observations["total"] == 1
    again = container.feeds.receive(_from_other_facility(messages.adt("A08", "F4", family="Roe-Smith")))
    assert again.ack_code == "AA"
    assert sorted(p["name"][0]["family"] for p in _patients(container, "MRN001")) == ["Doe", "Roe-Smith"]


class _FlakyTranslator(MessageTranslator):
    """Fails every message until `fixed`, like a mapping bug fixed later."""

    def __init__(self, real: MessageTranslator):
        self.real = real
        self.fixed = False

    def identify(self, raw: bytes):
        return self.real.identify(raw)

    def translate(self, raw: bytes, *, message_id: int, received: str):
        if not self.fixed:
            raise UntranslatableMessage([FeedIssue("PV1", 1, 3, "207", "mapping bug")])
        return self.real.translate(raw, message_id=message_id, received=received)


def test_replay_reprocesses_failed_messages_after_a_fix(container):
    flaky = _FlakyTranslator(container.feeds.translator)
    feeds = FeedService(container.store, container.bundles, flaky, container.feeds.clock)
    assert feeds.receive(messages.adt("A01", "R1").encode()).ack_code == "AE"
    assert _patients(container, "MRN001") == []
    flaky.fixed = True
    [outcome] = feeds.replay()
    assert outcome.ack_code == "AA"
    assert len(_patients(container, "MRN001")) == 1
    assert feeds.failed() == []
    assert feeds.replay() == []


def test_concurrent_messages_about_one_new_patient_create_it_once(container):
    import threading

    outcomes = []

    def send(worker: int) -> None:
        for index in range(5):
            outcomes.append(container.feeds.receive(messages.oru(f"CC{worker}-{index}", mrn="SAME1",
                                                                 order=f"CO{worker}-{index}").encode()))

    threads = [threading.Thread(target=send, args=(worker,)) for worker in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert [o.ack_code for o in outcomes] == ["AA"] * 20, [o.issues for o in outcomes if o.ack_code != "AA"]
    assert len(_patients(container, "SAME1")) == 1
    assert _search(container, "DiagnosticReport", _summary="count")["total"] == 20


class _SlowTranslator(MessageTranslator):
    """Takes its time over each message, so that copies sent together are in flight together."""

    def __init__(self, real: MessageTranslator, seconds: float):
        self.real, self.seconds = real, seconds

    def identify(self, raw: bytes):
        return self.real.identify(raw)

    def translate(self, raw: bytes, *, message_id: int, received: str):
        import time

        time.sleep(self.seconds)
        return self.real.translate(raw, message_id=message_id, received=received)


def test_copies_of_a_message_in_flight_together_are_processed_once(container):
    import threading

    feeds = FeedService(container.store, container.bundles, _SlowTranslator(container.feeds.translator, 0.3),
                        container.feeds.clock)
    raw = messages.oru("TWICE1", mrn="TWICE", order="TW1").encode()
    outcomes = []
    threads = [threading.Thread(target=lambda: outcomes.append(feeds.receive(raw))) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sorted((o.ack_code, o.duplicate) for o in outcomes) == [("AA", False), ("AA", True), ("AA", True)]
    assert _search(container, "DiagnosticReport", _summary="count")["total"] == 1
    assert _search(container, "Provenance", _summary="count")["total"] == 1
    assert feeds.replay() == [], "nothing is left to replay"


def test_a_message_in_flight_is_left_alone_and_one_stuck_for_minutes_is_queued_and_replayed(container):
    from engine.feeds.service import STUCK_AFTER_US

    now = container.feeds.clock()
    translator = container.feeds.translator
    with container.store.unit_of_work() as uow:  # one just arrived, one left behind by a crash long ago
        for control, received in (("FRESH1", now), ("STUCK1", now - STUCK_AFTER_US - 1)):
            raw = messages.oru(control, mrn=control, order=control).encode()
            uow.add_message(received_us=received, channel=translator.channel, peer="test",
                            identity=translator.identify(raw), status="received", reason=None, raw=raw)
        uow.commit()
    assert [m.control_id for m in container.feeds.failed()] == ["STUCK1"]
    [outcome] = container.feeds.replay()
    assert outcome.ack_code == "AA" and outcome.identity.control_id == "STUCK1"
    assert len(_patients(container, "STUCK1")) == 1 and _patients(container, "FRESH1") == []
    assert container.feeds.failed() == []


def test_a_value_no_store_can_hold_gets_ae_naming_it_and_waits_in_the_queue(container):
    raw = messages.adt("A01", "NUL1", mrn="NULMRN").replace("Doe^Jane", "Do\\X00\\e^Jane").encode()
    outcome = container.feeds.receive(raw)
    assert outcome.ack_code == "AE", outcome.issues
    assert any("U+0000" in issue.text for issue in outcome.issues), outcome.issues
    assert [m.control_id for m in container.feeds.failed()] == ["NUL1"]
    assert _patients(container, "NULMRN") == []


def test_an_unexpected_failure_while_storing_gets_ae_and_the_message_waits_in_the_queue(container):
    class Broken:
        def apply_transaction(self, *args, **kwargs):
            raise RuntimeError("disk on fire")

    feeds = FeedService(container.store, Broken(), container.feeds.translator, container.feeds.clock)
    outcome = feeds.receive(messages.oru("BRK1", order="BR1").encode())
    assert outcome.ack_code == "AE" and "RuntimeError" in outcome.issues[0].text
    [queued] = feeds.failed()
    assert queued.control_id == "BRK1" and queued.status == "failed"
    [replayed] = container.feeds.replay()
    assert replayed.ack_code == "AA"


def test_a_message_kept_only_in_part_is_listed_but_never_replayed(container):
    whole = messages.oru("BIG1", value="125").encode()
    head = whole[:whole.index(b"125") + 2]  # cut inside the value: "12"
    refused = container.feeds.reject(head, "larger than the size limit")
    assert refused.ack_code == "AR"
    assert [(m.message_id, m.status) for m in container.feeds.failed()] == [(refused.message_id, "truncated")]
    assert container.feeds.replay() == []
    [named] = container.feeds.replay(message_ids=[refused.message_id])
    assert named.ack_code == "AR" and "cannot be replayed" in named.issues[0].text
    assert "larger than the size limit" in named.issues[0].text  # the reason it was kept only in part
    assert _search(container, "Observation", _summary="count")["total"] == 0
    resent = container.feeds.receive(whole)  # the sender sends it again, whole: it is not a duplicate
    assert (resent.ack_code, resent.duplicate) == ("AA", False)
    [observation] = [e["resource"] for e in _search(container, "Observation")["entry"]]
    assert observation["valueQuantity"]["value"] == 125


def test_a_nul_in_the_message_header_is_refused_and_kept(container):
    for raw in (messages.adt("A01", "N\x001").encode(), messages.adt("A01", "N2", sender="L\x00AB").encode()):
        outcome = container.feeds.receive(raw)
        assert outcome.ack_code == "AR", outcome.issues
        assert outcome.issues[0].code == "102" and outcome.issues[0].field in (3, 10)
    queue = container.feeds.failed()
    assert [m.status for m in queue] == ["rejected", "rejected"]
    assert queue[0].control_id == "N\ufffd1" and queue[1].raw.startswith(b"MSH|^~\\&|L\x00AB|")


class _UnreadableUntilFixed(_FlakyTranslator):
    """Cannot even read the header until `fixed`, like a parser bug fixed later."""

    def identify(self, raw: bytes):
        if not self.fixed:
            raise UnreadableMessage("parser bug")
        return self.real.identify(raw)

    def translate(self, raw: bytes, *, message_id: int, received: str):
        return self.real.translate(raw, message_id=message_id, received=received)


def test_a_replayed_message_unreadable_on_arrival_is_known_by_its_control_id_afterwards(container):
    reader = _UnreadableUntilFixed(container.feeds.translator)
    feeds = FeedService(container.store, container.bundles, reader, container.feeds.clock)
    raw = messages.oru("LATE1", order="LT1").encode()
    assert feeds.receive(raw).ack_code == "AR"
    reader.fixed = True
    [replayed] = feeds.replay()
    assert replayed.ack_code == "AA"
    again = feeds.receive(raw)  # the sender never got its AA and sends it again
    assert (again.ack_code, again.duplicate) == ("AA", True)
    assert _search(container, "Provenance", _summary="count")["total"] == 1


def test_a_refused_batch_still_names_its_sender_and_control_id(container):
    from adapters.feeds.hl7v2_translator import acknowledgement

    batch = ("FHS|^~\\&|LAB|GENHOSP\rBHS|^~\\&|LAB|GENHOSP\r" + messages.adt("A01", "B1")
             + messages.adt("A08", "B2") + "BTS|2\rFTS|1\r").encode()
    outcome = container.feeds.receive(batch)
    assert outcome.ack_code == "AR"
    [kept] = container.feeds.failed()
    assert (kept.sender, kept.control_id) == ("LAB|GENHOSP", "B1")
    ack = acknowledgement(batch, outcome, "ACK1").decode().split("\r")
    assert ack[0].startswith("MSH|^~\\&|TESSERA|TESSERA|LAB|GENHOSP|") and ack[1].startswith("MSA|AR|B1|")


def test_a_replay_tries_the_whole_queue_page_by_page_so_old_failures_hide_nothing(container, monkeypatch):
    from engine.feeds import service

    monkeypatch.setattr(service, "REPLAY_PAGE", 2)
    flaky = _FlakyTranslator(container.feeds.translator)
    feeds = FeedService(container.store, container.bundles, flaky, container.feeds.clock)
    for index in range(5):
        assert feeds.receive(messages.oru(f"Q{index}", order=f"OQ{index}").encode()).ack_code == "AE"
    assert [o.ack_code for o in feeds.replay()] == ["AE"] * 5  # each tried once, none forgotten
    assert len(feeds.replay(limit=3)) == 3
    flaky.fixed = True
    assert [o.ack_code for o in feeds.replay()] == ["AA"] * 5
    assert feeds.failed() == []
