"""ORU rules: Observation values by OBX-2, reference ranges, interpretation, status, report, specimen."""
from __future__ import annotations

import pytest

from adapters.hl7v2 import MappingError
from tests.hl7v2.builders import oru, one, requests, resources, run

UCUM = "http://unitsofmeasure.org"


def _obs(obx: str, **kwargs) -> dict:
    return one(run(oru([obx], **kwargs)), "Observation")


def test_numeric_value_with_ucum_unit_range_interpretation():
    obs = _obs("OBX|1|NM|2345-7^Glucose^LN||5.4|mmol/L^millimole per liter^UCUM|3.9-5.5|N|||F|||20260101095500")
    assert obs["valueQuantity"] == {"value": 5.4, "unit": "millimole per liter", "system": UCUM, "code": "mmol/L"}
    assert obs["referenceRange"][0]["low"]["value"] == 3.9 and obs["referenceRange"][0]["high"]["value"] == 5.5
    assert obs["referenceRange"][0]["text"] == "3.9-5.5"
    assert obs["interpretation"][0]["coding"][0] == {
        "system": "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation", "code": "N"}
    assert obs["status"] == "final" and obs["effectiveDateTime"] == "2026-01-01T09:55:00+01:00"
    assert obs["code"]["coding"][0] == {"system": "http://loinc.org", "code": "2345-7", "display": "Glucose"}


@pytest.mark.parametrize("units, expected", [
    ("mg/dL", {"unit": "mg/dL", "system": UCUM, "code": "mg/dL"}),
    ("10*3/uL^thousand per microliter", {"unit": "thousand per microliter", "system": UCUM, "code": "10*3/uL"}),
    ("beats/min", {"unit": "beats/min", "system": UCUM, "code": "/min"}), ("tera.l-1", {"unit": "tera.l-1"}),
    ("", {}), ("K/uL", {"unit": "K/uL", "system": UCUM, "code": "10*3/uL"}),
    ("F", {"unit": "F", "system": UCUM, "code": "[degF]"}), ("C^degrees C", {"unit": "degrees C", "system": UCUM,
                                                                           "code": "Cel"}),
    ("mL/min/{1.73_m2}", {"unit": "mL/min/{1.73_m2}", "system": UCUM, "code": "mL/min/{1.73_m2}"}),
    ("K^kelvin^UCUM", {"unit": "kelvin", "system": UCUM, "code": "K"}),
    ("mg/g{creat}", {"unit": "mg/g{creat}", "system": UCUM, "code": "mg/g{creat}"}),
])
def test_units_get_ucum_only_when_they_look_like_ucum(units, expected):
    quantity = _obs(f"OBX|1|NM|1^X^L||7|{units}||||||F")["valueQuantity"]
    assert {k: v for k, v in quantity.items() if k != "value"} == expected


@pytest.mark.parametrize("text, low, high", [("3.5-5.0", 3.5, 5.0), ("<5", None, 5), (">10", 10, None),
                                             ("0.0 to 13.0", 0.0, 13.0), ("<=2", None, 2), ("neg", None, None)])
def test_reference_ranges(text, low, high):
    rng = _obs(f"OBX|1|NM|1^X^L||7|mg|{text}|||||F")["referenceRange"][0]
    assert rng.get("low", {}).get("value") == low and rng.get("high", {}).get("value") == high
    assert rng["text"] == text


@pytest.mark.parametrize("value, key, expected", [
    ("^182", "valueQuantity", {"value": 182}),
    (">^10", "valueQuantity", {"value": 10, "comparator": ">"}),
    ("<=^0.5", "valueQuantity", {"value": 0.5, "comparator": "<="}),
    ("^1^-^5", "valueRange", {"low": {"value": 1}, "high": {"value": 5}}),
    ("^1^:^128", "valueRatio", {"numerator": {"value": 1}, "denominator": {"value": 128}}),
])
def test_structured_numeric(value, key, expected):
    assert _obs(f"OBX|1|SN|1^X^L||{value}||||||F")[key] == expected


@pytest.mark.parametrize("kind, value, key, expected", [
    ("CWE", "260385009^Negative^SCT", "valueCodeableConcept",
     {"coding": [{"system": "http://snomed.info/sct", "code": "260385009", "display": "Negative"}]}),
    ("CE", "Y^Yes^HL70136", "valueCodeableConcept",
     {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0136", "code": "Y", "display": "Yes"}]}),
    ("ST", "clear", "valueString", "clear"),
    ("TX", "line one~line two", "valueString", "line one\nline two"),
    ("FT", "a\\.br\\b \\F\\ c", "valueString", "a\nb | c"),
    ("DT", "20250105", "valueDateTime", "2025-01-05"),
    ("TS", "202501051230-0500", "valueDateTime", "2025-01-05T12:30:00-05:00"),
    ("TM", "1230", "valueTime", "12:30:00"),
])
def test_value_types(kind, value, key, expected):
    assert _obs(f"OBX|1|{kind}|1^X^L||{value}||||||F")[key] == expected


@pytest.mark.parametrize("kind, value", [("NM", "abc"), ("NM", "1.2.3"), ("SN", "^x"), ("DT", "20251340"),
                                         ("TM", "2561"), ("TS", "yesterday")])
def test_a_value_that_does_not_match_its_type_is_an_error(kind, value):
    with pytest.raises(MappingError) as info:
        run(oru([f"OBX|1|{kind}|1^X^L||{value}||||||F"]))
    issue = info.value.issues[0]
    assert (issue.segment, issue.sequence, issue.field, issue.code, issue.severity) == ("OBX", 1, 5, "102", "E")
    assert value not in issue.text


def test_bad_obx14_is_an_error():
    with pytest.raises(MappingError) as info:
        run(oru(["OBX|1|NM|1^X^L||1||||||F|||20261399"]))
    assert [(i.field, i.code) for i in info.value.issues] == [(14, "102")]


@pytest.mark.parametrize("code, status", [("F", "final"), ("P", "preliminary"), ("C", "corrected"),
                                          ("X", "cancelled"), ("D", "entered-in-error"), ("W", "entered-in-error"),
                                          ("A", "amended"), ("I", "registered"), ("R", "preliminary"),
                                          ("", "unknown")])
def test_observation_status(code, status):
    assert _obs(f"OBX|1|NM|1^X^L||1||||||{code}")["status"] == status


def test_effective_falls_back_to_obr7_and_notes_attach_to_the_observation():
    result = run(oru(["OBX|1|ST|1^X^L||text||||||F", "NTE|1||first note", "NTE|2||second note"]))
    obs = one(result, "Observation")
    assert obs["effectiveDateTime"] == "2026-01-01T10:00:00+01:00"
    assert obs["note"] == [{"text": "first note"}, {"text": "second note"}]


def test_report_specimen_and_order():
    result = run(oru(["OBX|1|NM|1^X^L||1||||||F", "OBX|2|NM|2^Y^L||2||||||P"],
                     extra=["SPM|1|SP1&EHR^SP9&LAB||119297000^Blood^SCT|||||||||||||20260101090000"]))
    report = one(result, "DiagnosticReport")
    assert report["status"] == "final" and report["code"]["coding"][0]["code"] == "24323-8"
    assert report["effectiveDateTime"] == "2026-01-01T10:00:00+01:00"
    assert report["issued"] == "2026-01-01T11:00:00+01:00"
    assert [i["type"]["coding"][0]["code"] for i in report["identifier"] if "type" in i] == ["PLAC", "FILL"]
    assert len(report["result"]) == 2 and len(report["specimen"]) == 1
    specimen = one(result, "Specimen")
    assert specimen["type"]["coding"][0]["code"] == "119297000"
    assert specimen["collection"]["collectedDateTime"] == "2026-01-01T09:00:00+01:00"
    urls = [url for method, url, _ in requests(result) if method == "PUT"]
    assert ("DiagnosticReport?identifier=urn:tessera:hl7v2:key:report-order|"
            "urn:tessera:hl7v2:authority:LAB^FIL1^24323-8") in urls
    assert ("POST", "ServiceRequest", "identifier=urn:tessera:hl7v2:authority:EHR|ORD1") in requests(result)
    assert ("POST", "Patient", "identifier=urn:tessera:hl7v2:authority:GENHOSP|MRN1") in requests(result)
    for obs in resources(result, "Observation"):
        assert obs["basedOn"] and obs["specimen"] and obs["subject"]["reference"].startswith("urn:uuid:")


def test_obx_without_code_takes_the_report_code():
    obs = _obs("OBX|1|TX|||report line||||||F")
    assert obs["code"]["coding"][0]["code"] == "24323-8"


def test_an_encapsulated_pdf_becomes_the_reports_presented_form():
    result = run(oru(["OBX|1|ED|11526-1^Pathology report^LN||^AP^PDF^Base64^JVBERi0xLjQK||||||F"]))
    report = one(result, "DiagnosticReport")
    assert report["presentedForm"] == [{"contentType": "application/pdf", "data": "JVBERi0xLjQK"}]
    assert not [w for w in result.warnings if w.segment == "OBX"]


def test_text_results_keep_blank_lines_and_indentation():
    observation = one(run(oru(["OBX|1|TX|8251-1^Comment^LN||para one~~  indented~para three||||||F"])), "Observation")
    assert observation["valueString"] == "para one\n\n  indented\npara three"


def test_two_reports_under_one_accession_number_stay_two_reports():
    def obr(number: str, service: str, status: str) -> str:
        return "|".join(["OBR", number, "", "ACC1^LAB", service] + [""] * 20 + [status])

    text = "\r".join([oru(["OBX|1|NM|718-7^Hemoglobin^LN||13.5|g/dL|12-16||||F"], obr=obr("1", "58410-2^CBC^LN", "F")),
                      obr("2", "24323-8^CMP^LN", "P"), "OBX|1|NM|2345-7^Glucose^LN||250|mg/dL|70-99|H|||P"])
    reports = resources(run(text), "DiagnosticReport")
    assert sorted((r["code"]["coding"][0]["code"], r["status"], len(r["result"])) for r in reports) == [
        ("24323-8", "preliminary", 1), ("58410-2", "final", 1)]


def test_a_date_range_value_is_a_period_and_obr8_ends_the_report_period():
    obr = "|".join(["OBR", "1", "", "ACC2^LAB", "2345-7^Glucose^LN", "", "", "20260101080000", "20260102080000"]
                   + [""] * 16 + ["F"])
    result = run(oru(["OBX|1|DR|1^Window^L||20260101^20260131||||||F"], obr=obr))
    assert one(result, "Observation")["valuePeriod"] == {"start": "2026-01-01", "end": "2026-01-31"}
    assert one(result, "DiagnosticReport")["effectivePeriod"] == {"start": "2026-01-01T08:00:00+01:00",
                                                                   "end": "2026-01-02T08:00:00+01:00"}


def test_the_analysis_time_is_an_extension_not_the_issue_time():
    observation = one(run(oru(["OBX|1|NM|2345-7^Glucose^LN||95|mg/dL|||||F||||||||20260101103000"])), "Observation")
    assert "issued" not in observation
    assert observation["extension"] == [{"url": "http://hl7.org/fhir/StructureDefinition/observation-analysis-date-time",
                                         "valueDateTime": "2026-01-01T10:30:00+01:00"}]


SPM = "SPM|1|SP-1&LAB||BLD^Blood^HL70487|||||||P^Patient^HL70369"
OUL_OBR = "OBR|1|PL-1^EHR|FI-1^LAB|2345-7^Glucose^LN|||20260101100000"
OUL_ORC = "ORC|RE|PL-1^EHR|FI-1^LAB"
RESULT = "OBX|1|NM|2345-7^Glucose^LN||5.4|mmol/L|||||F"


def _oul(trigger: str, *segments: str) -> str:
    from tests.hl7v2.builders import msh, pid
    return "\r".join([msh(f"OUL^{trigger}^OUL_{trigger}", sender="LAB"), pid(), *segments])


@pytest.mark.parametrize("trigger, segments", [
    ("R22", [SPM, "OBX|1|NM|SPECVOL^Specimen volume^L||5|mL|||||F", OUL_OBR, OUL_ORC, RESULT]),
    ("R23", [SPM, "OBX|1|NM|SPECVOL^Specimen volume^L||5|mL|||||F", "SAC||C-1", OUL_OBR, OUL_ORC, RESULT]),
    ("R24", [OUL_OBR, OUL_ORC, SPM, "SAC||C-1", RESULT])])
def test_unsolicited_lab_observations_group_results_by_order_around_the_specimen(trigger, segments):
    result = run(_oul(trigger, *segments))
    report = one(result, "DiagnosticReport")
    specimen = one(result, "Specimen")
    specimen_url = next(e["fullUrl"] for e in result.bundle["entry"] if e["resource"] is specimen)
    assert report["specimen"] == [{"reference": specimen_url}]
    assert {i["value"] for i in report["identifier"]} >= {"FI-1"}
    observations = {o["code"]["coding"][0]["code"]: o for o in resources(result, "Observation")}
    urls = {e["resource"]["code"]["coding"][0]["code"]: e["fullUrl"] for e in result.bundle["entry"]
            if e["resource"]["resourceType"] == "Observation"}
    assert [r["reference"] for r in report["result"]] == [urls["2345-7"]]
    assert observations["2345-7"]["specimen"] == {"reference": specimen_url}
    if trigger != "R24":  # an observation of the specimen itself is no result of the order
        assert observations["SPECVOL"]["specimen"] == {"reference": specimen_url}
        assert observations["SPECVOL"]["valueQuantity"]["value"] == 5
