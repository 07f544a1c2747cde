"""Small clinical records for search tests, built the way Synthea writes them."""
from __future__ import annotations

import uuid
from typing import Any

SNOMED, LOINC, CVX = "http://snomed.info/sct", "http://loinc.org", "http://hl7.org/fhir/sid/cvx"


def patient(family: str = "Searchable") -> dict[str, Any]:
    """A Patient with a unique identifier."""
    return {"resourceType": "Patient", "identifier": [{"system": "urn:test:mrn", "value": uuid.uuid4().hex[:12]}],
            "name": [{"family": family, "given": ["Ada"]}], "gender": "female", "birthDate": "1961-04-02"}


def condition(patient_id: str, code: str, display: str, onset: str = "2019-03-04") -> dict[str, Any]:
    """A Condition of the patient coded in SNOMED CT."""
    return {"resourceType": "Condition", "subject": {"reference": f"Patient/{patient_id}"},
            "clinicalStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-clinical",
                                           "code": "active"}]},
            "code": {"coding": [{"system": SNOMED, "code": code, "display": display}], "text": display},
            "onsetDateTime": f"{onset}T10:00:00Z"}


def observation(patient_id: str, code: str, display: str, value: float, unit: str,
                when: str = "2020-01-01") -> dict[str, Any]:
    """A laboratory Observation with a quantity value."""
    return {"resourceType": "Observation", "status": "final", "subject": {"reference": f"Patient/{patient_id}"},
            "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category",
                                      "code": "laboratory", "display": "laboratory"}]}],
            "code": {"coding": [{"system": LOINC, "code": code, "display": display}], "text": display},
            "effectiveDateTime": f"{when}T08:00:00Z",
            "valueQuantity": {"value": value, "unit": unit, "system": "http://unitsofmeasure.org", "code": unit}}


def immunization(patient_id: str, when: str = "2021-10-01") -> dict[str, Any]:
    """A seasonal influenza Immunization."""
    return {"resourceType": "Immunization", "status": "completed", "patient": {"reference": f"Patient/{patient_id}"},
            "vaccineCode": {"coding": [{"system": CVX, "code": "140",
                                        "display": "Influenza, seasonal, injectable, preservative free"}]},
            "occurrenceDateTime": f"{when}T09:00:00Z"}


def chart(patient_id: str) -> list[dict[str, Any]]:
    """A small record: a heart attack, hypertension, diabetes, an A1c, a fracture and a flu shot."""
    return [condition(patient_id, "22298006", "Myocardial infarction (disorder)", "2018-06-01"),
            condition(patient_id, "38341003", "Hypertensive disorder, systemic arterial (disorder)", "2015-02-01"),
            condition(patient_id, "44054006", "Diabetes mellitus type 2 (disorder)", "2016-09-01"),
            condition(patient_id, "263102004", "Fracture subluxation of wrist (disorder)", "2020-11-11"),
            observation(patient_id, "4548-4", "Hemoglobin A1c/Hemoglobin.total in Blood", 7.9, "%"),
            immunization(patient_id)]
