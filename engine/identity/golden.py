"""Golden records: constrained clustering of pairs, stable golden ids, and field survivorship."""
from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Mapping
from typing import Any

from engine.identity.clustering import Grouping, ambiguous, components
from engine.identity.ports import GOLDEN_TAG, MDM_SOURCE, Link, Pair
from engine.identity.survivorship import FIELDS, SurvivorshipPolicy, choose
from engine.store.model import StoredResource

SOURCE_EXTENSION = "urn:tessera:mdm:field-source"


def cluster(nodes: Iterable[str], pairs: Iterable[Pair], conflicts: Collection[tuple[str, str]] = ()) -> list[set[str]]:
    """Groups of patient ids: manual matches first, then automatic matches by probability, never joining two
    records a manual "no-match" separates, and no automatic match joining two groups that hold a clear
    conflict (`conflicts`, sorted id pairs) between records no person matched by hand (a manual match vouches
    for the records it joins), and a record matching both sides of such a conflict equally well joining
    neither (`clustering.ambiguous`); every node appears once, singletons included."""
    grouping = Grouping(nodes)
    usable = [p for p in pairs if p.left_id in grouping.group and p.right_id in grouping.group]
    grouping.keep_apart((p.left_id, p.right_id) for p in usable if p.manual == "no-match")
    vouched = {x for p in usable if p.manual == "match" for x in (p.left_id, p.right_id)}
    kept = {c for c in conflicts if c[0] not in vouched and c[1] not in vouched}
    grouping.conflicting(kept)
    manual = sorted((p for p in usable if p.manual == "match"), key=lambda p: p.updated_us)
    for pair in manual:
        grouping.join(pair.left_id, pair.right_id, override_conflicts=True)
    auto = sorted((p for p in usable if p.manual is None and p.decision == "match"),
                  key=lambda p: (-(p.probability or 0.0), p.pair_id))
    unsure = ambiguous(((p.left_id, p.right_id, _weight(p)) for p in auto), kept) - vouched
    for pair in auto:
        if pair.left_id not in unsure and pair.right_id not in unsure:
            grouping.join(pair.left_id, pair.right_id)
    return grouping.groups()


def _weight(pair: Pair) -> float:
    """A scored pair's weight in bits (from its explanation; else from its probability)."""
    weight = pair.explanation.get("weight") if pair.explanation else None
    if isinstance(weight, (int, float)):
        return float(weight)
    probability = min(max(pair.probability or 0.0, 1e-12), 1 - 1e-12)
    return math.log2(probability / (1 - probability))


def match_components(nodes: Iterable[str], pairs: Iterable[Pair]) -> list[set[str]]:
    """Connected components over pairs whose decision in force is "match" (what `cluster` may join)."""
    return components(((p.left_id, p.right_id) for p in pairs if p.effective == "match"), nodes)


def assign_golden_ids(groups: list[set[str]], current: dict[str, str], new_id: Callable[[], str]) -> dict[str, str]:
    """A golden id per patient: each group keeps the id most of its members had (bigger groups first)."""
    used: set[str] = set()
    out: dict[str, str] = {}
    for members in sorted(groups, key=lambda g: (-len(g), min(g))):
        counts = Counter(current[m] for m in members if m in current)
        ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
        choice = next((g for g, _ in ranked if g not in used), None) or new_id()
        used.add(choice)
        for member in members:
            out[member] = choice
    return out


def member_links(groups: list[set[str]], golden_of: dict[str, str], pairs: list[Pair],
                 institutions: dict[str, str | None], now_us: int) -> list[Link]:
    """The link row of every member: the strongest pair tying it to its group (manual first)."""
    by_member: dict[str, list[Pair]] = {}
    for pair in pairs:
        by_member.setdefault(pair.left_id, []).append(pair)
        by_member.setdefault(pair.right_id, []).append(pair)
    links = []
    for members in groups:
        for member in members:
            link = Link(member, golden_of[member], institutions.get(member), updated_us=now_us)
            inside = [p for p in by_member.get(member, []) if p.other(member) in members and
                      p.effective == "match"]
            if inside:
                best = max(inside, key=lambda p: (p.manual == "match", p.probability or 0.0))
                link.probability = best.probability
                link.manual = best.manual == "match"
                link.decision = "manual" if link.manual else "match"
                link.explanation = {"pair": best.pair_id, "other": f"Patient/{best.other(member)}",
                                    **best.explanation}
                link.actor, link.reason = best.actor, best.reason
            links.append(link)
    return links


def golden_patient(golden_id: str, members: list[StoredResource], policy: SurvivorshipPolicy | None = None,
                   institutions: Mapping[str, str | None] | None = None) -> dict[str, Any]:
    """The golden Patient of `members`: each field chosen by the survivorship `policy` (default: most complete,
    then most recent), its source and rule recorded in an extension; identifiers united; members as `link`."""
    policy = policy or SurvivorshipPolicy()
    body: dict[str, Any] = {"resourceType": "Patient", "id": golden_id,
                            "meta": {"source": MDM_SOURCE, "tag": [dict(GOLDEN_TAG)]}}
    sources = []
    for name in FIELDS:
        chosen = choose(name, members, policy, institutions or {})
        if chosen is None:
            continue
        body[chosen.element] = chosen.value
        sources.append({"url": SOURCE_EXTENSION, "extension": [
            {"url": "field", "valueString": chosen.element},
            {"url": "source", "valueReference": {"reference": chosen.source.key}},
            {"url": "rule", "valueCode": chosen.rule}]})
    identifiers, seen = [], set()
    for stored in sorted(members, key=lambda s: s.resource_id):
        for identifier in (stored.body or {}).get("identifier") or []:
            key = (identifier.get("system"), identifier.get("value")) if isinstance(identifier, dict) else None
            if key is not None and key not in seen:
                seen.add(key)
                identifiers.append(identifier)
    if identifiers:
        body["identifier"] = identifiers
    body["active"] = True
    if sources:
        body["extension"] = sources
    body["link"] = [{"other": {"reference": s.key}, "type": "seealso"} for s in sorted(members, key=lambda s: s.key)]
    return body


def field_provenance(golden: dict[str, Any]) -> dict[str, dict[str, str | None]]:
    """Element name -> {"source": Patient reference, "rule": survivorship rule}, from a golden Patient's
    source extensions."""
    out = {}
    for extension in golden.get("extension") or []:
        if extension.get("url") != SOURCE_EXTENSION:
            continue
        parts = {e.get("url"): e for e in extension.get("extension") or []}
        field_name = parts.get("field", {}).get("valueString")
        source = parts.get("source", {}).get("valueReference", {}).get("reference")
        if field_name and source:
            out[field_name] = {"source": source, "rule": parts.get("rule", {}).get("valueCode")}
    return out


def field_sources(golden: dict[str, Any]) -> dict[str, str]:
    """Element name -> source Patient reference, from a golden Patient's source extensions."""
    return {name: found["source"] for name, found in field_provenance(golden).items() if found["source"]}
