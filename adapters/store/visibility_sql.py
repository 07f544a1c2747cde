"""The SQL form of engine.security.visibility.Visibility: own data, consented data, one compartment."""
from __future__ import annotations

import sqlalchemy as sa

from engine.security.visibility import Visibility
from adapters.store.schema import consent_rules

# Resource types only their own institution ever sees, whatever the consent.
INSTITUTION_PRIVATE = ("AuditEvent",)


def _rule(table: sa.Table, visibility: Visibility, decision: str, category: sa.ColumnElement | str) -> sa.Exists:
    c = consent_rules
    return sa.exists().where(c.c.patient == table.c.patient, c.c.decision == decision,
                             c.c.grantee.in_([visibility.institution, "*"]), c.c.category == category)


def visible(table: sa.Table, visibility: Visibility) -> sa.ColumnElement | None:
    """A condition on a `resources` alias, or None when nothing is filtered."""
    if visibility.unrestricted:
        return None
    parts = []
    if visibility.hidden_types:
        parts.append(table.c.res_type.not_in(visibility.hidden_types))
    if visibility.institution is not None:
        own = table.c.institution == visibility.institution
        if visibility.break_glass:
            shared: sa.ColumnElement = sa.true()
        else:
            denied = sa.or_(_rule(table, visibility, "deny", "*"),
                            sa.and_(table.c.sensitivity.is_not(None),
                                    _rule(table, visibility, "deny", table.c.sensitivity)))
            category_permit = _rule(table, visibility, "permit", table.c.sensitivity)
            if visibility.consent_default == "opt-in":
                allowed = sa.case((table.c.sensitivity.is_(None), _rule(table, visibility, "permit", "*")),
                                  else_=category_permit)
            else:
                allowed = sa.or_(table.c.sensitivity.is_(None), category_permit)
            shared = sa.and_(sa.not_(denied), allowed)
        directory = table.c.patient.is_(None)  # practitioners, organizations, locations, ...
        parts.append(sa.or_(own, sa.and_(table.c.res_type.not_in(INSTITUTION_PRIVATE), sa.or_(directory, shared))))
    if visibility.patient is not None:
        patients = [visibility.patient, *visibility.linked_patients]
        parts.append(sa.or_(table.c.patient.in_(patients), sa.and_(table.c.patient.is_(None),
                                                                    table.c.res_type != "Patient")))
    return sa.and_(*parts)
