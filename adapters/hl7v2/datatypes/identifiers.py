"""HD, CX and EI to FHIR Identifier systems and Identifiers.

HL7 v2-to-FHIR IG: datatype maps "CX to Identifier" (http://hl7.org/fhir/uv/v2mappings/ConceptMap-datatype-cx-to-identifier.html),
"EI to Identifier" (ConceptMap-datatype-ei-to-identifier) and "HD to Identifier" (ConceptMap-datatype-hd-to-identifier):
Identifier.system comes from the assigning authority HD: universal id of type ISO -> urn:oid:, UUID -> urn:uuid:,
URI -> as is; a bare namespace id becomes urn:tessera:hl7v2:authority:<name>.
"""
from __future__ import annotations

import re
from typing import Any

from adapters.hl7v2.datatypes.time import fhir_date, parse_dtm
from adapters.hl7v2.identity import authority_system
from adapters.hl7v2.terminology import IDENTIFIER_TYPES, V2
from adapters.hl7v2.tree import Value

_OID = re.compile(r"[0-2](\.(0|[1-9][0-9]*))+")
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_URI = re.compile(r"(https?://\S+|urn:\S+)", re.IGNORECASE)
WELL_KNOWN = {"NPI": "http://hl7.org/fhir/sid/us-npi", "USSSA": "http://hl7.org/fhir/sid/us-ssn",
              "SSA": "http://hl7.org/fhir/sid/us-ssn", "SSN": "http://hl7.org/fhir/sid/us-ssn"}
SSN_SYSTEM = "http://hl7.org/fhir/sid/us-ssn"


def uid_system(uid: str, uid_type: str = "") -> str | None:
    """The system URI for an HD universal id (OID, UUID or URI), or None when it is none of these."""
    uid = uid.strip()
    kind = uid_type.strip().upper()
    if not uid:
        return None
    if _OID.fullmatch(uid) and kind not in ("UUID", "GUID", "URI", "DNS", "URL"):
        return f"urn:oid:{uid}"
    if _UUID.fullmatch(uid) and kind in ("", "UUID", "GUID"):
        return f"urn:uuid:{uid.lower()}"
    if _URI.fullmatch(uid):
        return uid
    return None


def hd_system(hd: Value) -> str | None:
    """Identifier.system for an HD (namespace id, universal id, universal id type)."""
    namespace, uid, uid_type = hd.c(1), hd.c(2), hd.c(3)
    system = uid_system(uid, uid_type)
    if system:
        return system
    name = namespace or uid
    if not name:
        return None
    if name.upper() in WELL_KNOWN:
        return WELL_KNOWN[name.upper()]
    return uid_system(name) or authority_system(name)


def hd_label(hd: Value) -> str:
    """A human label for an HD: the namespace id, else the universal id."""
    return hd.c(1) or hd.c(2)


def identifier_type(code: str) -> dict[str, Any] | None:
    """Identifier.type from an HL7 table 0203 code."""
    code = " ".join(code.split())
    if not code:
        return None
    if code.upper() in IDENTIFIER_TYPES:
        return {"coding": [{"system": f"{V2}0203", "code": code.upper()}]}
    return {"coding": [{"code": code}]} if " " not in code else {"text": code}


def cx_identifier(cx: Value, *, default_system: str | None = None) -> dict[str, Any] | None:
    """CX -> Identifier (value CX.1, system from CX.4, type CX.5, period CX.7/CX.8)."""
    value = cx.c(1)
    if not value:
        return None
    type_code = cx.c(5)
    system = hd_system(cx.comp(4))
    if system is None and type_code.upper() in ("NPI", "SS"):
        system = WELL_KNOWN["NPI"] if type_code.upper() == "NPI" else SSN_SYSTEM
    identifier: dict[str, Any] = {"value": value}
    if system or default_system:
        identifier["system"] = system or default_system
    kind = identifier_type(type_code)
    if kind:
        identifier["type"] = kind
    period = {}
    for comp, name in ((7, "start"), (8, "end")):
        text = cx.c(comp)
        if text:
            try:
                period[name] = fhir_date(parse_dtm(text))
            except ValueError:
                pass
    if period and not (len(period) == 2 and period["start"] > period["end"][:len(period["start"])]):
        identifier["period"] = period
    return identifier


def ei_identifier(ei: Value, *, type_code: str | None = None,
                  default_system: str | None = None) -> dict[str, Any] | None:
    """EI -> Identifier (entity id EI.1, system from namespace EI.2 / universal id EI.3 / type EI.4)."""
    value = ei.c(1)
    if not value:
        return None
    hd = Value(ei.parts[1:4], ei.enc)
    system = hd_system(hd) or default_system
    identifier: dict[str, Any] = {"value": value}
    if system:
        identifier["system"] = system
    if type_code:
        identifier["type"] = {"coding": [{"system": f"{V2}0203", "code": type_code}]}
    return identifier
