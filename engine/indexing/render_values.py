"""Rendering of element values: coded concepts, quantities, names, dosages, attachments and narrative."""
from __future__ import annotations

import base64
import binascii
import html
import re
from collections.abc import Iterable
from typing import Any

from engine.indexing.render_specs import (
    ElementPath, GENERATED_NARRATIVE_LIMIT, _CODE_LABELS, _GENERIC_DEPTH, _GENERIC_SKIP, _LINE_LIMIT)


def _resolve(node: Any, path: ElementPath) -> list[Any]:
    """The values at a path, lists flattened at every step; missing or ill-typed steps yield nothing.

    The step "#" follows local references ("#id") into the root's contained resources.
    """
    if not path:
        return [node]
    first = node.get(path[0]) if type(node) is dict else None
    if first is None:
        return []
    items = first if type(first) is list else [first]
    for key in path[1:]:
        found: list[Any] = []
        if key == "#":
            found = _contained(node, items)
        else:
            for item in items:
                if type(item) is dict:
                    value = item.get(key)
                    if value is None:
                        continue
                    if type(value) is list:
                        found.extend(value)
                    else:
                        found.append(value)
        if not found:
            return found
        items = found
    return items


def _contained(root: Any, references: list[Any]) -> list[Any]:
    """The contained resources that local references ("#id") point to."""
    contained = root.get("contained") if type(root) is dict else None
    if type(contained) is not list:
        return []
    wanted = {item["reference"][1:] for item in references if type(item) is dict
              and type(item.get("reference")) is str and item["reference"].startswith("#")}
    return [resource for resource in contained if type(resource) is dict and resource.get("id") in wanted]


_CAMEL = re.compile(r"(?<=[a-z])(?=[A-Z])")
_TYPE_LABELS: dict[str, str] = {}


def type_label(resource_type: str) -> str:
    """A readable label for a resource type: "MedicationRequest" -> "Medication request"."""
    label = _TYPE_LABELS.get(resource_type)
    if label is None:
        words = _CAMEL.split(resource_type)
        label = " ".join([words[0], *(word.lower() for word in words[1:])])
        if len(_TYPE_LABELS) < 1_000:
            _TYPE_LABELS[resource_type] = label
    return label


def _code_label(system: Any, code: Any) -> str | None:
    """A readable stand-in for a coding without display: a known label, or a code made of words."""
    if type(code) is not str or not code:
        return None
    known = _CODE_LABELS.get(system) if type(system) is str else None
    if known and code in known:
        return known[code]
    if len(code) < 3 or len(code) > 40 or ":" in code or "/" in code or any(ch.isdigit() for ch in code):
        return None
    return code if any(ch.isalpha() for ch in code) else None


def _number(value: Any) -> str | None:
    """A quantity's value as short text: 7.2, 120, 142.13, 0.0035."""
    if type(value) is int:
        return str(value)
    if type(value) is float:
        if value.is_integer() and abs(value) < 1e15:
            return str(int(value))
        text = f"{value:.2f}" if abs(value) >= 1 else f"{value:.3g}"
        return text.rstrip("0").rstrip(".") if "." in text and "e" not in text else text
    if type(value) is str and value:
        return value
    return None


def _quantity(quantity: Any) -> str | None:
    """"7.2 %", "< 5 mg/dL", "140.52 USD" for a Quantity or Money."""
    if type(quantity) is not dict:
        return None
    number = _number(quantity.get("value"))
    if number is None:
        return None
    unit = quantity.get("unit") or quantity.get("code") or quantity.get("currency")
    comparator = quantity.get("comparator")
    text = f"{comparator} {number}" if type(comparator) is str else number
    return f"{text} {unit}" if type(unit) is str and unit else text


def _human_name(name: Any) -> str | None:
    """A HumanName (or a plain string name) as one line."""
    if type(name) is str:
        return name
    if type(name) is not dict:
        return None
    if type(name.get("text")) is str and name["text"]:
        return name["text"]
    words: list[str] = []
    for key in ("prefix", "given"):
        words.extend(part for part in name.get(key) or () if type(part) is str)
    if type(name.get("family")) is str:
        words.append(name["family"])
    words.extend(part for part in name.get("suffix") or () if type(part) is str)
    return " ".join(words) or None


def _address(address: Any) -> str | None:
    """An Address as one line."""
    if type(address) is not dict:
        return None
    if type(address.get("text")) is str and address["text"]:
        return address["text"]
    words = [line for line in address.get("line") or () if type(line) is str]
    words.extend(address[key] for key in ("city", "district", "state", "postalCode", "country")
                 if type(address.get(key)) is str)
    return ", ".join(words) or None


_BLOCK_TAG = re.compile(
    r"<\s*/?\s*(?:br|p|div|li|tr|td|th|h[1-6]|table|ul|ol|dl|dt|dd|pre|blockquote)\b[^>]*>", re.IGNORECASE)
_HIDDEN = re.compile(r"<(script|style)\b.*?</\1\s*>", re.IGNORECASE | re.DOTALL)
_TAG = re.compile(r"<[^>]*>")
_BLANKS = re.compile(r"\s+")


def strip_html(markup: str) -> str:
    """The words of an XHTML fragment: tags removed, entities decoded, white space collapsed."""
    text = _HIDDEN.sub(" ", markup)
    text = _TAG.sub("", _BLOCK_TAG.sub(" ", text))
    return _BLANKS.sub(" ", html.unescape(text)).strip()


def _squeeze(text: str) -> str:
    """Blank runs collapsed; line breaks kept once."""
    lines = (" ".join(line.split()) for line in text.splitlines())
    return "\n".join(line for line in lines if line)


class _Labels:
    """Codes, displays and readable labels gathered from the concepts of one resource."""

    __slots__ = ("codes", "displays")

    def __init__(self) -> None:
        self.codes: dict[str, None] = {}
        self.displays: dict[str, str] = {}  # casefolded -> as written

    def take(self, node: Any, *, record: bool = True) -> tuple[list[str], bool]:
        """The labels of a CodeableConcept or Coding (text, displays, else a readable code).

        Records its codes and displays when `record`; the flag says whether the labels are real displays.
        """
        if type(node) is str:
            return ([node] if node else []), True
        if type(node) is not dict:
            return [], False
        codings = node.get("coding")
        if codings is None:
            codings = (node,) if ("code" in node or "display" in node) else ()
        elif type(codings) is not list:
            codings = ()
        labels: list[str] = []
        text = node.get("text")
        if type(text) is str and text:
            labels.append(text)
        fallback = None
        for coding in codings:
            if type(coding) is not dict:
                continue
            code = coding.get("code")
            display = coding.get("display")
            system = coding.get("system")
            if record and type(code) is str and code:
                self.codes[f"{system if type(system) is str else ''}|{code}"] = None
            if type(display) is str and display:
                if display not in labels:
                    labels.append(display)
            elif fallback is None:
                fallback = _code_label(system, code)
        if record:
            for label in labels:
                self.displays.setdefault(label.casefold(), label)
        if labels:
            return labels, True
        return ([fallback] if fallback else []), False


def _dedupe(items: Iterable[str]) -> list[str]:
    seen: set[str] = set()
    out = []
    for item in items:
        key = item.casefold()
        if key not in seen:
            seen.add(key)
            out.append(item)
    return out


# ------------------------------------------------------------------------------------ special sections

def _typed_value(kind: str, value: Any, labels: _Labels) -> str | None:
    """A value[x] element as text, by its type suffix."""
    if kind in ("Quantity", "Age", "Duration", "Distance", "Count", "Money", "SimpleQuantity"):
        return _quantity(value)
    if kind in ("CodeableConcept", "Coding"):
        return ", ".join(labels.take(value, record=False)[0]) or None
    if kind in ("String", "Markdown", "Code", "Id", "Uri", "Url", "Canonical", "Oid", "Uuid",
                "DateTime", "Date", "Time", "Instant"):
        return value[:_LINE_LIMIT] if type(value) is str and value else None
    if kind == "Boolean":
        return ("yes" if value else "no") if type(value) is bool else None
    if kind in ("Integer", "Decimal", "PositiveInt", "UnsignedInt"):
        return _number(value)
    if type(value) is not dict:
        return None
    if kind == "Range":
        low, high = _quantity(value.get("low")), _quantity(value.get("high"))
        return f"{low or ''} - {high or ''}".strip(" -") or None
    if kind == "Ratio":
        numerator, denominator = _quantity(value.get("numerator")), _quantity(value.get("denominator"))
        return f"{numerator} / {denominator}" if numerator and denominator else numerator
    if kind == "Period":
        start, end = value.get("start"), value.get("end")
        return " - ".join(part for part in (start, end) if type(part) is str) or None
    if kind == "Reference" or kind == "Attachment":
        shown = value.get("display") or value.get("title")
        return shown if type(shown) is str and shown else None
    return None


def _value_of(holder: Any, labels: _Labels, prefix: str = "value") -> str | None:
    """The text of the `prefix`[x] element of a dict (value[x], detail[x], ...)."""
    if type(holder) is not dict:
        return None
    size = len(prefix)
    for key, value in holder.items():
        if key.startswith(prefix) and len(key) > size and key[size].isupper():
            return _typed_value(key[size:], value, labels)
    return None


def _values(items: list[Any], labels: _Labels) -> list[str]:
    found = []
    for holder in items:
        if type(holder) is dict:
            for key in holder:
                if key.startswith("value") and key != "valueCodeableConcept" and len(key) > 5:
                    text = _typed_value(key[5:], holder[key], labels)
                    if text:
                        found.append(text)
                    break
    return found


def _components(items: list[Any], labels: _Labels) -> list[str]:
    found = []
    for component in items:
        if type(component) is not dict:
            continue
        name = labels.take(component.get("code"), record=False)[0]
        value = _value_of(component, labels)
        if name or value:
            found.append(" ".join(part for part in ((name[0] if name else None), value) if part))
    return found


def _ranges(items: list[Any], labels: _Labels) -> list[str]:
    found = []
    for reference_range in items:
        if type(reference_range) is not dict:
            continue
        low, high = _quantity(reference_range.get("low")), _quantity(reference_range.get("high"))
        parts = []
        if low or high:
            parts.append(f"{low or ''} - {high or ''}".strip(" -"))
        for key in ("type", "appliesTo"):
            for node in _resolve(reference_range, (key,)):
                parts.extend(labels.take(node, record=False)[0])
        if type(reference_range.get("text")) is str:
            parts.append(reference_range["text"])
        if parts:
            found.append(" ".join(parts))
    return found


def _dosages(items: list[Any], labels: _Labels) -> list[str]:
    found = []
    for dosage in items:
        if type(dosage) is not dict:
            continue
        parts: list[str] = []
        for key in ("text", "patientInstruction"):
            if type(dosage.get(key)) is str:
                parts.append(dosage[key])
        for node in _resolve(dosage, ("additionalInstruction",)):
            parts.extend(labels.take(node, record=False)[0])
        for rate in _resolve(dosage, ("doseAndRate",)):
            dose = _value_of(rate, labels, "dose")
            if dose:
                parts.append(f"dose {dose}")
        dose = _quantity(dosage.get("dose"))
        if dose:
            parts.append(f"dose {dose}")
        repeat = _resolve(dosage, ("timing", "repeat"))
        if repeat and type(repeat[0]) is dict:
            frequency, period, unit = (repeat[0].get(key) for key in ("frequency", "period", "periodUnit"))
            if frequency is not None and period is not None:
                parts.append(f"{_number(frequency)} per {_number(period)} {unit or ''}".strip())
        for node in _resolve(dosage, ("timing", "code")):
            parts.extend(labels.take(node, record=False)[0])
        if dosage.get("asNeededBoolean") is True:
            parts.append("as needed")
        for node in _resolve(dosage, ("asNeededCodeableConcept",)):
            parts.extend(f"as needed for {label}" for label in labels.take(node, record=False)[0])
        for key in ("route", "site", "method"):
            for node in _resolve(dosage, (key,)):
                parts.extend(labels.take(node, record=False)[0])
        if parts:
            found.append(", ".join(parts))
    return found


def _targets(items: list[Any], labels: _Labels) -> list[str]:
    return [text for text in (_value_of(target, labels, "detail") for target in items) if text]


def _deceased(items: list[Any], labels: _Labels) -> list[str]:
    return ["yes" for flag in items if flag is True]


_SPECIAL_KINDS = {
    "value": _values,
    "components": _components,
    "ranges": _ranges,
    "dosage": _dosages,
    "target": _targets,
    "deceased": _deceased,
    "quantity": lambda items, labels: [text for text in map(_quantity, items) if text],
    "money": lambda items, labels: [text for text in map(_quantity, items) if text],
    "names": lambda items, labels: [text for text in map(_human_name, items) if text],
    "address": lambda items, labels: [text for text in map(_address, items) if text],
}
_LONG_KINDS = frozenset({"attachment", "narrative"})


# -------------------------------------------------------------------------------------- long sections

_TEXT_TYPES = frozenset({"application/xhtml+xml", "application/xml", "application/json", "application/rtf"})
_MARKUP_TYPES = frozenset({"text/html", "application/xhtml+xml", "text/xml", "application/xml"})


def _decoded(data: str, budget: int) -> str | None:
    """Up to about `budget` characters of base64 `data` decoded as UTF-8 text; None when it is not text."""
    limit = budget * 4 // 3 + 8
    truncated = len(data) > limit
    chunk = "".join(data[:limit].split())
    chunk = chunk[: len(chunk) - len(chunk) % 4]
    try:
        raw = base64.b64decode(chunk, validate=False)
    except (binascii.Error, ValueError):
        return None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        if not truncated or error.start < len(raw) - 3:
            return None
        text = raw[: error.start].decode("utf-8", errors="ignore")
    if "\x00" in text:
        return None
    printable = sum(1 for ch in text if ch.isprintable() or ch in "\n\r\t")
    return text if printable >= 0.95 * len(text) else None


def _attachment_text(attachment: Any, budget: int) -> str | None:
    """An Attachment's title and, for text content, its decoded data."""
    if type(attachment) is not dict:
        return None
    parts = []
    if type(attachment.get("title")) is str and attachment["title"]:
        parts.append(attachment["title"])
    content_type = attachment.get("contentType")
    media = content_type.split(";")[0].strip().lower() if type(content_type) is str else ""
    data = attachment.get("data")
    if type(data) is str and data and (not media or media.startswith("text/") or media in _TEXT_TYPES):
        text = _decoded(data, budget)
        if text:
            parts.append(strip_html(text) if media in _MARKUP_TYPES else _squeeze(text))
    return "\n".join(parts) or None


def _narrative_text(narrative: Any) -> str | None:
    """The words of a Narrative, unless it is a long generated one."""
    if type(narrative) is not dict or type(narrative.get("div")) is not str:
        return None
    div = narrative["div"]
    if narrative.get("status") == "generated" and len(div) > GENERATED_NARRATIVE_LIMIT:
        return None
    return strip_html(div) or None


# -------------------------------------------------------------------------------------------- generic

def _generic_concepts(node: Any, key: str, depth: int, found: list[tuple[str, Any]]) -> None:
    """Collect (element name, CodeableConcept or Coding) pairs, skipping bookkeeping and references."""
    if depth > _GENERIC_DEPTH:
        return
    if type(node) is list:
        for item in node:
            _generic_concepts(item, key, depth, found)
        return
    if type(node) is not dict:
        return
    is_coding = "code" in node and ("system" in node or "display" in node) and "value" not in node
    if "coding" in node or is_coding:
        found.append((key, node))
        return
    if "reference" in node or ("display" in node and "code" not in node):
        return
    for child_key, child in node.items():
        if child_key in _GENERIC_SKIP or child_key.endswith("Status") or type(child) not in (dict, list):
            continue
        _generic_concepts(child, child_key, depth + 1, found)


def _generic_attachments(node: Any, depth: int, found: list[dict]) -> None:
    if depth > _GENERIC_DEPTH:
        return
    if type(node) is list:
        for item in node:
            _generic_attachments(item, depth, found)
    elif type(node) is dict:
        if type(node.get("data")) is str and "coding" not in node:
            found.append(node)
            return
        for child_key, child in node.items():
            if child_key not in _GENERIC_SKIP and type(child) in (dict, list):
                _generic_attachments(child, depth + 1, found)


def _heading(element: str) -> str:
    words = _CAMEL.split(element)
    return " ".join([words[0].capitalize(), *(word.lower() for word in words[1:])])


# ------------------------------------------------------------------------------------------- renderer
