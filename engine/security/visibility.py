"""What a caller may see: own institution's data, others' data as the patient's consent allows."""
from __future__ import annotations

from dataclasses import dataclass

from engine.security.principal import Principal
from engine.security.scopes import AUDIT_READ


@dataclass(frozen=True)
class Visibility:
    """A read filter every store query applies (search, read, includes, history).

    `institution` None means unrestricted (internal jobs). `patient` restricts to one compartment.
    """

    institution: str | None = None
    consent_default: str = "opt-out"  # or "opt-in"
    patient: str | None = None
    linked_patients: tuple[str, ...] = ()
    break_glass: bool = False
    hidden_types: tuple[str, ...] = ()  # types the caller's scopes exclude from every read (e.g. AuditEvent)

    @property
    def unrestricted(self) -> bool:
        """True when nothing is filtered."""
        return self.institution is None and self.patient is None and not self.hidden_types

    @classmethod
    def everything(cls) -> "Visibility":
        """No filtering (server-internal work such as indexing and matching)."""
        return cls()

    @classmethod
    def for_principal(cls, principal: Principal, *, consent_default: str) -> "Visibility":
        """The filter for an authenticated caller."""
        hidden = () if principal.scopes.has(AUDIT_READ) else ("AuditEvent",)
        return cls(institution=principal.institution, consent_default=consent_default, patient=principal.patient,
                   break_glass=principal.break_glass_reason is not None, hidden_types=hidden)
