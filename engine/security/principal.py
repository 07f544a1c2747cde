"""The authenticated caller, as the engine sees it."""
from __future__ import annotations

from dataclasses import dataclass

from engine.security.scopes import ScopeSet, parse_scopes


@dataclass(frozen=True)
class Principal:
    """A caller: client, optional end user, institution, scopes, optional patient context."""

    client_id: str
    institution: str
    scopes: ScopeSet
    user: str | None = None
    patient: str | None = None  # patient context (SMART `patient` claim): only that compartment
    break_glass_reason: str | None = None

    @classmethod
    def from_claims(cls, *, client_id: str, institution: str, scope: str, user: str | None = None,
                    patient: str | None = None) -> "Principal":
        """Build a principal from validated token claims."""
        return cls(client_id=client_id, institution=institution, scopes=parse_scopes(scope), user=user,
                   patient=patient)
