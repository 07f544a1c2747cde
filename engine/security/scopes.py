"""SMART on FHIR scopes (v2 `patient/Observation.rs`, v1 `user/*.read`) and the permissions they grant."""
from __future__ import annotations

import re
from dataclasses import dataclass

from engine.fhir.release import R4_RESOURCE_TYPES

_SMART = re.compile(r"^(patient|user|system)/(\*|[A-Z][A-Za-z]+)\.(\*|read|write|c?r?u?d?s?)$")
PERMISSIONS = "cruds"
_V1 = {"read": "rs", "write": "cud", "*": "cruds"}

# Product scopes beyond FHIR resource access.
ADMIN_IDENTITY = "tessera/identity.admin"       # review and change identity links
AUDIT_READ = "tessera/audit.read"               # read AuditEvent
BREAK_GLASS = "tessera/break-glass"             # emergency override of consent, always audited
ALLOCATION = "tessera/allocation.cruds"         # run and manage allocation jobs
PRODUCT_SCOPES = frozenset({ADMIN_IDENTITY, AUDIT_READ, BREAK_GLASS, ALLOCATION})


@dataclass(frozen=True)
class Scope:
    """One resource scope: context (patient/user/system), resource type or '*', and permission letters."""

    context: str
    resource_type: str
    permissions: str

    def grants(self, resource_type: str, permission: str) -> bool:
        """True when this scope allows `permission` (one of c r u d s) on `resource_type`."""
        return (self.resource_type in ("*", resource_type)) and permission in self.permissions


@dataclass(frozen=True)
class ScopeSet:
    """The parsed scopes of a token."""

    resources: tuple[Scope, ...]
    product: frozenset[str]

    def allows(self, resource_type: str, permission: str) -> bool:
        """True when some scope grants `permission` on `resource_type`."""
        return any(scope.grants(resource_type, permission) for scope in self.resources)

    def readable_types(self) -> frozenset[str] | None:
        """The resource types some scope lets the token read; None when a wildcard scope reads them all."""
        return self.types_allowing("r")

    def types_allowing(self, *permissions: str) -> frozenset[str] | None:
        """The resource types the token may use with every one of `permissions` (e.g. "s", "r"); None when
        wildcard scopes allow them all."""
        found: frozenset[str] | None = None
        for permission in permissions:
            if any(s.resource_type == "*" and permission in s.permissions for s in self.resources):
                continue
            named = frozenset(s.resource_type for s in self.resources if permission in s.permissions)
            found = named if found is None else found & named
        return found

    def has(self, product_scope: str) -> bool:
        """True when the token carries a product scope such as `tessera/audit.read`."""
        return product_scope in self.product

    @property
    def patient_only(self) -> bool:
        """True when every resource scope is a patient/ scope (the token sees one compartment)."""
        return bool(self.resources) and all(scope.context == "patient" for scope in self.resources)


def parse_scopes(text: str) -> ScopeSet:
    """Parse a space-separated scope string; unknown scopes (openid, launch, ...) are ignored."""
    resources, product = [], set()
    for item in text.split():
        if item in PRODUCT_SCOPES:
            product.add(item)
            continue
        match = _SMART.match(item)
        if not match:
            continue
        context, resource_type, permissions = match.groups()
        if resource_type != "*" and resource_type not in R4_RESOURCE_TYPES:
            continue
        letters = _V1.get(permissions, permissions)
        if letters:
            resources.append(Scope(context, resource_type, letters))
    return ScopeSet(tuple(resources), frozenset(product))


def required_scope(resource_type: str, permission: str) -> str:
    """The v2 scope a caller would need, for error messages (e.g. `user/Observation.s`)."""
    return f"user/{resource_type}.{permission}"
