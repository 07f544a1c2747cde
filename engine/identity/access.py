"""Who may read a stored golden Patient: exactly the institutions that may see every one of its members.

A golden Patient belongs to no institution and carries values of every member, so it gets sharing rules of its
own (stored like a Consent's, on the golden id) derived from its members' owners, sensitivity labels and
sharing rules. The member test mirrors the store's read filter (adapters/store/visibility_sql.py). Where an
exact rule set cannot be written (a member hidden from institutions without rules of their own while the
consent default is opt-out), the golden Patient is hidden from every institution; the identity API still
shows each caller the golden record of the members it may see.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

ANY = "*"
_NOBODY = "\x00no-institution"  # stands for an institution that owns nothing and is named by no rule

Rule = tuple[str, str, str]  # (grantee, category, "permit" | "deny")


@dataclass(frozen=True)
class Member:
    """What decides a member's visibility: owner, sensitive-information label, its patient's sharing rules."""

    institution: str | None
    sensitivity: str | None
    rules: frozenset[Rule]


def _has(rules: frozenset[Rule], grantee: str, category: str, decision: str) -> bool:
    return any(r[1] == category and r[2] == decision and r[0] in (grantee, ANY) for r in rules)


def member_visible(member: Member, institution: str, consent_default: str) -> bool:
    """Whether `institution` may read the member Patient (as the store's read filter decides)."""
    if member.institution == institution:
        return True
    rules, label = member.rules, member.sensitivity
    denied = _has(rules, institution, ANY, "deny") or (label is not None and _has(rules, institution, label, "deny"))
    category_permit = label is not None and _has(rules, institution, label, "permit")
    if consent_default == "opt-in":
        allowed = _has(rules, institution, ANY, "permit") if label is None else category_permit
    else:
        allowed = label is None or category_permit
    return not denied and allowed


def golden_rules(members: Mapping[str, Member], consent_default: str) -> set[Rule]:
    """Sharing rules for a golden Patient (unlabelled, owned by no one) so that it is visible to an institution
    only when all its members are."""
    named = {m.institution for m in members.values() if m.institution} | {
        r[0] for m in members.values() for r in m.rules if r[0] != ANY}

    def everyone_visible(institution: str) -> bool:
        return all(member_visible(m, institution, consent_default) for m in members.values())

    anyone = everyone_visible(_NOBODY)
    rules: set[Rule] = set()
    if consent_default == "opt-in":
        if anyone:
            rules.add((ANY, ANY, "permit"))
        for institution in sorted(named):
            rules.add((institution, ANY, "permit" if everyone_visible(institution) else "deny"))
        return rules
    if not anyone:
        return {(ANY, ANY, "deny")}
    return {(institution, ANY, "deny") for institution in sorted(named) if not everyone_visible(institution)}
