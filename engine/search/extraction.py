"""Extract the values a resource is searchable by, one row per (parameter, value), per index table."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from engine.fhir.dates import MAX_US, MIN_US, parse_range
from engine.fhir.references import parse_reference
from engine.search.normalize import MAX_INDEXED_TEXT, fold, soundex
from engine.search.parameters import SearchParameter, indexed_parameters

_NAME_PARTS = ("family", "given", "prefix", "suffix", "text")
_ADDRESS_PARTS = ("line", "city", "district", "state", "postalCode", "country", "text")
CURRENCY_SYSTEM = "urn:iso:std:iso:4217"


@dataclass
class IndexRows:
    """Search index rows of one resource version, grouped by index table."""

    tokens: list[tuple[str, str | None, str | None, str | None]] = field(default_factory=list)
    strings: list[tuple[str, str, str]] = field(default_factory=list)
    dates: list[tuple[str, int, int]] = field(default_factory=list)
    references: list[tuple[str, str | None, str | None, str | None]] = field(default_factory=list)
    quantities: list[tuple[str, float, str | None, str | None, str | None]] = field(default_factory=list)
    uris: list[tuple[str, str]] = field(default_factory=list)


class _Dispatch:
    """Which of a type's indexed parameters read a given top-level key (parameters in registry order)."""

    MAX_KEYS = 4096  # keys are model fields once validated; the bounds only guard odd callers
    MAX_SHAPES = 1024

    def __init__(self, resource_type: str):
        self.parameters = indexed_parameters(resource_type)
        self.always = tuple(i for i, p in enumerate(self.parameters) if p.roots is None)
        self.by_key: dict[str, tuple[int, ...]] = {}
        self.by_shape: dict[tuple[str, ...], tuple[SearchParameter, ...]] = {}

    def wanted(self, resource: dict[str, Any]) -> tuple[SearchParameter, ...]:
        """The parameters that can yield values for `resource`, judged by its top-level keys."""
        shape = tuple(resource)
        found = self.by_shape.get(shape)
        if found is None:
            positions = set(self.always)
            for key in shape:
                positions.update(self.readers(key))
            found = tuple(self.parameters[i] for i in sorted(positions))
            if len(self.by_shape) < self.MAX_SHAPES:  # resources of one type share a few shapes
                self.by_shape[shape] = found
        return found

    def readers(self, key: str) -> tuple[int, ...]:
        """Positions of the parameters whose roots include `key` (exactly or as a choice prefix)."""
        found = self.by_key.get(key)
        if found is None:
            found = tuple(i for i, p in enumerate(self.parameters) if p.roots is not None and (
                key in p.roots[0] or any(key.startswith(prefix) for prefix in p.roots[1])))
            if len(self.by_key) < self.MAX_KEYS:
                self.by_key[key] = found
        return found


_DISPATCH: dict[str, _Dispatch] = {}


def _dispatch(resource_type: str) -> _Dispatch:
    found = _DISPATCH.get(resource_type)
    if found is None:
        found = _DISPATCH.setdefault(resource_type, _Dispatch(resource_type))
    return found


def extract(resource_type: str, resource: dict[str, Any]) -> IndexRows:
    """All index rows for `resource` under the R4 search parameters of its type."""
    rows = IndexRows()
    for parameter in _dispatch(resource_type).wanted(resource):  # those reading a top-level element present
        values = parameter.accessor(resource)  # type: ignore[misc]
        if not values:
            continue
        kind, code = parameter.type, parameter.code
        if kind == "token":
            _tokens(rows.tokens, code, values)
        elif kind == "string":
            _strings(rows.strings, code, values, phonetic=code == "phonetic")
        elif kind == "date":
            _dates(rows.dates, code, values)
        elif kind == "reference":
            _references(rows.references, code, values)
        elif kind in ("quantity", "number"):
            _quantities(rows.quantities, code, values)
        elif kind == "uri":
            rows.uris.extend((code, v[:500]) for v in values if isinstance(v, str))
    return rows


def _cut(text: Any) -> str | None:
    return text[:MAX_INDEXED_TEXT] if isinstance(text, str) else None


def _tokens(out: list, code: str, values: list[Any]) -> None:
    for value in values:
        if isinstance(value, dict):
            if "coding" in value or ("text" in value and "code" not in value and "value" not in value):
                text = value.get("text")
                for coding in value.get("coding") or ():
                    if isinstance(coding, dict):
                        display = coding.get("display") or text
                        out.append((code, _cut(coding.get("system")), _cut(coding.get("code")),
                                    fold(display) if isinstance(display, str) else None))
                if isinstance(text, str) and not value.get("coding"):
                    out.append((code, None, None, fold(text)))
            elif "code" in value:  # Coding
                display = value.get("display")
                out.append((code, _cut(value.get("system")), _cut(value.get("code")),
                            fold(display) if isinstance(display, str) else None))
            elif "value" in value:  # Identifier, ContactPoint
                kind = value.get("type")
                label = kind.get("text") if isinstance(kind, dict) else None
                raw = value.get("value")
                out.append((code, _cut(value.get("system")), _cut(str(raw)) if raw is not None else None,
                            fold(label) if isinstance(label, str) else None))
        elif isinstance(value, bool):
            out.append((code, None, "true" if value else "false", None))
        elif isinstance(value, (str, int, float)):
            out.append((code, None, _cut(str(value)), None))


def _strings(out: list, code: str, values: list[Any], *, phonetic: bool) -> None:
    texts: list[str] = []
    for value in values:
        if isinstance(value, str):
            texts.append(value)
        elif isinstance(value, dict):
            is_name = any(key in value for key in ("family", "given", "prefix", "suffix"))
            parts = _NAME_PARTS if is_name else _ADDRESS_PARTS
            for part in parts:
                item = value.get(part)
                if isinstance(item, str):
                    texts.append(item)
                elif isinstance(item, list):
                    texts.extend(x for x in item if isinstance(x, str))
            for key in ("display", "title", "name"):
                if isinstance(value.get(key), str) and not texts:
                    texts.append(value[key])
    for text in texts:
        if phonetic:
            for word in text.split():
                if key := soundex(word):
                    out.append((code, key.lower(), key))
        else:
            out.append((code, fold(text), text[:MAX_INDEXED_TEXT]))


def _dates(out: list, code: str, values: list[Any]) -> None:
    for value in values:
        if isinstance(value, str):
            bounds = parse_range(value)
            if bounds:
                out.append((code, bounds[0], bounds[1]))
        elif isinstance(value, dict):
            if "start" in value or "end" in value:  # Period
                start = parse_range(value["start"]) if isinstance(value.get("start"), str) else None
                end = parse_range(value["end"]) if isinstance(value.get("end"), str) else None
                if start or end:
                    out.append((code, start[0] if start else MIN_US, end[1] if end else MAX_US))
            elif "event" in value or "repeat" in value:  # Timing
                for event in value.get("event") or ():
                    if isinstance(event, str) and (bounds := parse_range(event)):
                        out.append((code, bounds[0], bounds[1]))
                bounds_period = (value.get("repeat") or {}).get("boundsPeriod")
                if isinstance(bounds_period, dict):
                    _dates(out, code, [bounds_period])


def _references(out: list, code: str, values: list[Any]) -> None:
    for value in values:
        text = value.get("reference") if isinstance(value, dict) else value
        if not isinstance(text, str) or text.startswith("#"):
            continue
        parsed = parse_reference(text)
        if parsed is None:
            out.append((code, None, None, text[:500]))
        else:
            out.append((code, parsed.resource_type, parsed.resource_id,
                        text[:500] if parsed.base_url else None))


def _quantities(out: list, code: str, values: list[Any]) -> None:
    for value in values:
        if isinstance(value, bool):
            continue
        if isinstance(value, (int, float)):
            out.append((code, float(value), None, None, None))
        elif isinstance(value, dict) and isinstance(value.get("value"), (int, float)):
            if "currency" in value:
                out.append((code, float(value["value"]), CURRENCY_SYSTEM, _cut(value["currency"]), None))
            else:
                out.append((code, float(value["value"]), _cut(value.get("system")), _cut(value.get("code")),
                            _cut(value.get("unit"))))
