"""PID-18 (+ IN1 coverages) to Account, FT1 to ChargeItem.

HL7 v2-to-FHIR IG: "Segment PID to Account Map" (PID-18 patient account number), "Segment FT1 to ChargeItem
Map" (http://hl7.org/fhir/uv/v2mappings/): FT1-2 transaction id, FT1-4 transaction date, FT1-7 transaction code,
FT1-10 quantity, FT1-11 extended amount (price override), FT1-19 diagnoses (reasons), FT1-20 performer,
FT1-24 enterer. Only charges (FT1-6 `CG`) become ChargeItems: a credit, payment or adjustment is no
chargeable item (it stays in the kept raw message, and a warning says so).
"""
from __future__ import annotations

from typing import Any

from adapters.hl7v2.context import Context
from adapters.hl7v2.datatypes.codes import cwe_concept
from adapters.hl7v2.datatypes.identifiers import cx_identifier, ei_identifier
from adapters.hl7v2.datatypes.quantity import parse_number
from adapters.hl7v2.errors import DATA_TYPE_ERROR, REQUIRED_FIELD_MISSING, TABLE_VALUE_NOT_FOUND
from adapters.hl7v2.identity import Key, synthetic_key
from adapters.hl7v2.segments.practitioners import practitioner
from adapters.hl7v2.tree import Segment

# BAR events: P06 ends an account, P02 purges it (both leave it inactive); the others keep it active
ACCOUNT_STATUS = {"P02": "inactive", "P06": "inactive"}
NOT_CHARGES = {"CD": "credit", "PY": "payment", "AJ": "adjustment"}


def map_account(ctx: Context, pid: Segment, trigger: str, coverages: list[str], *,
                create_only: bool = False) -> str | None:
    """Upsert the Account PID-18 names (None when the patient account number is empty)."""
    if ctx.subject is None or not pid.rep(18).c(1):
        return None
    identifier = cx_identifier(pid.rep(18), default_system=ctx.sender_system)
    if not identifier:
        return None
    identifier.setdefault("system", ctx.sender_system)
    account: dict[str, Any] = {"status": ACCOUNT_STATUS.get(trigger, "active"), "identifier": [identifier],
                               "subject": [ctx.patient_ref()]}
    if coverages:
        account["coverage"] = [{"coverage": {"reference": url}, "priority": number}
                               for number, url in enumerate(coverages, start=1)]
    return ctx.upsert(Key("Account", identifier["system"], identifier["value"]), account, create_only=create_only)


def _money(ctx: Context, ft1: Segment, field: int) -> dict[str, Any] | None:
    rep = ft1.rep(field)
    amount = rep.s(1, 1) or rep.c(1)
    if not amount:
        return None
    try:
        money: dict[str, Any] = {"value": parse_number(amount)}
    except ValueError:
        ctx.issue(ft1, field, DATA_TYPE_ERROR, f"FT1-{field} is not an amount; it was left out", fatal=False)
        return None
    currency = rep.s(1, 2)
    if len(currency) == 3 and currency.isalpha():
        money["currency"] = currency.upper()
    return money


def map_charge(ctx: Context, ft1: Segment, *, account: str | None, services: list[str]) -> str | None:
    """Upsert the ChargeItem of a charge FT1; None for credits, payments and adjustments, or without a code."""
    if ctx.subject is None:
        return None
    kind = ft1.get(6).upper()
    if kind in NOT_CHARGES:
        ctx.issue(ft1, 6, TABLE_VALUE_NOT_FOUND, f"FT1 {ft1.get(1) or ''} is a {NOT_CHARGES[kind]}, not a charge; "
                  "it was not stored as a ChargeItem", fatal=False)
        return None
    code = cwe_concept(ft1.rep(7))
    if code is None:
        ctx.issue(ft1, 7, REQUIRED_FIELD_MISSING, "FT1-7 (transaction code) is required", fatal=True)
        return None
    identifier = ei_identifier(ft1.rep(2), default_system=ctx.sender_system)
    key = (Key("ChargeItem", identifier["system"], identifier["value"]) if identifier
           else synthetic_key("ChargeItem", "charge", ctx.sender_system, ctx.header.control_id, ft1.get(1),
                              str(ft1.index)))
    charge: dict[str, Any] = {"status": "billable", "code": code, "subject": ctx.patient_ref(),
                              "identifier": [identifier] if identifier else []}
    encounter = ctx.encounter_ref()
    if encounter:
        charge["context"] = encounter
    when = ctx.datetime(ft1, 4) if ft1.get(4) else None
    if when:
        charge["occurrenceDateTime"] = when
    count = ft1.get(10)
    if count:
        try:
            charge["quantity"] = {"value": parse_number(count)}
        except ValueError:
            ctx.issue(ft1, 10, DATA_TYPE_ERROR, "FT1-10 (transaction quantity) is not a number; it was left out",
                      fatal=False)
    price = _money(ctx, ft1, 11)
    if price:
        charge["priceOverride"] = price
    performer = practitioner(ctx, ft1.rep(20)) if ft1.has(20) else None
    if performer:
        charge["performer"] = [{"actor": performer}]
    enterer = practitioner(ctx, ft1.rep(24)) if ft1.has(24) else None
    if enterer:
        charge["enterer"] = enterer
    reasons = [concept for concept in (cwe_concept(rep) for rep in ft1.reps(19)) if concept]
    if reasons:
        charge["reason"] = reasons
    if services:
        charge["service"] = [{"reference": url} for url in services]
    if account:
        charge["account"] = [{"reference": account}]
    return ctx.upsert(key, charge)
