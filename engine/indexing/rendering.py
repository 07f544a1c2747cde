"""Turn a FHIR R4 resource (a plain dict) into the search document the relevance index holds.

Each resource type has a rendering spec: the concepts that name it, the sections of its text, the elements
holding its clinically relevant date and its patient. Types without a spec are rendered by a generic walk.
Every part is rendered on its own, so a malformed element costs only that part of the document.
"""
from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from engine.fhir.dates import parse_range
from engine.fhir.references import parse_reference
from engine.indexing.model import SearchDocument
from engine.indexing.render_specs import (
    EMBED_LIMIT, ElementPath, TEXT_LIMIT, TITLE_LIMIT, _EMBED_LABELS, _GENERIC_DATES, _GENERIC_NAMES,
    _GENERIC_PATIENT, _GENERIC_PRIMARY, _GENERIC_SKIP, _GENERIC_STRINGS, _ITEMS_PER_LINE, _LINE_LIMIT,
    _SPECS, _Section, _Spec)
from engine.indexing.render_values import (
    _LONG_KINDS, _Labels, _SPECIAL_KINDS, _attachment_text, _dedupe, _generic_attachments,
    _generic_concepts, _heading, _human_name, _narrative_text, _resolve, _values, type_label)

def _patient(resource: dict, resource_type: str, resource_id: str,
             paths: tuple[ElementPath, ...]) -> str | None:
    """"Patient/{id}" of the compartment owner: a Patient reference (relative or absolute, as the store
    reads it) in a compartment element."""
    if resource_type == "Patient":
        return f"Patient/{resource_id}"
    for path in paths:
        for reference in _resolve(resource, path):
            target = reference.get("reference") if type(reference) is dict else None
            if type(target) is str:
                parsed = parse_reference(target)
                if parsed is not None and parsed.resource_type == "Patient":
                    return f"Patient/{parsed.resource_id}"
    return None


def _date_us(resource: dict, paths: tuple[ElementPath, ...]) -> int | None:
    """The start, in epoch microseconds, of the first parseable date found along `paths`."""
    for path in paths:
        for value in _resolve(resource, path):
            if type(value) is str:
                found = parse_range(value)
                if found:
                    return found[0]
    return None


def _status_code(resource: dict) -> str | None:
    """status, else the code of clinicalStatus, else lifecycleStatus."""
    value = resource.get("status")
    if type(value) is str and value:
        return value
    for coding in _resolve(resource, ("clinicalStatus", "coding")):
        if type(coding) is dict and type(coding.get("code")) is str:
            return coding["code"]
    value = resource.get("lifecycleStatus")
    return value if type(value) is str and value else None


def _clip(text: str, limit: int) -> str:
    """`text` cut at a word boundary to at most `limit` characters (an ellipsis marks the cut)."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    space = cut.rfind(" ")
    return (cut[:space] if space > limit // 2 else cut).rstrip(" ,;:.") + "…"


class _Document:
    """The parts of one search document while they are being gathered."""

    def __init__(self) -> None:
        self.labels = _Labels()
        self.head: str | None = None  # the label naming the resource in the title
        self.primary: list[str] = []  # all labels of the naming concepts
        self.embed_head: list[str] = []  # the naming concept's labels for embed_text
        self.lines: dict[str, list[str]] = {}  # heading -> items, in section order
        self.embed: dict[str, list[str]] = {}
        self.long: list[tuple[str, Any]] = []  # ("attachment" | "narrative", element), in order

    def add(self, heading: str, items: list[str], *, text: bool = True, embed: bool = False) -> None:
        """Add items under a heading of the text and, when `embed`, of the embed_text."""
        if text and items:
            self.lines.setdefault(heading, []).extend(items)
        if embed and items:
            self.embed.setdefault(heading, []).extend(items)


def _name_primary(resource: dict, spec_primary: Iterable[ElementPath], document: _Document) -> None:
    """Record the naming concepts: the first path holding a real display names the resource.

    Codes of every path are recorded; the labels of the paths not chosen are left to the sections.
    """
    chosen: list[list[str]] = []
    fallback: list[list[str]] = []
    for path in spec_primary:
        found, real = [], False
        for node in _resolve(resource, path):
            labels, is_real = document.labels.take(node)
            if labels:
                found.append(labels)
                real = real or is_real
        if real and not chosen:
            chosen = found
        elif found and not fallback:
            fallback = found
    picked = chosen or fallback
    if picked:
        document.head = picked[0][0]
        document.embed_head = picked[0][:_EMBED_LABELS]
        document.primary = [label for labels in picked for label in labels]


def _first_name(resource: dict, paths: Iterable[ElementPath], labels: _Labels) -> str | None:
    """The first name, string or concept text found along `paths`."""
    for path in paths:
        for node in _resolve(resource, path):
            if type(node) is dict and "coding" in node:
                found = labels.take(node, record=False)[0]
                text = found[0] if found else None
            else:
                text = _human_name(node)
            if text:
                return text
    return None


def _title(label: str, resource: dict, spec: _Spec | None, document: _Document) -> str:
    """"Type label: name", the name being the naming concept or, for directory resources, the name."""
    names_first = spec.names_first if spec else False
    head = None
    if names_first or document.head is None:
        head = _first_name(resource, spec.names if spec else _GENERIC_NAMES, document.labels)
    head = head or document.head
    return _clip(f"{label}: {' '.join(head.split())}", TITLE_LIMIT) if head else label


def _render_sections(resource: dict, sections: Iterable[_Section], document: _Document) -> None:
    for section in sections:
        try:
            items = _resolve(resource, section.path)
            if not items:
                continue
            kind = section.kind
            if kind == "concept" or kind == "status":
                found: list[str] = []
                for node in items:
                    found.extend(document.labels.take(node, record=kind == "concept")[0])
                document.add(section.heading, found, text=section.text, embed=section.embed)
            elif kind == "strings":
                found = [item[:_LINE_LIMIT] for item in items if type(item) is str and item]
                document.add(section.heading, found, embed=section.embed)
            elif kind in _LONG_KINDS:
                document.long.extend(("attachment" if kind == "attachment" else "narrative", item)
                                     for item in items)
            else:
                document.add(section.heading, _SPECIAL_KINDS[kind](items, document.labels))
        except Exception:  # noqa: BLE001 - a malformed element costs only its own section
            continue


def _render_generic(resource: dict, document: _Document) -> None:
    """Types without a spec: every concept outside bookkeeping, common strings, value[x], attachments."""
    found: list[tuple[str, Any]] = []
    for key, child in resource.items():
        if key not in _GENERIC_SKIP and not key.endswith("Status") and type(child) in (dict, list):
            _generic_concepts(child, key, 1, found)
    rank = {key: index for index, key in enumerate(_GENERIC_PRIMARY)}
    primary_key = min((key for key, _ in found), key=lambda key: rank.get(key, len(rank)), default=None)
    fallback: list[str] = []
    for key, node in found:
        labels, real = document.labels.take(node)
        if key != primary_key:
            document.add(_heading(key), labels, embed=key == "category")
            continue
        document.primary.extend(labels)
        if real and document.head is None and labels:
            document.head, document.embed_head = labels[0], labels[:_EMBED_LABELS]
        elif labels and not fallback:
            fallback = labels
    if document.head is None and fallback:
        document.head, document.embed_head = fallback[0], fallback[:_EMBED_LABELS]
    for path, heading in _GENERIC_STRINGS:
        document.add(heading, [item[:_LINE_LIMIT] for item in _resolve(resource, path)
                               if type(item) is str and item])
    document.add("Value", _values([resource], document.labels))
    attachments: list[dict] = []
    for key, child in resource.items():
        if key not in _GENERIC_SKIP and type(child) in (dict, list):
            _generic_attachments(child, 1, attachments)
    document.long.extend(("attachment", item) for item in attachments)


def _assemble_text(title: str, document: _Document, narrative: Any) -> str:
    """Title, headed lines, attachments and narrative, capped at TEXT_LIMIT characters."""
    lines = [title]
    named = title.partition(": ")[2].casefold()
    shown = {label.casefold() for label in document.primary} | {named}
    others = [label for label in _dedupe(document.primary) if label.casefold() != named]
    if others:
        lines.append(", ".join(others[:_ITEMS_PER_LINE]))
    for heading, items in document.lines.items():
        fresh = [item for item in _dedupe(items) if item.casefold() not in shown]
        if fresh:
            joined = ", ".join(fresh[:_ITEMS_PER_LINE])[:_LINE_LIMIT]
            lines.append(f"{heading}: {joined}" if heading else joined)
    size = sum(len(line) + 1 for line in lines)
    for kind, item in (*document.long, ("narrative", narrative)):
        budget = TEXT_LIMIT - size
        if budget <= 0:
            break
        try:
            part = _attachment_text(item, budget) if kind == "attachment" else _narrative_text(item)
        except Exception:  # noqa: BLE001 - an undecodable attachment or narrative is left out
            part = None
        if part:
            lines.append(part)
            size += len(part) + 1
    return _clip("\n".join(lines), TEXT_LIMIT)


def _assemble_embed(label: str, document: _Document) -> str:
    """Type label, naming concept and the embed sections: no values, dates, ids or names."""
    head = _dedupe(document.embed_head)
    shown = {item.casefold() for item in head}
    parts = [f"{label}: {' / '.join(head)}" if head else label]
    for heading, items in document.embed.items():
        fresh = [item for item in _dedupe(items) if item.casefold() not in shown][:_EMBED_LABELS]
        shown.update(item.casefold() for item in fresh)
        if fresh:
            parts.append(f"{heading}: {', '.join(fresh)}" if heading else ", ".join(fresh))
    return _clip(". ".join(parts), EMBED_LIMIT)


def render(resource: dict, *, version: int, institution: str | None) -> SearchDocument:
    """The search document for one version of a FHIR R4 resource; raises only without resourceType or id."""
    resource_type = resource.get("resourceType") if type(resource) is dict else None
    resource_id = resource.get("id") if type(resource) is dict else None
    if type(resource_type) is not str or not resource_type or resource_id is None or resource_id == "":
        raise ValueError("a resource needs resourceType and id to be rendered")
    resource_id = str(resource_id)
    label = type_label(resource_type)
    spec = _SPECS.get(resource_type)
    document = _Document()

    try:
        if spec is None:
            _render_generic(resource, document)
        else:
            _name_primary(resource, spec.primary, document)
            _render_sections(resource, spec.sections, document)
    except Exception:  # noqa: BLE001 - keep whatever was gathered before the failure
        pass
    try:
        title = _title(label, resource, spec, document)
    except Exception:  # noqa: BLE001
        title = label
    try:
        text = _assemble_text(title, document, resource.get("text"))
    except Exception:  # noqa: BLE001
        text = title
    try:
        embed_text = _assemble_embed(label, document)
    except Exception:  # noqa: BLE001
        embed_text = label
    return SearchDocument(
        resource_type=resource_type,
        resource_id=resource_id,
        version=version,
        patient=_guard(_patient, resource, resource_type, resource_id,
                       spec.patient if spec else _GENERIC_PATIENT),
        source=_guard(_source, resource),
        institution=institution,
        date_us=_guard(_date_us, resource, (spec.dates or _GENERIC_DATES) if spec else _GENERIC_DATES),
        status=_guard(_status_code, resource),
        codes=tuple(document.labels.codes),
        displays=tuple(document.labels.displays.values()),
        title=title,
        text=text,
        embed_text=embed_text,
    )


def _source(resource: dict) -> str | None:
    """meta.source."""
    meta = resource.get("meta")
    source = meta.get("source") if type(meta) is dict else None
    return source if type(source) is str and source else None


def _guard(function: Any, *args: Any) -> Any:
    """`function(*args)`, or None when the resource's shape makes it fail."""
    try:
        return function(*args)
    except Exception:  # noqa: BLE001
        return None
