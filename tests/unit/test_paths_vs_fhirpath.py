"""The compiled search-parameter accessors return exactly what the FHIRPath engine returns."""
from __future__ import annotations

import json
import re
from collections import Counter
from decimal import Decimal
from functools import lru_cache
from importlib import resources as package_files
from typing import Any

import fhirpathpy
import pytest
from fhirpathpy.engine.nodes import ResourceNode
from fhirpathpy.models import models

from engine.search.paths import compile_for_type, compile_part, is_compiled, root_of, split_union

R4 = models["r4"]
_LITERAL = re.compile(r"^(?:https?://[^?#]+/)?([A-Z][A-Za-z]+)/[A-Za-z0-9\-.]{1,64}"
                      r"(?:/_history/[A-Za-z0-9\-.]{1,64})?$")


def resolve(references: list[Any]) -> list[Any]:
    """FHIRPath resolve() for literal references: a stub resource of the referenced type."""
    found = []
    for reference in references:
        text = reference.get("reference") if isinstance(reference, dict) else None
        match = _LITERAL.match(text) if isinstance(text, str) else None
        if match:
            found.append(ResourceNode.create_node({"resourceType": match[1]}, match[1]))
    return found


FHIRPATH_OPTIONS = {"userInvocationTable": {"resolve": {"fn": resolve}}}


def definitions() -> list[dict[str, Any]]:
    text = package_files.files("engine.fhir.definitions").joinpath("search_parameters.json").read_text("utf-8")
    return json.loads(text)["searchParameters"]


def compiles(definition: dict[str, Any]) -> bool:
    """Every part of the expression compiles (root-less parts are rooted at the parameter's base)."""
    parts = split_union(definition.get("expression") or "")
    base = definition["base"][0]
    return bool(parts) and all(is_compiled(p if root_of(p)[:1].isupper() else f"{base}.{p}") for p in parts)


COMPILED = [d for d in definitions() if compiles(d)]

# --- sample resources, built by hand -------------------------------------------------------------------
META = {"versionId": "2", "lastUpdated": "2021-01-02T03:04:05.678+00:00", "source": "urn:src#1",
        "profile": ["http://example.org/StructureDefinition/p"], "tag": [{"system": "urn:t", "code": "vip"}],
        "security": [{"system": "urn:s", "code": "R"}]}
SAMPLES: list[dict[str, Any]] = [
    {"resourceType": "Patient", "id": "p1", "meta": META, "active": True, "gender": "female",
     "birthDate": "1980-02-29", "deceasedBoolean": False, "language": "en",
     "name": [{"use": "official", "family": "Ångström", "given": ["Zoë", "Ann"], "prefix": ["Dr"]},
              {"use": "nickname", "given": ["Zo"], "text": "Zo A."}],
     "telecom": [{"system": "phone", "value": "555-0100", "use": "home"},
                 {"system": "email", "value": "zoe@example.org"}, {"system": "fax", "value": "555-0199"}],
     "address": [{"use": "home", "line": ["1 Main St", "Apt 2"], "city": "Boston", "state": "MA",
                  "postalCode": "02110", "country": "US"},
                 {"use": "work", "city": "Cambridge", "district": "Middlesex", "text": "Kendall Sq"}],
     "identifier": [{"system": "urn:mrn", "value": "A1", "type": {"text": "MRN"}}, {"value": "B2"}],
     "communication": [{"language": {"coding": [{"system": "urn:ietf:bcp:47", "code": "en"}]}}],
     "generalPractitioner": [{"reference": "Practitioner/dr1"}, {"reference": "Organization/o1"}],
     "managingOrganization": {"reference": "https://other.example/fhir/Organization/o2"},
     "link": [{"other": {"reference": "Patient/p0/_history/4"}, "type": "seealso"}]},
    {"resourceType": "Patient", "id": "p2", "deceasedDateTime": "2020-05-06T07:08:09Z",
     "name": [{"family": "Pfister"}], "multipleBirthInteger": 2},
    {"resourceType": "Observation", "id": "o1", "meta": META, "status": "final",
     "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category",
                               "code": "vital-signs"}]}],
     "code": {"coding": [{"system": "http://loinc.org", "code": "85354-9", "display": "Blood pressure"}],
              "text": "BP"},
     "subject": {"reference": "Patient/p1"}, "encounter": {"reference": "Encounter/e1"},
     "effectiveDateTime": "2020-01-10T10:00:00Z", "issued": "2020-01-10T11:00:00.123Z",
     "performer": [{"reference": "Practitioner/dr1"}, {"reference": "Organization/o1"}],
     "valueQuantity": {"value": 60.5, "unit": "kg", "system": "http://unitsofmeasure.org", "code": "kg"},
     "method": {"text": "auscultation"}, "specimen": {"reference": "Specimen/s1"},
     "device": {"reference": "Device/d1"}, "basedOn": [{"reference": "ServiceRequest/sr1"}],
     "partOf": [{"reference": "Procedure/pr1"}], "focus": [{"reference": "Condition/c1"}],
     "hasMember": [{"reference": "Observation/o2"}], "derivedFrom": [{"reference": "Media/m1"}],
     "identifier": [{"system": "urn:obs", "value": "O-1"}],
     "component": [
         {"code": {"coding": [{"system": "http://loinc.org", "code": "8480-6"}]},
          "valueQuantity": {"value": 120, "unit": "mmHg", "system": "http://unitsofmeasure.org",
                            "code": "mm[Hg]"}},
         {"code": {"coding": [{"system": "http://loinc.org", "code": "8462-4"}]},
          "valueCodeableConcept": {"coding": [{"system": "urn:c", "code": "high"}]},
          "dataAbsentReason": {"text": "n/a"}}]},
    {"resourceType": "Observation", "id": "o2", "status": "amended",
     "code": {"coding": [{"system": "http://loinc.org", "code": "72166-2"}]},
     "subject": {"reference": "Group/g1"}, "effectivePeriod": {"start": "2019-05-01", "end": "2019-05-03"},
     "valueCodeableConcept": {"coding": [{"system": "http://snomed.info/sct", "code": "266919005"}],
                              "text": "Never smoker"},
     "dataAbsentReason": {"coding": [{"code": "unknown"}]}},
    {"resourceType": "Observation", "id": "o3", "status": "preliminary", "code": {"text": "note"},
     "subject": {"reference": "Patient/p2/_history/3"},
     "performer": [{"reference": "https://other.example/fhir/Practitioner/dr9"}],
     "effectiveInstant": "2020-02-02T02:02:02.002Z", "valueString": "free text",
     "focus": [{"reference": "urn:uuid:61ebe359-bfdc-4613-8bf2-c5e300945f0a"}]},
    {"resourceType": "Condition", "id": "c1", "clinicalStatus": {"coding": [{"code": "active"}]},
     "verificationStatus": {"coding": [{"code": "confirmed"}]}, "category": [{"text": "problem"}],
     "severity": {"text": "mild"}, "code": {"coding": [{"system": "http://snomed.info/sct", "code": "44054006"}]},
     "bodySite": [{"text": "arm"}], "subject": {"reference": "Patient/p1"},
     "encounter": {"reference": "Encounter/e1"}, "onsetDateTime": "2010-03-04",
     "abatementString": "in remission", "recordedDate": "2010-03-05", "asserter": {"reference": "Practitioner/dr1"},
     "stage": [{"summary": {"text": "stage 1"}}],
     "evidence": [{"code": [{"text": "lab"}], "detail": [{"reference": "Observation/o1"}]}]},
    {"resourceType": "Condition", "id": "c2", "subject": {"reference": "Patient/p2"},
     "code": {"text": "flu"}, "onsetPeriod": {"start": "2021-01-01", "end": "2021-01-10"},
     "abatementDateTime": "2021-01-20"},
    {"resourceType": "Condition", "id": "c3", "subject": {"reference": "Group/g1"},
     "onsetAge": {"value": 40, "unit": "a", "system": "http://unitsofmeasure.org", "code": "a"},
     "abatementPeriod": {"start": "2022-01-01"}},
    {"resourceType": "Encounter", "id": "e1", "status": "finished",
     "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"},
     "classHistory": [{"class": {"code": "EMER"}, "period": {"start": "2020-01-01"}}],
     "statusHistory": [{"status": "arrived", "period": {"start": "2020-01-01"}}],
     "type": [{"text": "checkup"}], "serviceType": {"text": "general"},
     "subject": {"reference": "Patient/p1"}, "episodeOfCare": [{"reference": "EpisodeOfCare/ep1"}],
     "basedOn": [{"reference": "ServiceRequest/sr1"}],
     "participant": [{"type": [{"text": "attender"}], "individual": {"reference": "Practitioner/dr1"},
                      "period": {"start": "2020-01-01T10:00:00Z"}}],
     "appointment": [{"reference": "Appointment/a1"}], "period": {"start": "2020-01-01", "end": "2020-01-02"},
     "length": {"value": 30, "unit": "min", "system": "http://unitsofmeasure.org", "code": "min"},
     "reasonCode": [{"text": "pain"}], "reasonReference": [{"reference": "Condition/c1"}],
     "diagnosis": [{"condition": {"reference": "Condition/c1"}}], "account": [{"reference": "Account/ac1"}],
     "hospitalization": {"specialArrangement": [{"text": "wheelchair"}]},
     "location": [{"location": {"reference": "Location/l1"}, "period": {"start": "2020-01-01"}}],
     "serviceProvider": {"reference": "Organization/o1"}, "partOf": {"reference": "Encounter/e0"},
     "identifier": [{"system": "urn:enc", "value": "E-1"}]},
    {"resourceType": "MedicationRequest", "id": "mr1", "status": "active", "intent": "order",
     "statusReason": {"text": "held"}, "category": [{"text": "outpatient"}], "priority": "routine",
     "medicationCodeableConcept": {"coding": [{"system": "http://www.nlm.nih.gov/research/umls/rxnorm",
                                               "code": "197361", "display": "Amlodipine"}]},
     "subject": {"reference": "Patient/p1"}, "encounter": {"reference": "Encounter/e1"},
     "authoredOn": "2020-01-01T09:00:00Z", "requester": {"reference": "Practitioner/dr1"},
     "performer": {"reference": "Organization/o1"}, "performerType": {"text": "pharmacist"},
     "identifier": [{"system": "urn:rx", "value": "R-1"}],
     "dosageInstruction": [{"timing": {"event": ["2020-01-02"],
                                       "repeat": {"boundsPeriod": {"start": "2020-01-02"}}}}]},
    {"resourceType": "MedicationRequest", "id": "mr2", "status": "stopped", "intent": "plan",
     "medicationReference": {"reference": "Medication/med1"}, "subject": {"reference": "Group/g1"}},
    # Elements whose name is a choice name elsewhere (`location[x]`, `target[x]`, `source[x]`), next to
    # a longer sibling that is not a choice variant: only the exact element may be read.
    {"resourceType": "BodyStructure", "id": "b1", "patient": {"reference": "Patient/p1"},
     "locationQualifier": [{"text": "left"}]},
    {"resourceType": "VerificationResult", "id": "v1", "status": "attested",
     "targetLocation": ["Patient.name"]},
    {"resourceType": "ConceptMap", "id": "cm1", "status": "draft",
     "group": [{"sourceVersion": "1.0", "targetVersion": "2.0", "element": [{"code": "a"}]}]},
]
SAMPLE_IDS = [f"{s['resourceType']}/{s['id']}" for s in SAMPLES]


def canonical(values: list[Any]) -> Counter:
    """Values as a multiset of JSON texts (numbers compared by value)."""
    def plain(value: Any) -> Any:
        if isinstance(value, Decimal):
            return float(value)
        if isinstance(value, dict):
            return {k: plain(v) for k, v in value.items()}
        if isinstance(value, list):
            return [plain(v) for v in value]
        return float(value) if isinstance(value, int) and not isinstance(value, bool) else value
    return Counter(json.dumps(plain(v), sort_keys=True, ensure_ascii=False) for v in values)


@lru_cache(maxsize=None)
def _compiled(expression: str):
    return fhirpathpy.compile(expression, model=R4, options=FHIRPATH_OPTIONS)


def fhirpath(expression: str, resource: dict[str, Any]) -> list[Any]:
    """Evaluate with fhirpathpy, working around two of its limits without changing the meaning.

    fhirpathpy does not treat a Patient as a `Resource`, so a generic root is named by the resource's
    own type. And it raises on `x as T` when x has several items, where the R4 search parameters mean
    the per-item filter (R5 rewrote them as `ofType(T)`), so such expressions are retried with ofType.
    """
    expression = _GENERIC_ROOT.sub(resource["resourceType"] + ".", expression)
    try:
        return _compiled(expression)(resource)
    except ValueError as error:
        if "singleton" not in str(error):
            raise
        return _compiled(_as_to_of_type(expression))(resource)


_GENERIC_ROOT = re.compile(r"(?<![\w.])(?:Domain)?Resource\.")
_AS_INFIX = re.compile(r"\((?P<path>[^()|]+?) as (?P<type>\w+)\)")


def _as_to_of_type(expression: str) -> str:
    expression = _AS_INFIX.sub(lambda m: f"{m['path']}.ofType({m['type']})", expression)
    return expression.replace(".as(", ".ofType(")


def test_nearly_every_indexed_search_parameter_compiles():
    indexed = [d for d in definitions() if d["type"] not in ("composite", "special") and d.get("expression")]
    uncompiled = sorted(d["code"] for d in indexed if not compiles(d))
    assert uncompiled == ["deceased"]


@pytest.mark.parametrize("definition", COMPILED, ids=[d["url"].rsplit("/", 1)[1] for d in COMPILED])
def test_the_compiled_accessor_agrees_with_fhirpath_on_every_sample(definition):
    expression = definition["expression"]
    disagreements = {}
    for sample, sample_id in zip(SAMPLES, SAMPLE_IDS):
        accessor = compile_for_type(expression, sample["resourceType"])
        fast = accessor(sample) if accessor else []
        expected = fhirpath(expression, sample)
        if canonical(fast) != canonical(expected):
            disagreements[sample_id] = {"compiled": fast, "fhirpath": expected}
    assert not disagreements


def test_the_samples_exercise_the_accessors():
    """Guard against a vacuous comparison: most parameters of the sample types find values."""
    found = {(d["code"], s["resourceType"]) for d in COMPILED for s in SAMPLES
             if (accessor := compile_for_type(d["expression"], s["resourceType"])) and accessor(s)}
    for resource_type, minimum in {"Patient": 20, "Observation": 25, "Condition": 15, "Encounter": 20,
                                   "MedicationRequest": 12}.items():
        assert sum(1 for _, t in found if t == resource_type) >= minimum, resource_type


@pytest.mark.parametrize("part, resource, expected", [
    ("Observation.value.as(Quantity)", {"valueQuantity": {"value": 1}}, [{"value": 1}]),
    ("(Observation.value as Quantity)", {"valueQuantity": {"value": 1}}, [{"value": 1}]),
    ("Observation.value as CodeableConcept", {"valueQuantity": {"value": 1}}, []),
    ("Observation.effective", {"effectivePeriod": {"start": "2020"}}, [{"start": "2020"}]),
    ("Patient.name.given", {"name": [{"given": ["a", "b"]}, {"given": ["c"]}]}, ["a", "b", "c"]),
    ("Patient.telecom.where(system='email')", {"telecom": [{"system": "email", "value": "x"},
                                                           {"system": "phone"}]}, [{"system": "email", "value": "x"}]),
    ("Bundle.entry[0].resource", {"entry": [{"resource": {"id": "1"}}, {"resource": {"id": "2"}}]}, [{"id": "1"}]),
    ("Observation.subject.where(resolve() is Patient)", {"subject": {"reference": "Group/1"}}, []),
    ("Observation.subject.where(resolve() is Patient)", {"subject": {"reference": "Patient/1"}},
     [{"reference": "Patient/1"}]),
])
def test_compiled_parts_walk_paths_choices_filters_and_indexes(part, resource, expected):
    assert is_compiled(part)
    assert compile_part(part)(resource) == expected


def test_an_expression_that_does_not_compile_falls_back_to_fhirpath():
    part = "Patient.deceased.exists() and Patient.deceased != false"
    assert not is_compiled(part)
    assert compile_part(part)({"resourceType": "Patient", "deceasedDateTime": "2020"}) == [True]


def test_a_union_only_keeps_the_parts_rooted_at_the_resource_type():
    accessor = compile_for_type("Patient.birthDate | Person.birthDate | Resource.id", "Patient")
    assert accessor({"resourceType": "Patient", "id": "x", "birthDate": "2000"}) == ["2000", "x"]
    assert compile_for_type("Person.birthDate", "Patient") is None


def test_root_less_parts_are_rooted_at_the_resource_type():
    accessor = compile_for_type("name | alias", "InsurancePlan")
    assert accessor({"resourceType": "InsurancePlan", "name": "n", "alias": ["a"]}) == ["n", "a"]
