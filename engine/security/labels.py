"""Which resources belong to a patient's compartment, and which carry sensitive-information labels."""
from __future__ import annotations

from typing import Any

from engine.search.extraction import IndexRows

# v3 ActCode sensitivity codes and v3 Confidentiality R/V (http://terminology.hl7.org/CodeSystem/v3-ActCode).
SENSITIVE_CODES = frozenset({"PSY", "PSYTHPN", "ETH", "ETHUD", "HIV", "SDV", "SEX", "STD", "SUD", "GDIS",
                             "SICKLE", "DEMO", "BH", "R", "V"})
_COMPARTMENT_PARAMS = ("patient", "subject", "beneficiary", "individual")


def compartment_patient(resource_type: str, resource_id: str, index: IndexRows) -> str | None:
    """The id of the Patient whose compartment holds the resource (None for shared directory data)."""
    if resource_type == "Patient":
        return resource_id
    by_param = {}
    for param, target_type, target_id, _url in index.references:
        if target_type == "Patient" and target_id and param in _COMPARTMENT_PARAMS:
            by_param.setdefault(param, target_id)
    for param in _COMPARTMENT_PARAMS:
        if param in by_param:
            return by_param[param]
    return None


def sensitivity_label(resource: dict[str, Any] | None) -> str | None:
    """The first sensitive security label on the resource (meta.security), if any."""
    if not resource:
        return None
    for label in (resource.get("meta") or {}).get("security") or ():
        if isinstance(label, dict) and label.get("code") in SENSITIVE_CODES:
            return label["code"]
    return None
