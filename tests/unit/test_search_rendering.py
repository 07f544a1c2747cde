"""FHIR R4 resources become search documents: compartment, dates, codes, title, word text and embed text."""
from __future__ import annotations

import base64
import copy
import json
import re
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path

import pytest

from engine.indexing.model import SearchDocument
from engine.indexing.rendering import EMBED_LIMIT, TEXT_LIMIT, render
from tests.conftest import shared_data
from tests.unit.support import us


def _with_relative_references(bundle: dict) -> list[dict]:
    """The bundle's resources, urn:uuid references rewritten to `Type/id` as a transaction stores them."""
    targets = {entry["fullUrl"]: f"{entry['resource']['resourceType']}/{entry['resource']['id']}"
               for entry in bundle["entry"] if entry.get("fullUrl")}

    def rewrite(node):
        if isinstance(node, dict):
            return {key: (targets.get(value, value) if key == "reference" and isinstance(value, str)
                          else rewrite(value)) for key, value in node.items()}
        if isinstance(node, list):
            return [rewrite(item) for item in node]
        return node

    return [rewrite(entry["resource"]) for entry in bundle["entry"]]


@lru_cache(maxsize=1)
def synthea_bundles() -> tuple[dict, ...]:
    files = sorted(shared_data("fhir-r4", "synthea").glob("*/*.json"))
    assert files, "no Synthea bundles"
    return tuple(json.loads(path.read_text()) for path in files)


@lru_cache(maxsize=1)
def synthea_resources() -> tuple[dict, ...]:
    """Every Synthea resource, references made relative."""
    return tuple(resource for bundle in synthea_bundles() for resource in _with_relative_references(bundle))


def _nested(resource: dict) -> Iterator[dict]:
    yield resource
    if resource.get("resourceType") == "Bundle":
        for entry in resource.get("entry", []):
            if isinstance(entry.get("resource"), dict):
                yield from _nested(entry["resource"])
    for contained in resource.get("contained", []):
        yield contained


@lru_cache(maxsize=1)
def hl7_examples() -> tuple[dict, ...]:
    files = sorted(shared_data("fhir-r4", "hl7-r4-examples").glob("*.json"))
    found = [item for path in files for item in _nested(json.loads(path.read_text())) if item.get("id")]
    assert len(found) > 200
    return tuple(found)


def first(resources, resource_type: str, predicate=lambda resource: True) -> dict:
    return next(resource for resource in resources if resource["resourceType"] == resource_type
                and predicate(resource))


def example(name: str) -> dict:
    return json.loads(Path(shared_data("fhir-r4", "hl7-r4-examples", f"{name}.json")).read_text())


def doc(resource: dict, **kwargs) -> SearchDocument:
    return render(resource, version=kwargs.pop("version", 1), institution=kwargs.pop("institution", None))


def loinc(code: str):
    return lambda resource: any(coding.get("code") == code for coding in resource["code"]["coding"])


# ------------------------------------------------------------------------------------ every resource

def _assert_well_formed(document: SearchDocument, resource: dict) -> None:
    assert document.resource_type == resource["resourceType"]
    assert document.resource_id == resource["id"]
    assert document.title and document.text.startswith(document.title)
    assert 0 < len(document.embed_text) <= EMBED_LIMIT
    assert len(document.text) <= TEXT_LIMIT
    assert all("|" in code for code in document.codes)
    assert len(set(document.codes)) == len(document.codes)
    assert len({display.casefold() for display in document.displays}) == len(document.displays)
    assert document.patient is None or re.fullmatch(r"Patient/[A-Za-z0-9\-.]+", document.patient)


def test_every_synthea_resource_renders():
    resources = synthea_resources()
    assert len(resources) > 5_000
    for resource in resources:
        _assert_well_formed(doc(resource), resource)


def test_every_official_example_renders():
    for resource in hl7_examples():
        _assert_well_formed(doc(resource), resource)


def test_clinical_synthea_resources_have_codes_a_titled_concept_and_a_date():
    clinical = {"Observation", "Condition", "Encounter", "Procedure", "Immunization", "MedicationRequest",
                "DiagnosticReport", "DocumentReference", "AllergyIntolerance", "CarePlan", "Claim",
                "ExplanationOfBenefit", "ImagingStudy"}
    for resource in synthea_resources():
        if resource["resourceType"] in clinical:
            document = doc(resource)
            assert document.codes, document.key
            assert ": " in document.title, document.key
            assert document.date_us is not None, document.key
            assert document.patient and document.patient.startswith("Patient/"), document.key


def test_synthea_embed_texts_are_few_compared_with_resources():
    documents = [doc(resource) for resource in synthea_resources()]
    distinct = {document.embed_text for document in documents}
    assert len(distinct) / len(documents) < 0.1


# ------------------------------------------------------------------------------------------ metadata

def test_version_institution_source_and_status_are_carried():
    resource = {"resourceType": "Observation", "id": "o1", "status": "final", "meta": {"source": "feed#lab"},
                "code": {"text": "Glucose"}}
    document = render(resource, version=7, institution="north")
    assert (document.version, document.institution, document.source, document.status) == (7, "north",
                                                                                          "feed#lab", "final")
    assert document.key == "Observation/o1"


def test_status_falls_back_to_the_clinical_status_code():
    condition = first(synthea_resources(), "Condition")
    assert doc(condition).status == condition["clinicalStatus"]["coding"][0]["code"]
    goal = {"resourceType": "Goal", "id": "g", "lifecycleStatus": "active", "description": {"text": "Walk"}}
    assert doc(goal).status == "active"


def test_a_resource_without_type_or_id_is_refused():
    with pytest.raises(ValueError):
        render({"resourceType": "Observation"}, version=1, institution=None)
    with pytest.raises(ValueError):
        render({"id": "x"}, version=1, institution=None)


# ------------------------------------------------------------------------------------------ patient

def test_a_patient_is_its_own_compartment():
    patient = first(synthea_resources(), "Patient")
    assert doc(patient).patient == f"Patient/{patient['id']}"


def test_clinical_resources_belong_to_the_patient_of_their_bundle():
    for bundle in synthea_bundles():
        patients = [entry["resource"]["id"] for entry in bundle["entry"]
                    if entry["resource"]["resourceType"] == "Patient"]
        if len(patients) != 1:
            continue
        for resource in _with_relative_references(bundle):
            if resource["resourceType"] in ("Observation", "Claim", "Immunization", "Device", "Provenance"):
                assert doc(resource).patient == f"Patient/{patients[0]}", resource["resourceType"]


def test_patient_references_count_as_the_store_reads_them():
    def condition(reference: str) -> dict:
        return {"resourceType": "Condition", "id": "c", "subject": {"reference": reference}}

    assert doc(condition("Patient/p-1")).patient == "Patient/p-1"
    assert doc(condition("Patient/p-1/_history/3")).patient == "Patient/p-1"
    assert doc(condition("urn:uuid:0cd9f8d6-ae86-3b42-7350-da4d678961ac")).patient is None
    assert doc(condition("http://tessera.example/fhir/Patient/p-1")).patient == "Patient/p-1"  # as the store files it
    assert doc(condition("Group/g-1")).patient is None
    assert doc(condition("Patient?identifier=x|1")).patient is None


def test_compartment_elements_specific_to_a_type():
    appointment = {"resourceType": "Appointment", "id": "a", "status": "booked", "participant": [
        {"actor": {"reference": "Practitioner/dr"}}, {"actor": {"reference": "Patient/p-2"}}]}
    coverage = {"resourceType": "Coverage", "id": "c", "beneficiary": {"reference": "Patient/p-3"}}
    directory = {"resourceType": "Organization", "id": "o", "name": "Clinic"}
    assert doc(appointment).patient == "Patient/p-2"
    assert doc(coverage).patient == "Patient/p-3"
    assert doc(directory).patient is None


# --------------------------------------------------------------------------------------------- dates

@pytest.mark.parametrize(("resource", "expected"), [
    ({"resourceType": "Observation", "id": "o", "effectiveDateTime": "2020-08-06T07:03:58+02:00"},
     us(2020, 8, 6, 5, 3, 58)),
    ({"resourceType": "Observation", "id": "o", "effectivePeriod": {"start": "2019-03-04"}}, us(2019, 3, 4)),
    ({"resourceType": "Observation", "id": "o", "issued": "2018-01-02T03:04:05.678Z"},
     us(2018, 1, 2, 3, 4, 5, 678_000)),
    ({"resourceType": "Condition", "id": "c", "onsetDateTime": "2012"}, us(2012)),
    ({"resourceType": "Condition", "id": "c", "onsetString": "childhood", "recordedDate": "2013-05"},
     us(2013, 5)),
    ({"resourceType": "Encounter", "id": "e", "period": {"start": "2021-06-30T23:00:00Z"}},
     us(2021, 6, 30, 23)),
    ({"resourceType": "Procedure", "id": "p", "performedPeriod": {"start": "2020-11-11T19:36:08+00:00"}},
     us(2020, 11, 11, 19, 36, 8)),
    ({"resourceType": "MedicationRequest", "id": "m", "authoredOn": "2015-03-01"}, us(2015, 3, 1)),
    ({"resourceType": "Immunization", "id": "i", "occurrenceDateTime": "2016-07"}, us(2016, 7)),
    ({"resourceType": "DocumentReference", "id": "d", "context": {"period": {"start": "2010-10-10"}}},
     us(2010, 10, 10)),
    ({"resourceType": "Claim", "id": "c", "billablePeriod": {"start": "2001"}, "created": "2002"}, us(2001)),
    ({"resourceType": "Appointment", "id": "a", "start": "2024-02-29T10:00:00Z"}, us(2024, 2, 29, 10)),
    ({"resourceType": "Basic", "id": "b", "created": "2009-09-09"}, us(2009, 9, 9)),
])
def test_the_clinically_relevant_date_is_the_start_of_its_span(resource, expected):
    assert doc(resource).date_us == expected


def test_unparseable_or_missing_dates_are_none():
    assert doc({"resourceType": "Observation", "id": "o", "effectiveDateTime": "yesterday"}).date_us is None
    assert doc({"resourceType": "Observation", "id": "o", "effectiveDateTime": 20200101}).date_us is None
    assert doc({"resourceType": "Observation", "id": "o", "effectiveDateTime": "2020-13-45"}).date_us is None
    assert doc({"resourceType": "Organization", "id": "o", "name": "Clinic"}).date_us is None


def test_synthea_observation_date_is_its_effective_date_time():
    observation = first(synthea_resources(), "Observation")
    text = observation["effectiveDateTime"]
    assert doc(observation).date_us == us(*map(int, re.split(r"[-T:]", text[:19])))


# ------------------------------------------------------------------------------------ codes, title

def test_codes_are_system_and_code_of_clinical_concepts_not_tags():
    observation = first(synthea_resources(), "Observation", lambda r: "meta" in r and "tag" in r["meta"])
    document = doc(observation)
    assert "http://loinc.org|" + observation["code"]["coding"][0]["code"] in document.codes
    assert not any("smarthealthit" in code for code in document.codes)
    assert document.codes[0].startswith("http://loinc.org|")


def test_condition_title_names_the_condition():
    condition = first(synthea_resources(), "Condition", lambda r: r["code"]["text"] == "Hypertension")
    document = doc(condition)
    assert document.title == "Condition: Hypertension"
    assert "Hypertension" in document.displays
    assert document.embed_text.startswith("Condition: Hypertension")


def test_immunization_title_uses_the_vaccine():
    immunization = first(synthea_resources(), "Immunization",
                         lambda r: r["vaccineCode"]["coding"][0]["code"] == "140")
    assert doc(immunization).title == "Immunization: Influenza, seasonal, injectable, preservative free"


def test_lab_observation_title_uses_the_loinc_display():
    a1c = first(synthea_resources(), "Observation", loinc("4548-4"))
    assert doc(a1c).title == "Observation: Hemoglobin A1c/Hemoglobin.total in Blood"


def test_medication_named_through_a_contained_medication():
    document = doc(example("MedicationRequest-medrx0301"))
    assert document.title == "Medication request: Oral Form Oxycodone (product)"
    assert "http://snomed.info/sct|430127000" in document.codes


def test_encounter_class_without_display_reads_as_words():
    encounter = first(synthea_resources(), "Encounter", lambda r: r["class"]["code"] == "EMER")
    document = doc(encounter)
    assert "emergency" in document.text
    assert "Class: emergency" in document.embed_text


def test_interpretation_codes_without_display_read_as_words():
    observation = {"resourceType": "Observation", "id": "o", "code": {"text": "Potassium"},
                   "valueQuantity": {"value": 6.1, "unit": "mmol/L"}, "interpretation": [{"coding": [
                       {"system": "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation",
                        "code": "H"}]}]}
    assert "Interpretation: High" in doc(observation).text


def test_directory_resources_are_titled_by_name():
    organization = first(synthea_resources(), "Organization")
    practitioner = first(synthea_resources(), "Practitioner")
    assert doc(organization).title == f"Organization: {organization['name']}"
    assert "Healthcare Provider" in doc(organization).text
    assert doc(practitioner).title.startswith("Practitioner: Dr. ")


# ------------------------------------------------------------------------------- text and embed text

def test_a_quantity_value_is_in_the_text_but_not_in_the_embed_text():
    weight = first(synthea_resources(), "Observation", loinc("29463-7"))
    document = doc(weight)
    quantity = weight["valueQuantity"]
    value = f"{quantity['value']:.2f}".rstrip("0").rstrip(".")
    assert f"{value} {quantity['unit']}" in document.text
    assert value not in document.embed_text and quantity["unit"] not in document.embed_text
    assert document.embed_text == "Observation: Body Weight. Category: vital-signs"


def test_body_weight_observations_share_one_embed_text():
    weights = [resource for resource in synthea_resources()
               if resource["resourceType"] == "Observation" and loinc("29463-7")(resource)]
    assert len(weights) > 100
    assert len({json.dumps(weight["valueQuantity"]) for weight in weights}) > 100
    embed_texts = {doc(weight).embed_text for weight in weights}
    assert embed_texts == {"Observation: Body Weight. Category: vital-signs"}


def test_blood_pressure_components_show_their_values_and_units():
    pressure = first(synthea_resources(), "Observation", loinc("55284-4"))
    document = doc(pressure)
    systolic = next(component for component in pressure["component"]
                    if component["code"]["coding"][0]["code"] == "8480-6")
    value = f"{systolic['valueQuantity']['value']:.2f}".rstrip("0").rstrip(".")
    assert f"Systolic Blood Pressure {value} mm[Hg]" in document.text
    assert "Systolic Blood Pressure" in document.embed_text and value not in document.embed_text
    assert "http://loinc.org|8480-6" in document.codes


def test_a_coded_value_is_part_of_the_embed_text():
    smoking = first(synthea_resources(), "Observation", loinc("72166-2"))
    document = doc(smoking)
    assert smoking["valueCodeableConcept"]["text"] in document.embed_text
    assert smoking["valueCodeableConcept"]["text"] in document.displays


def test_embed_text_has_no_dates_ids_or_names():
    patient = first(synthea_resources(), "Patient")
    given = patient["name"][0]["given"][0]
    for resource in synthea_resources():
        embed_text = doc(resource).embed_text
        assert not re.search(r"\d{4}-\d{2}-\d{2}", embed_text)
        assert resource["id"] not in embed_text
        assert given not in embed_text


def test_reference_range_and_reason_are_in_the_text():
    document = doc(_first_hl7_with_range())
    assert "Reference range:" in document.text
    procedure = first(synthea_resources(), "Procedure", lambda r: "reasonReference" in r)
    reason = procedure["reasonReference"][0]["display"]
    assert f"Reason: {reason}" in doc(procedure).text and reason in doc(procedure).embed_text


def _first_hl7_with_range() -> dict:
    return next(resource for resource in hl7_examples()
                if resource["resourceType"] == "Observation" and "referenceRange" in resource
                and "valueQuantity" in resource)


def test_patient_text_has_name_gender_and_birth_date_and_embed_text_has_neither_name_nor_date():
    patient = first(synthea_resources(), "Patient")
    document = doc(patient)
    name = patient["name"][0]
    assert f"{name['given'][0]} {name['family']}" in document.text
    assert f"Gender: {patient['gender']}" in document.text
    assert f"Born: {patient['birthDate']}" in document.text
    assert document.embed_text == f"Patient. Gender: {patient['gender']}"
    assert document.date_us == us(*map(int, patient["birthDate"].split("-")))


def test_medication_dosage_instructions_are_in_the_text():
    document = doc(example("MedicationRequest-medrx0301"))
    assert "as needed for rib pain" in document.text
    assert "dose 1 TAB - 2 TAB" in document.text


def test_notes_are_in_the_text():
    document = doc(example("MedicationRequest-medrx0301"))
    assert "Note: Patient told to take with food" in document.text


def test_a_base64_text_attachment_is_decoded():
    reference = first(synthea_resources(), "DocumentReference")
    document = doc(reference)
    decoded = base64.b64decode(reference["content"][0]["attachment"]["data"]).decode()
    assert "Chief Complaint" in decoded and "Chief Complaint" in document.text
    assert "Chief Complaint" not in document.embed_text


def test_a_report_presented_form_is_decoded():
    report = first(synthea_resources(), "DiagnosticReport", lambda r: "presentedForm" in r)
    assert "Chief Complaint" in doc(report).text


def test_an_attachment_without_content_type_is_decoded_when_it_is_utf8_text():
    text = "Discharge summary: patient stable, follow up in two weeks. Température normale."
    reference = {"resourceType": "DocumentReference", "id": "d", "content": [
        {"attachment": {"data": base64.b64encode(text.encode()).decode()}}]}
    assert text in doc(reference).text


def test_binary_attachments_are_not_decoded():
    pdf = {"resourceType": "DocumentReference", "id": "d", "content": [{"attachment": {
        "contentType": "application/pdf", "data": base64.b64encode(b"%PDF-1.4 binary").decode()}}]}
    noise = {"resourceType": "DocumentReference", "id": "d", "content": [{"attachment": {
        "data": base64.b64encode(bytes(range(256))).decode()}}]}
    assert "PDF" not in doc(pdf).text
    assert doc(noise).text == "Document reference"


def test_html_attachments_and_narratives_are_stripped_of_markup():
    markup = "<html><body><p>Fracture&nbsp;of <b>clavicle</b></p><script>x()</script></body></html>"
    reference = {"resourceType": "DocumentReference", "id": "d", "content": [{"attachment": {
        "contentType": "text/html", "data": base64.b64encode(markup.encode()).decode()}}]}
    assert "Fracture of clavicle" in doc(reference).text
    narrative = {"resourceType": "Condition", "id": "c", "code": {"text": "Burn"}, "text": {
        "status": "additional", "div": '<div xmlns="http://www.w3.org/1999/xhtml"><p>Severe &amp; '
                                       'painful<br/>burn of <i>left</i> ear</p></div>'}}
    text = doc(narrative).text
    assert "Severe & painful burn of left ear" in text
    assert "<" not in text


def test_official_example_narratives_lose_their_tags():
    for resource in hl7_examples():
        assert not re.search(r"</?(div|p|table|td|br|b)\b", doc(resource).text), resource["id"]


def test_a_huge_generated_narrative_is_skipped():
    rows = "".join(f"<tr><td>row {index}</td></tr>" for index in range(400))
    resource = {"resourceType": "Condition", "id": "c", "code": {"text": "Gout"},
                "text": {"status": "generated", "div": f"<div><table>{rows}</table></div>"}}
    assert "row 1" not in doc(resource).text
    resource["text"]["status"] = "additional"
    assert "row 1" in doc(resource).text


def test_the_text_is_capped():
    long = "word " * 10_000
    resource = {"resourceType": "DocumentReference", "id": "d", "description": "Scan", "content": [
        {"attachment": {"contentType": "text/plain", "data": base64.b64encode(long.encode()).decode()}}]}
    document = doc(resource)
    assert TEXT_LIMIT - 100 < len(document.text) <= TEXT_LIMIT


def test_types_without_a_spec_are_rendered_generically():
    risk = {"resourceType": "RiskAssessment", "id": "r", "status": "final",
            "subject": {"reference": "Patient/p-9"}, "occurrenceDateTime": "2020-02-02",
            "method": {"coding": [{"system": "http://snomed.info/sct", "code": "1", "display": "Risk tool"}]},
            "prediction": [{"outcome": {"text": "Heart attack"}, "probabilityDecimal": 0.12}],
            "note": [{"text": "Discussed lifestyle"}]}
    document = doc(risk)
    assert document.patient == "Patient/p-9"
    assert document.date_us == us(2020, 2, 2)
    assert "http://snomed.info/sct|1" in document.codes
    assert "Risk tool" in document.text and "Discussed lifestyle" in document.text
    assert document.title == "Risk assessment: Risk tool"


# --------------------------------------------------------------------------------- broken resources

def test_a_broken_resource_still_yields_its_codes():
    broken = {"resourceType": "Observation", "id": "bad", "status": 5,
              "code": {"coding": [{"system": "http://loinc.org", "code": "2339-0", "display": "Glucose"},
                                  "not a coding", None]},
              "category": "vital-signs", "component": ["oops", {"code": 3, "valueQuantity": "high"}],
              "valueQuantity": {"value": "NaN", "unit": 12}, "referenceRange": [{"low": [1, 2]}],
              "effectiveDateTime": {"start": "2020"}, "subject": {"reference": 42},
              "note": [{"text": 5}, "plain"], "text": {"status": "generated", "div": None},
              "meta": "broken", "interpretation": {"coding": {"code": "H"}}}
    document = doc(broken)
    assert document.codes == ("http://loinc.org|2339-0",)
    assert document.title == "Observation: Glucose"
    assert document.patient is None and document.date_us is None and document.status is None


@pytest.mark.parametrize("value", [None, 1, "x", [], [1, "a", None], {"coding": "x"}, {"text": 3}, True])
def test_any_element_may_hold_garbage(value):
    for resource in (first(synthea_resources(), "Observation"), first(synthea_resources(), "Claim"),
                     first(synthea_resources(), "Patient"), first(synthea_resources(), "DocumentReference")):
        for key in resource:
            if key in ("resourceType", "id"):
                continue
            damaged = copy.deepcopy(resource)
            damaged[key] = value
            document = doc(damaged)
            assert document.key == f"{resource['resourceType']}/{resource['id']}"


def test_a_resource_with_only_type_and_id_renders():
    document = doc({"resourceType": "Observation", "id": "bare"})
    assert (document.title, document.text, document.embed_text, document.codes) == (
        "Observation", "Observation", "Observation", ())
