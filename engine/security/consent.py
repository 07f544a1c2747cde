"""Turn a patient's FHIR Consent resources into sharing rules (grantee institution, category, decision)."""
from __future__ import annotations

from typing import Any

ANY = "*"


def _institutions(provision: dict[str, Any]) -> list[str]:
    found = []
    for actor in provision.get("actor") or ():
        reference = (actor or {}).get("reference") or {}
        identifier = reference.get("identifier") or {}
        if isinstance(identifier.get("value"), str):
            found.append(identifier["value"])
        elif isinstance(reference.get("reference"), str) and reference["reference"].startswith("Organization/"):
            found.append(reference["reference"].split("/", 1)[1])
    return found or [ANY]


def _categories(provision: dict[str, Any]) -> list[str]:
    codes = [label.get("code") for label in provision.get("securityLabel") or () if isinstance(label, dict)]
    return [code for code in codes if isinstance(code, str)] or [ANY]


def sharing_rules(consents: list[dict[str, Any]]) -> set[tuple[str, str, str]]:
    """Rules (grantee, category, 'permit'|'deny') from the active Consents of one patient.

    The base provision's type applies to its actors (everyone when none is named); nested provisions
    override for their own actors and security-label categories (e.g. deny HIV data to everyone).
    """
    rules: set[tuple[str, str, str]] = set()
    for consent in consents:
        if consent.get("status") != "active":
            continue
        stack = [(consent.get("provision") or {}, "permit")]
        while stack:
            provision, inherited = stack.pop()
            decision = provision.get("type", inherited)
            if decision in ("permit", "deny") and (provision.get("actor") or provision.get("securityLabel")
                                                   or provision is consent.get("provision")):
                for grantee in _institutions(provision):
                    for category in _categories(provision):
                        rules.add((grantee, category, decision))
            for nested in provision.get("provision") or ():
                stack.append((nested, "deny" if decision == "permit" else "permit"))
    return rules
