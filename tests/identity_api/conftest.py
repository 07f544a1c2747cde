"""Fixtures of the identity API tests: the in-process API client on both store backends, and helpers."""
from __future__ import annotations

from typing import Any

from tests.integration.conftest import FHIR_JSON, api, token_for  # noqa: F401 - fixtures re-exported

__all__ = ["FHIR_JSON", "api", "token_for"]


def patient(given: str, family: str, birth: str, *, mrn: str, system: str = "urn:mrn:general",
            line: str = "12 Main St", city: str = "Cambridge", postcode: str = "02139", gender: str = "female",
            phone: str | None = "617-555-0101") -> dict[str, Any]:
    """A source Patient as an institution would send it."""
    body: dict[str, Any] = {"resourceType": "Patient", "identifier": [{"system": system, "value": mrn}],
                            "name": [{"family": family, "given": [given]}], "gender": gender, "birthDate": birth,
                            "address": [{"line": [line], "city": city, "postalCode": postcode}]}
    if phone:
        body["telecom"] = [{"system": "phone", "value": phone}]
    return body
