"""PL to a Location hierarchy (facility > building > point of care > floor > room > bed).

HL7 v2-to-FHIR IG: "Datatype PL to Location Map" (http://hl7.org/fhir/uv/v2mappings/ConceptMap-datatype-pl-to-location.html)
and "PL to Encounter.location": the referencing resource points at the most granular Location present
(bed, else room, floor, point of care, building, facility); each level is its own Location linked by partOf.
Each level is keyed by its path of component names, scoped by the facility (PL.4, else the sending facility).
"""
from __future__ import annotations

from typing import Any

from adapters.hl7v2.context import Context
from adapters.hl7v2.datatypes.codes import table_concept
from adapters.hl7v2.datatypes.identifiers import ei_identifier, hd_label
from adapters.hl7v2.identity import synthetic_key
from adapters.hl7v2.tree import Value

PHYSICAL_TYPE = "http://terminology.hl7.org/CodeSystem/location-physical-type"
# (PL component, physical type) from the least to the most granular level
LEVELS = ((4, "si"), (7, "bu"), (1, None), (8, "lvl"), (2, "ro"), (3, "bd"))


def location(ctx: Context, pl: Value) -> dict[str, Any] | None:
    """Upsert the Locations of a PL; the Reference to the most granular one (None when PL is empty)."""
    names = [(comp, kind, hd_label(pl.comp(comp))) for comp, kind in LEVELS]
    present = [(comp, kind, name) for comp, kind, name in names if name and comp != 4]
    if not present and not names[0][2]:
        return None
    scope = names[0][2] or ctx.sender_facility or ctx.sender_system
    path: list[str] = []
    parent: str | None = None
    levels = ([(4, "si", names[0][2])] if names[0][2] else []) + present
    description = " / ".join(name for _, _, name in levels)
    last: dict[str, Any] = {}
    for index, (comp, kind, name) in enumerate(levels):
        path.append(f"{comp}={name}")
        resource: dict[str, Any] = {"status": "active", "name": name, "mode": "instance",
                                    "description": description if index == len(levels) - 1 else None}
        if kind:
            resource["physicalType"] = {"coding": [{"system": PHYSICAL_TYPE, "code": kind}]}
        if parent:
            resource["partOf"] = {"reference": parent}
        if index == len(levels) - 1:
            _leaf_details(pl, resource)
        key = synthetic_key("Location", "location", scope, *path)
        parent = ctx.upsert(key, resource, create_only=True)
        last = {"reference": parent, "display": description}
    return last


def _leaf_details(pl: Value, resource: dict[str, Any]) -> None:
    kind = pl.c(6)
    if kind:
        resource["type"] = [table_concept(kind, "0305")]
    if pl.c(9):
        resource["description"] = pl.c(9)
    identifier = ei_identifier(pl.comp(10))
    if identifier:
        resource["identifier"] = [identifier]
