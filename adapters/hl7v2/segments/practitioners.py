"""XCN/CNN (and PRD) to Practitioner and XON/HD to Organization (keyed by identifier, else by name).

HL7 v2-to-FHIR IG: datatype maps "XCN to Practitioner" (http://hl7.org/fhir/uv/v2mappings/ConceptMap-datatype-xcn-to-practitioner.html),
"XON to Organization" (ConceptMap-datatype-xon-to-organization) and "HD to Organization".
"""
from __future__ import annotations

from typing import Any

from adapters.hl7v2.context import Context
from adapters.hl7v2.datatypes.identifiers import WELL_KNOWN, hd_label, hd_system, identifier_type, uid_system
from adapters.hl7v2.datatypes.names import cnn_name, name_text, xcn_name, xpn_name
from adapters.hl7v2.identity import Key, authority_system, synthetic_key
from adapters.hl7v2.tree import Segment, Value

URI_SYSTEM = "urn:ietf:rfc:3986"


def _practitioner(ctx: Context, ident: str, system: str | None, type_code: str,
                  name: dict[str, Any] | None, *, create_only: bool = False) -> dict[str, Any] | None:
    if ident:
        identifier: dict[str, Any] = {"system": system or ctx.sender_system, "value": ident}
        kind = identifier_type(type_code)
        if kind:
            identifier["type"] = kind
        key = Key("Practitioner", identifier["system"], ident)
        identifiers = [identifier]
    elif name:
        key = synthetic_key("Practitioner", "practitioner-name", ctx.sender_system, name.get("family"),
                            " ".join(name.get("given", [])))
        identifiers = []
    else:
        return None
    resource: dict[str, Any] = {"identifier": identifiers}
    if name:
        resource["name"] = [name]
    full_url = ctx.upsert(key, resource, create_only=create_only or name is None)
    ref: dict[str, Any] = {"reference": full_url}
    if name_text(name):
        ref["display"] = name_text(name)
    return ref


def practitioner(ctx: Context, xcn: Value) -> dict[str, Any] | None:
    """Upsert the Practitioner of an XCN (id XCN.1 + authority XCN.9, or NPI by XCN.13); its Reference."""
    system = hd_system(xcn.comp(9))
    if system is None and xcn.c(13).upper() in WELL_KNOWN:
        system = WELL_KNOWN[xcn.c(13).upper()]
    return _practitioner(ctx, xcn.c(1), system, xcn.c(13), xcn_name(xcn))


def practitioner_cnn(ctx: Context, cnn: Value) -> dict[str, Any] | None:
    """Upsert the Practitioner of a CNN (NDL.1, subcomponents: id, family, given, ..., authority 9-11)."""
    system = uid_system(cnn.c(10), cnn.c(11)) or hd_system(Value(cnn.parts[8:11], cnn.enc))
    return _practitioner(ctx, cnn.c(1), system, "", cnn_name(cnn))


def practitioner_prd(ctx: Context, prd: Segment) -> dict[str, Any] | None:
    """Upsert the Practitioner of a PRD (referral provider): name PRD-2, identifier PRD-7 (PLN: id, type, state).

    A licence number is no staff number: it is kept under its own system (the well-known one for an NPI,
    else one per licence type and issuing state, or per sender when the state is not sent), so it never names
    a practitioner of the sender's staff list. A referral does not keep the practitioner registry: the
    Practitioner is only created when missing.
    """
    licence = prd.rep(7)
    kind, state = licence.c(2).strip(), licence.c(3).strip()
    issuer = state or f"of {ctx.sender_facility or ctx.sender_application}"
    system = WELL_KNOWN.get(kind.upper()) or authority_system(" ".join(part for part in ("licence", kind, issuer)
                                                                       if part))
    return _practitioner(ctx, licence.c(1), system, kind, xpn_name(prd.rep(2)), create_only=True)


def organization(ctx: Context, name: str, ident: str = "", system: str | None = None,
                 extra: dict[str, Any] | None = None) -> dict[str, Any] | None:
    """Upsert an Organization keyed by its identifier, else by its name; its Reference."""
    if not name and not ident:
        return None
    if ident:
        key = Key("Organization", system or ctx.sender_system, ident)
    else:
        key = synthetic_key("Organization", "organization-name", name)
    resource: dict[str, Any] = {"active": True}
    if name:
        resource["name"] = name
    if extra:
        resource.update(extra)
    full_url = ctx.upsert(key, resource, create_only=not name)
    ref: dict[str, Any] = {"reference": full_url}
    if name:
        ref["display"] = name
    return ref


def organization_xon(ctx: Context, xon: Value) -> dict[str, Any] | None:
    """Upsert the Organization of an XON (name XON.1, id XON.10 or XON.3 with authority XON.6)."""
    ident = xon.c(10) or xon.c(3)
    return organization(ctx, xon.c(1), ident, hd_system(xon.comp(6)) if ident else None)


def organization_hd(ctx: Context, hd: Value) -> dict[str, Any] | None:
    """Upsert the Organization named by an HD (e.g. MSH-4): keyed by its universal id URI, else its name."""
    label = hd_label(hd)
    uri = uid_system(hd.c(2), hd.c(3))
    if uri:
        return organization(ctx, label, uri, URI_SYSTEM)
    return organization(ctx, label)
