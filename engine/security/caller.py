"""The caller of a service: whose institution writes, and what reads may see."""
from __future__ import annotations

from dataclasses import dataclass, field

from engine.security.principal import Principal
from engine.security.visibility import Visibility


@dataclass(frozen=True)
class Caller:
    """Institution that owns what this caller writes, and the visibility of what it reads."""

    institution: str | None = None
    visibility: Visibility = field(default_factory=Visibility.everything)

    @classmethod
    def of(cls, principal: Principal, *, consent_default: str) -> "Caller":
        """The caller for an authenticated principal."""
        return cls(principal.institution, Visibility.for_principal(principal, consent_default=consent_default))

    @classmethod
    def institution_only(cls, institution: str | None) -> "Caller":
        """A trusted internal writer (a feed, the CLI) acting for one institution, seeing everything."""
        return cls(institution, Visibility.everything())


SYSTEM = Caller()
