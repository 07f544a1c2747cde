"""XAD to Address and XTN to ContactPoint.

HL7 v2-to-FHIR IG: datatype maps "XAD to Address" (http://hl7.org/fhir/uv/v2mappings/ConceptMap-datatype-xad-to-address.html),
"SAD to Address" (SAD.1-3 -> line[1..3]) and "XTN to ContactPoint"
(http://hl7.org/fhir/uv/v2mappings/ConceptMap-datatype-xtn-to-contactpoint.html).
"""
from __future__ import annotations

from typing import Any

from adapters.hl7v2.datatypes.quantity import small_int
from adapters.hl7v2.datatypes.time import date_period
from adapters.hl7v2.terminology import ADDRESS_TYPE, ADDRESS_USE, TELECOM_SYSTEM, TELECOM_USE
from adapters.hl7v2.tree import Value



def xad_address(xad: Value) -> dict[str, Any] | None:
    """XAD -> Address (lines SAD.1, else SAD.2 + SAD.3, and XAD.2; city, state, postal code, country, use/type,
    period)."""
    # SAD.2 (street name) and SAD.3 (dwelling number) are parts of SAD.1, not further lines
    street = xad.s(1, 1) or " ".join(part for part in (xad.s(1, 2), xad.s(1, 3)) if part)
    lines = [street, xad.c(2)]
    address: dict[str, Any] = {}
    lines = [line for line in lines if line]
    if lines:
        address["line"] = lines
    for comp, key in ((3, "city"), (4, "state"), (5, "postalCode"), (6, "country")):
        text = xad.c(comp)
        if text:
            address[key] = text
    district = xad.s(9, 1) or xad.s(9, 2)
    if district:
        address["district"] = district
    if not address:
        return None
    kind = xad.c(7).upper()
    if kind in ADDRESS_USE:
        address["use"] = ADDRESS_USE[kind]
    elif kind in ADDRESS_TYPE:
        address["type"] = ADDRESS_TYPE[kind]
    period = date_period(xad.c(13), xad.c(14)) or date_period(xad.s(12, 1), xad.s(12, 2))
    if period:
        address["period"] = period
    return address


def _phone(xtn: Value) -> str:
    unformatted = xtn.c(12)
    if unformatted:
        return unformatted
    local = xtn.c(7)
    if local:
        parts = []
        if xtn.c(5):
            parts.append("+" + xtn.c(5).lstrip("+"))
        if xtn.c(6):
            parts.append(f"({xtn.c(6)})")
        parts.append(local)
        text = " ".join(parts)
        return f"{text} ext. {xtn.c(8)}" if xtn.c(8) else text
    return xtn.c(1)


def xtn_contact(xtn: Value, default_use: str | None = None) -> dict[str, Any] | None:
    """XTN -> ContactPoint (email from XTN.4, else the telephone number), system XTN.3, use XTN.2."""
    equipment = xtn.c(3).upper()
    email = xtn.c(4)
    if email and (equipment in ("INTERNET", "X.400", "") or "@" in email):
        value, system = email, "email"
    else:
        value = _phone(xtn)
        system = TELECOM_SYSTEM.get(equipment) or ("email" if "@" in value else "phone")
    if not value:
        return None
    contact: dict[str, Any] = {"system": system, "value": value}
    use_code = xtn.c(2).upper()
    use = TELECOM_USE.get(use_code) or default_use
    if equipment == "CP" and use != "work":
        use = "mobile"
    if use:
        contact["use"] = use
    rank = small_int(xtn.c(18))
    if rank is not None:
        contact["rank"] = rank
    period = date_period(xtn.c(13), xtn.c(14))
    if period:
        contact["period"] = period
    return contact
