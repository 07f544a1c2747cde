"""XPN, XCN and CNN names to FHIR HumanName.

HL7 v2-to-FHIR IG: datatype maps "XPN to HumanName" (http://hl7.org/fhir/uv/v2mappings/ConceptMap-datatype-xpn-to-humanname.html)
and "XCN to Practitioner" (ConceptMap-datatype-xcn-to-practitioner): family from FN.1, given from XPN.2/XPN.3,
prefix XPN.5, suffix XPN.4/XPN.6/XPN.14, use from XPN.7 (table 0200), period XPN.12/XPN.13 (or XPN.10).
"""
from __future__ import annotations

from typing import Any

from adapters.hl7v2.datatypes.time import date_period
from adapters.hl7v2.terminology import NAME_USE
from adapters.hl7v2.tree import Value


def _human_name(family: str, given: list[str], prefix: list[str], suffix: list[str]) -> dict[str, Any] | None:
    name: dict[str, Any] = {}
    if family:
        name["family"] = family
    given = [g for g in given if g]
    if given:
        name["given"] = given
    if not name:
        return None
    prefix = [p for p in prefix if p]
    suffix = [s for s in suffix if s]
    if prefix:
        name["prefix"] = prefix
    if suffix:
        name["suffix"] = suffix
    return name



def xpn_name(xpn: Value) -> dict[str, Any] | None:
    """XPN -> HumanName, or None when neither family nor given name is present."""
    name = _human_name(xpn.s(1, 1), [xpn.c(2), xpn.c(3)], [xpn.c(5)], [xpn.c(4), xpn.c(6), xpn.c(14)])
    if name is None:
        return None
    use = NAME_USE.get(xpn.c(7).upper())
    if use:
        name["use"] = use
    period = date_period(xpn.c(12), xpn.c(13)) or date_period(xpn.s(10, 1), xpn.s(10, 2))
    if period:
        name["period"] = period
    return name


def xpn_names(xpn: Value) -> list[dict[str, Any]]:
    """XPN -> HumanNames: the name itself, plus a `nickname` name for XPN.15 (called by) when valued."""
    name = xpn_name(xpn)
    names = [name] if name else []
    called_by = xpn.c(15)
    if called_by:
        nickname: dict[str, Any] = {"use": "nickname", "given": [called_by]}
        if xpn.s(1, 1):
            nickname["family"] = xpn.s(1, 1)
        names.append(nickname)
    return names


def xpn_text(xpn: Value) -> str:
    """XPN as display text: `given middle family`."""
    return " ".join(part for part in (xpn.c(2), xpn.c(3), xpn.s(1, 1)) if part)


def xcn_name(xcn: Value) -> dict[str, Any] | None:
    """The HumanName of an XCN (family XCN.2, given XCN.3/XCN.4, prefix XCN.6, suffix XCN.5/XCN.7/XCN.21)."""
    return _human_name(xcn.s(2, 1), [xcn.c(3), xcn.c(4)], [xcn.c(6)], [xcn.c(5), xcn.c(7), xcn.c(21)])


def cnn_name(cnn: Value) -> dict[str, Any] | None:
    """The HumanName of a CNN held in subcomponents (NDL.1): id, family, given, middle, suffix, prefix."""
    return _human_name(cnn.c(2), [cnn.c(3), cnn.c(4)], [cnn.c(6)], [cnn.c(5), cnn.c(7)])


def name_text(name: dict[str, Any] | None) -> str:
    """`given family` display text of a HumanName."""
    if not name:
        return ""
    return " ".join([*name.get("given", []), name.get("family", "")]).strip()
