"""How a feed message updates what the store already holds.

HL7 v2 (chapter 2, "Null values in fields"): a field left empty means "no change", a field sent as `""`
means "delete the value". A feed's Patient and Encounter therefore keep every element the message does
not mention; a merged-away Patient stays retired and its links stay; a closed visit is only reopened by
a message meant to reopen it (a cancelled discharge, a new admission of a cancelled one).
"""
from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from engine.fhir.references import parse_reference
from engine.store.model import StoredResource
from engine.store.ports import UnitOfWork

MAX_MERGE_HOPS = 16
KEEP_UNMENTIONED = ("Patient", "Encounter")
_NEVER_KEPT = ("resourceType", "id", "meta", "text")
_CHOICES = ("deceased", "multipleBirth")  # choice elements: a new kind replaces the old one
TERMINAL_ENCOUNTER = ("finished", "cancelled", "entered-in-error")
OPEN_LOCATION = ("active", "planned")


@dataclass(frozen=True)
class EntryUpdate:
    """What a message says about one resource beyond its content."""

    cleared: frozenset[str] = frozenset()  # elements the message deletes ("" in HL7 v2): names, `period.end`,
    #                                        or `extension:<url>`
    reopens: frozenset[str] = frozenset()  # closed Encounter statuses the message may reopen
    unsent: frozenset[str] = frozenset()  # `element:use` (or `element:!use`, any other use) entries kept in
    #                                       a list the message did send, e.g. `telecom:work` when only the
    #                                       home number field was sent
    placeholders: frozenset[str] = frozenset()  # elements sent only because FHIR requires them (e.g. the
    #                                             content of a document notification without its text): a
    #                                             stored value wins


@dataclass
class FeedUpdates:
    """The update rules of one feed transaction, keyed by Bundle entry fullUrl."""

    entries: dict[str, EntryUpdate] = field(default_factory=dict)

    def combine(self, full_url: str | None, resource_type: str, incoming: dict[str, Any],
                current: dict[str, Any] | None) -> dict[str, Any]:
        """`incoming` completed with what the store holds and the message leaves unmentioned."""
        if current is None:
            return incoming
        rule = self.entries.get(full_url or "", EntryUpdate())
        kept = {name: copy.deepcopy(current[name]) for name in rule.placeholders if current.get(name)}
        if resource_type == "DocumentReference" and current.get("status") == "superseded" and \
                incoming.get("status") == "current":  # replaced by another: an edit or re-send does not revive it
            kept["status"] = "superseded"
        if resource_type not in KEEP_UNMENTIONED:
            return {**incoming, **kept} if kept else incoming
        combined = {**incoming, **kept}
        _keep_unmentioned(combined, current, rule)
        if resource_type == "Patient":
            _keep_patient_state(combined, current)
        else:
            _keep_encounter_state(combined, incoming.get("period") or {}, current, rule)
        return combined


def current_survivor(uow: UnitOfWork, patient: StoredResource) -> StoredResource:
    """The Patient that `patient` was merged into, following `replaced-by` links to the end of the chain."""
    seen = {patient.resource_id}
    found = patient
    for _ in range(MAX_MERGE_HOPS):
        target = _replaced_by(found)
        if target is None or target in seen:
            return found
        successor = uow.read("Patient", target)
        if successor is None or successor.deleted or successor.body is None:
            return found
        seen.add(target)
        found = successor
    return found


def follow_merges(uow: UnitOfWork, matches: list[StoredResource]) -> list[StoredResource]:
    """Patient matches with each merged-away Patient replaced by its survivor (duplicates removed)."""
    result: dict[str, StoredResource] = {}
    for match in matches:
        survivor = current_survivor(uow, match) if match.resource_type == "Patient" else match
        result.setdefault(survivor.key, survivor)
    return list(result.values())


def _replaced_by(patient: StoredResource) -> str | None:
    for link in (patient.body or {}).get("link") or []:
        if link.get("type") == "replaced-by":
            parsed = parse_reference((link.get("other") or {}).get("reference", ""))
            if parsed is not None and parsed.resource_type == "Patient":
                return parsed.resource_id
    return None


def _keep_unmentioned(combined: dict[str, Any], current: dict[str, Any], rule: EntryUpdate) -> None:
    cleared = rule.cleared
    mentioned_choices = {prefix for prefix in _CHOICES if any(name.startswith(prefix) for name in combined)}
    sent = set(combined)
    for name, value in current.items():
        if name in sent or name in cleared or name in _NEVER_KEPT or name == "extension":
            continue
        if any(name.startswith(prefix) for prefix in mentioned_choices):
            continue
        if name.startswith("_") and name[1:] in sent:  # e.g. the birth time of a birth date sent anew
            continue
        combined[name] = copy.deepcopy(value)
    for token in rule.unsent:  # entries a field that was not sent put in a list another field did send
        element, _, use = token.partition(":")
        if element in sent and element not in cleared:
            given = combined[element]
            combined[element] = list(given) + [copy.deepcopy(item) for item in current.get(element) or []
                                               if isinstance(item, dict) and _use_is(item, use)
                                               and item not in given]
    sent_urls = {item.get("url") for item in combined.get("extension") or [] if isinstance(item, dict)}
    kept = [copy.deepcopy(item) for item in current.get("extension") or [] if isinstance(item, dict)
            and item.get("url") not in sent_urls and f"extension:{item.get('url')}" not in cleared]
    extensions = [] if "extension" in cleared else list(combined.get("extension") or []) + kept
    if extensions:
        combined["extension"] = extensions
    else:
        combined.pop("extension", None)


def _keep_patient_state(combined: dict[str, Any], current: dict[str, Any]) -> None:
    _keep_all(combined, current, "identifier", _same_identifier)
    _keep_all(combined, current, "link", _same_link)
    if any(link.get("type") == "replaced-by" for link in combined.get("link") or []):
        combined["active"] = False


def _keep_all(combined: dict[str, Any], current: dict[str, Any], element: str,
              same: Callable[[dict[str, Any], dict[str, Any]], bool]) -> None:
    """The sent entries of a list plus every stored one none of them is `same` as."""
    entries = list(combined.get(element) or [])
    for item in current.get(element) or []:
        if not any(same(item, other) for other in entries):
            entries.append(copy.deepcopy(item))
    if entries:
        combined[element] = entries


def _keep_encounter_state(combined: dict[str, Any], sent_period: dict[str, Any], current: dict[str, Any],
                          rule: EntryUpdate) -> None:
    before, after = current.get("status"), combined.get("status")
    closing_undone = before in TERMINAL_ENCOUNTER and after not in TERMINAL_ENCOUNTER
    reopening = closing_undone and before in rule.reopens
    if closing_undone and not reopening:
        combined["status"] = before  # a late or repeated message does not reopen a closed visit
        if combined.get("location"):
            combined["location"] = [dict(item, status="completed") if item.get("status") in OPEN_LOCATION
                                    else item for item in combined["location"]]
    elif after in (None, "unknown") and before not in (None, "unknown"):
        combined["status"] = before
    period = dict(current.get("period") or {})
    for part in ("start", "end"):
        if f"period.{part}" in rule.cleared:
            period.pop(part, None)
    if reopening and "end" not in sent_period:
        period.pop("end", None)
    period.update(sent_period)
    if "period" in rule.cleared and not sent_period:
        period = {}
    if period:
        combined["period"] = period
    else:
        combined.pop("period", None)


def _use_is(item: dict[str, Any], use: str) -> bool:
    """`use` is a ContactPoint/Address use, or `!use` for any other (or none)."""
    return item.get("use") != use[1:] if use.startswith("!") else item.get("use") == use


def _same_identifier(left: dict[str, Any], right: dict[str, Any]) -> bool:
    return left.get("value") == right.get("value") and left.get("system") == right.get("system")


def _same_link(left: dict[str, Any], right: dict[str, Any]) -> bool:
    return (left.get("type") == right.get("type")
            and (left.get("other") or {}).get("reference") == (right.get("other") or {}).get("reference"))
