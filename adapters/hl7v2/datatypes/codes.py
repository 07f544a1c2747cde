"""CWE / CE / CNE / CF and coded ID/IS values to FHIR CodeableConcept and Coding.

HL7 v2-to-FHIR IG: datatype maps "CWE to CodeableConcept" (http://hl7.org/fhir/uv/v2mappings/ConceptMap-datatype-cwe-to-codeableconcept.html)
and "CWE to Coding": CWE.1-3 (+ version CWE.7), CWE.4-6 (+ CWE.8) and CWE.10-12 become codings,
CWE.9 original text becomes CodeableConcept.text; coding system names follow HL7 table 0396.
"""
from __future__ import annotations

from typing import Any

from adapters.hl7v2.terminology import V2, coding_system
from adapters.hl7v2.tree import Value


def fhir_code(text: str) -> str:
    """A value usable as a FHIR `code`: trimmed, internal whitespace collapsed to single spaces."""
    return " ".join(text.split())


def coding(code: str, display: str = "", system_name: str = "", version: str = "",
           default_table: str | None = None) -> dict[str, Any] | None:
    """One Coding (None when there is no code)."""
    code = fhir_code(code)
    if not code:
        return None
    result: dict[str, Any] = {}
    system = coding_system(system_name, default_table)
    if system:
        result["system"] = system
    result["code"] = code
    if display:
        result["display"] = display
    if version and system:
        result["version"] = version
    return result


def cwe_concept(cwe: Value, default_table: str | None = None) -> dict[str, Any] | None:
    """CWE/CE -> CodeableConcept (None when nothing is coded and there is no text)."""
    codings = []
    for first, version in ((1, 7), (4, 8), (10, 13)):
        item = coding(cwe.c(first), cwe.c(first + 1), cwe.c(first + 2), cwe.c(version),
                      default_table if first == 1 else None)
        if item and item not in codings:
            codings.append(item)
    concept: dict[str, Any] = {}
    if codings:
        concept["coding"] = codings
    text = cwe.c(9) or ("" if codings else cwe.c(2) or cwe.c(5))
    if text:
        concept["text"] = text
    return concept or None


def cwe_code(cwe: Value) -> str:
    """The primary code of a CWE (CWE.1, else the alternate CWE.4)."""
    return fhir_code(cwe.c(1) or cwe.c(4))


def table_concept(code: str, table: str, display: str = "") -> dict[str, Any] | None:
    """CodeableConcept for a code from an HL7 v2 table (system http://terminology.hl7.org/CodeSystem/v2-<table>)."""
    code = fhir_code(code)
    if not code:
        return None
    item: dict[str, Any] = {"system": f"{V2}{table}", "code": code}
    if display:
        item["display"] = display
    return {"coding": [item]}


def concept_text(concept: dict[str, Any] | None) -> str:
    """Display text of a CodeableConcept (text, else the first display or code)."""
    if not concept:
        return ""
    if concept.get("text"):
        return concept["text"]
    for item in concept.get("coding", []):
        if item.get("display") or item.get("code"):
            return item.get("display") or item["code"]
    return ""
