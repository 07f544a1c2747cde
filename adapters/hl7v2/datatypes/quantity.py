"""NM, SN and CQ values to FHIR Quantity, Range and Ratio; OBX-7 reference ranges; UCUM unit detection.

HL7 v2-to-FHIR IG: datatype maps "SN to Quantity/Range/Ratio" (http://hl7.org/fhir/uv/v2mappings/ConceptMap-datatype-sn-to-quantity.html),
"CQ to Quantity" and segment map "OBX to Observation" (OBX-6 units -> Quantity.unit/code/system,
OBX-7 -> referenceRange).
A unit gets system http://unitsofmeasure.org only when CWE.3 says UCUM or the code parses as UCUM.
"""
from __future__ import annotations

import math
import re
from typing import Any

from adapters.hl7v2.terminology import UCUM
from adapters.hl7v2.tree import Value

_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)")
_PREFIXES = ("da", "Y", "Z", "E", "P", "T", "G", "M", "k", "h", "d", "c", "m", "u", "n", "p", "f", "a", "z", "y")
_ATOMS = {
    "g", "m", "l", "L", "s", "min", "h", "d", "wk", "mo", "a", "mol", "eq", "U", "[IU]", "[iU]", "kat", "Pa",
    "K", "Cel", "[degF]", "cal", "[in_i]", "[ft_i]", "[lb_av]", "[oz_av]", "mm[Hg]", "cm[H2O]", "%", "[ppm]",
    "[ppb]", "[pH]", "Hz", "J", "W", "V", "A", "Ohm", "N", "bar", "atm", "osm", "B", "dB", "t", "ar", "sr",
    "rad", "deg", "gon", "S", "F", "C", "Wb", "T", "H", "lm", "lx", "Bq", "Gy", "Sv", "R", "Ci", "[drp]",
    "[HPF]", "[LPF]", "[arb'U]", "[USP'U]", "[CFU]", "[APL'U]", "[GPL'U]", "[MPL'U]", "[beth'U]",
    "[S]", "[mi_i]", "[yd_i]", "[gal_us]", "[qt_us]", "[pt_us]", "[foz_us]", "[tsp_us]", "[tbs_us]",
    "[cup_us]", "[pi]", "[ppth]", "[pptr]", "[todd'U]", "[Ch]", "[diop]", "[hp'_X]", "[hp'_C]", "[mclg'U]",
    "[knk'U]", "[tb'U]", "[PFU]", "[Lf]", "[D'ag'U]", "[FFU]", "[bdsk'U]", "[ka'U]", "[hnsf'U]", "[smgy'U]",
    "10*", "mg", "gf", "[car_m]", "[crd_us]", "st", "[sft_i]", "[sin_i]", "[cin_i]", "[cft_i]"}
# Lab shorthands that are not UCUM, or are UCUM for something else (K is kelvin, F farad, C coulomb), with the
# UCUM code they stand for in result feeds; the text sent stays in Quantity.unit
LAB_UNITS = {
    "K/uL": "10*3/uL", "K/mm3": "10*3/mm3", "K/cumm": "10*3/uL", "x10E3/uL": "10*3/uL", "10^3/uL": "10*3/uL",
    "M/uL": "10*6/uL", "M/mm3": "10*6/mm3", "x10E6/uL": "10*6/uL", "10^6/uL": "10*6/uL",
    "F": "[degF]", "degF": "[degF]", "\u00b0F": "[degF]", "C": "Cel", "degC": "Cel", "\u00b0C": "Cel",
    "mcg": "ug", "mcg/dL": "ug/dL", "mcg/L": "ug/L", "mcg/mL": "ug/mL", "mEq/L": "meq/L", "mEq": "meq",
    "IU/L": "[IU]/L", "IU/mL": "[IU]/mL", "mIU/mL": "m[IU]/mL", "uIU/mL": "u[IU]/mL", "mmHg": "mm[Hg]",
    "bpm": "/min", "beats/min": "/min", "breaths/min": "/min", "sec": "s", "hr": "h", "hrs": "h",
    "lb": "[lb_av]", "lbs": "[lb_av]", "in": "[in_i]", "cc": "mL",
}
_ANNOTATION = re.compile(r"\{[^{}]*\}")
_EXPONENT = re.compile(r"(.*?)([+-]?\d+)$")


def parse_number(text: str) -> int | float:
    """An HL7 NM as int or float; raise ValueError when it is not a number."""
    text = text.strip()
    if len(text) > 40 or not _NUMBER.fullmatch(text):  # length first: the pattern backtracks on long digit runs
        raise ValueError("not a number")
    if "." in text or len(text.lstrip("+-")) > 15:  # JSON consumers keep integers within 2**53
        value = float(text)
        if not math.isfinite(value):
            raise ValueError("number out of range")
        return value
    return int(text)


def small_int(text: str, minimum: int = 1) -> int | None:
    """A FHIR integer/positiveInt (32-bit) from text, or None."""
    text = text.strip()
    if not text.isdigit() or len(text) > 10:
        return None
    value = int(text)
    return value if minimum <= value <= 2_147_483_647 else None


def _simple_unit(text: str) -> bool:
    if text in _ATOMS or text.isdigit():
        return True
    if text.startswith("10*") and _NUMBER.fullmatch(text[3:] or "x"):
        return True
    match = _EXPONENT.fullmatch(text)
    if match and match.group(1) and not match.group(1).endswith("*") and _simple_unit(match.group(1)):
        return True
    for prefix in _PREFIXES:
        if text.startswith(prefix) and text[len(prefix):] in _ATOMS:
            return True
    return False


def looks_like_ucum(code: str) -> bool:
    """Syntactic UCUM check over common atoms, prefixes, exponents, annotations and `.`/`/` operators."""
    code = code.strip()
    if not code or " " in code or len(code) > 64:
        return False
    if _ANNOTATION.fullmatch(code):
        return True
    body = code[1:] if code.startswith("/") else code
    terms = re.split(r"[./]", _ANNOTATION.sub("{}", body))  # a `.` inside an annotation ({1.73_m2}) is text
    for term in terms:
        stripped = term.replace("{}", "")
        if not stripped and term:
            continue
        if term.count("(") or "{" in stripped or "}" in stripped or not _simple_unit(stripped):
            return False
    return True


def unit_fields(units: Value) -> dict[str, Any]:
    """Quantity unit/code/system from a CWE unit (OBX-6, RXA-7): UCUM code when recognisable, else text."""
    code, text, system_name = units.c(1), units.c(2), units.c(3).upper()
    if not code and not text:
        return {}
    if code in LAB_UNITS and system_name not in ("UCUM", "ANS+"):
        return {"unit": text or code, "system": UCUM, "code": LAB_UNITS[code]}
    if code and (system_name in ("UCUM", "ANS+") or (system_name in ("", "L", "ISO+", "99UCUM")
                                                      and looks_like_ucum(code))):
        return {"unit": text or code, "system": UCUM, "code": code}
    return {"unit": text or code}


def quantity(value: int | float, units: dict[str, Any], comparator: str | None = None) -> dict[str, Any]:
    """A Quantity dict."""
    result: dict[str, Any] = {"value": value}
    if comparator:
        result["comparator"] = comparator
    result.update(units)
    return result


_COMPARATORS = {">": ">", "<": "<", ">=": ">=", "<=": "<="}


def sn_value(sn: Value, units: dict[str, Any]) -> tuple[str, Any]:
    """SN -> ("valueQuantity"|"valueRange"|"valueRatio"|"valueString", value); raise ValueError when invalid."""
    comparator, first, separator, second = sn.c(1), sn.c(2), sn.c(3), sn.c(4)
    if comparator and comparator not in _COMPARATORS and comparator != "=":
        if comparator == "<>":
            return "valueString", sn.text()
        raise ValueError("unknown SN comparator")
    if not first:
        raise ValueError("SN without a number")
    number = parse_number(first)
    if not separator and not second:
        return "valueQuantity", quantity(number, units, _COMPARATORS.get(comparator))
    if separator == "-" and second:
        return "valueRange", {"low": quantity(number, units), "high": quantity(parse_number(second), units)}
    if separator in (":", "/") and second:
        return "valueRatio", {"numerator": {"value": number}, "denominator": {"value": parse_number(second)}}
    if separator in ("+", ".") and not second:
        return "valueString", f"{first}{separator}"
    raise ValueError("SN separator not understood")


_RANGE = re.compile(r"\s*([+-]?\d+(?:\.\d+)?)\s*(?:-|to|–|\.\.)\s*([+-]?\d+(?:\.\d+)?)\s*(\S+)?\s*", re.IGNORECASE)
_BOUND = re.compile(r"\s*(<=|>=|<|>|≤|≥)\s*([+-]?\d+(?:\.\d+)?)\s*(\S+)?\s*")


def reference_range(text: str, units: dict[str, Any]) -> dict[str, Any] | None:
    """OBX-7 -> Observation.referenceRange: low/high parsed from `a-b`, `a to b`, `<b`, `>a`; text kept."""
    text = text.strip()
    if not text:
        return None
    result: dict[str, Any] = {}
    match = _RANGE.fullmatch(text) if len(text) <= 80 else None
    if match:
        result["low"] = quantity(parse_number(match.group(1)), units)
        result["high"] = quantity(parse_number(match.group(2)), units)
    elif len(text) <= 80:
        match = _BOUND.fullmatch(text)
        if match:
            side = "high" if match.group(1) in ("<", "<=", "≤") else "low"
            result[side] = quantity(parse_number(match.group(2)), units)
    result["text"] = text
    return result
