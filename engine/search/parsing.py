"""Parse FHIR search parameters (name/value pairs from a URL or form) into a SearchQuery."""
from __future__ import annotations

import re
from decimal import Decimal
from collections.abc import Sequence

from engine.errors import InvalidRequest, Issue, UnsupportedSearchParameter
from engine.fhir.dates import MAX_US, MIN_US, parse_range_or_raise, to_us
from engine.fhir.references import parse_reference
from engine.fhir.release import R4_RESOURCE_TYPES
from engine.search import query as q
from engine.search.normalize import fold, soundex
from engine.search.parameters import RESULT_PARAMETERS, SearchParameter, is_supported, lookup

_PREFIX = re.compile(r"^(eq|ne|gt|lt|ge|le|sa|eb|ap)(?=[-+\d.])")
_NUMBER = re.compile(r"^[-+]?\d+(\.\d+)?([eE][-+]?\d+)?$")
_MODIFIERS = {
    "token": {"not", "text", "missing"},
    "string": {"exact", "contains", "missing"},
    "date": {"missing"},
    "reference": {"missing"},
    "quantity": {"missing"},
    "number": {"missing"},
    "uri": {"below", "above", "missing"},
}
SUMMARY_MODES = {"true", "false", "count", "data", "text"}
TOTAL_MODES = {"none", "estimate", "accurate"}


ESCAPED_PIPE = "\x1f"  # stands for an escaped `|` until a token or quantity is split at its pipes


def split_values(text: str) -> list[str]:
    """Split an OR list at unescaped commas and unescape `\\,` `\\|` `\\$` `\\\\`."""
    return [value.replace(ESCAPED_PIPE, "|") for value in split_token_values(text)]


def split_token_values(text: str) -> list[str]:
    """Like split_values, but an escaped `|` stays ESCAPED_PIPE so token and quantity values split correctly."""
    values, current, escaped = [], [], False
    for char in text:
        if escaped:
            current.append(ESCAPED_PIPE if char == "|" else char)
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == ",":
            values.append("".join(current))
            current = []
        else:
            current.append(char)
    values.append("".join(current))
    return values


def parse_search(resource_type: str, params: Sequence[tuple[str, str]], *, strict: bool = False,
                 default_count: int = 50, max_count: int = 1000, base_url: str | None = None) -> q.SearchQuery:
    """Turn request parameters into a SearchQuery; unknown ones become warnings (or errors when strict)."""
    query = q.SearchQuery(resource_type=resource_type, count=default_count)
    for name, value in params:
        try:
            if name in RESULT_PARAMETERS:
                _result_parameter(query, name, value, max_count)
            else:
                query.clauses.append(parse_clause(resource_type, name, value, base_url))
                query.self_params.append((name, value))
        except UnsupportedSearchParameter as exc:
            if strict:
                raise
            query.warnings.append(Issue("not-supported", exc.message, name, severity="warning"))
    return query


def _result_parameter(query: q.SearchQuery, name: str, value: str, max_count: int) -> None:
    if name in ("_format", "_pretty", "_contained", "_containedType"):
        return
    if name in ("_count", "_offset"):
        if not (value.isascii() and value.isdigit()):
            raise InvalidRequest(f"Parameter '{name}' must be a non-negative integer",
                                 issues=[Issue("invalid", f"'{value[:20]}' is not a non-negative integer", name)])
        if name == "_count":
            query.count = min(int(value), max_count)
        else:
            query.offset = int(value)
    elif name == "_sort":
        for key in value.split(","):
            descending = key.startswith("-")
            code = key.lstrip("-")
            parameter = lookup(query.resource_type, code)
            if parameter is None or not is_supported(parameter) or parameter.type == "reference":
                raise UnsupportedSearchParameter(f"Cannot sort {query.resource_type} by '{code[:40]}'")
            query.sort.append(q.SortKey(parameter, descending))
    elif name in ("_include", "_revinclude"):
        iterate = False
        spec = _include_spec(value, name)
        target = query.includes if name == "_include" else query.revincludes
        target.append(q.IncludeSpec(spec[0], spec[1], spec[2], iterate))
    elif name in ("_include:iterate", "_revinclude:iterate"):
        spec = _include_spec(value, name)
        target = query.includes if name.startswith("_include") else query.revincludes
        target.append(q.IncludeSpec(spec[0], spec[1], spec[2], True))
    elif name == "_summary":
        if value not in SUMMARY_MODES:
            raise InvalidRequest(f"_summary must be one of {sorted(SUMMARY_MODES)}",
                                 issues=[Issue("invalid", f"unknown _summary '{value[:20]}'", "_summary")])
        query.summary = value
    elif name == "_total":
        if value not in TOTAL_MODES:
            raise InvalidRequest(f"_total must be one of {sorted(TOTAL_MODES)}",
                                 issues=[Issue("invalid", f"unknown _total '{value[:20]}'", "_total")])
        query.total = value
    elif name == "_elements":
        query.elements = tuple(e.strip() for e in value.split(",") if e.strip())


def _include_spec(value: str, name: str) -> tuple[str, str, str | None]:
    parts = value.split(":")
    if len(parts) not in (2, 3) or parts[0] not in R4_RESOURCE_TYPES:
        raise InvalidRequest(f"{name} must be Type:parameter[:target]",
                             issues=[Issue("invalid", f"malformed {name} '{value[:60]}'", name)])
    if parts[1] != "*":
        parameter = lookup(parts[0], parts[1])
        if parameter is None or parameter.type != "reference":
            raise UnsupportedSearchParameter(f"{parts[0]} has no reference parameter '{parts[1][:40]}'")
    target = parts[2] if len(parts) == 3 else None
    if target is not None and target not in R4_RESOURCE_TYPES:
        raise InvalidRequest(f"{name}: unknown target type '{target[:40]}'")
    return parts[0], parts[1], target


def parse_clause(resource_type: str, name: str, value: str, base_url: str | None = None) -> q.Clause:
    """Parse one `name[:modifier][.chain]=value` pair into a clause."""
    base, dot, chained = name.partition(".")
    code, _, modifier = base.partition(":")
    parameter = lookup(resource_type, code)
    if parameter is None:
        raise UnsupportedSearchParameter(f"Unknown search parameter '{code[:60]}' for {resource_type}")
    if not is_supported(parameter):
        raise UnsupportedSearchParameter(
            f"Search parameter '{code}' ({parameter.type}) is not supported on {resource_type}")
    if dot:
        return _chained_clause(parameter, modifier or None, chained, value, base_url)
    modifier_value = modifier or None
    if modifier_value and parameter.type == "reference" and modifier_value in R4_RESOURCE_TYPES:
        values = tuple(_reference_value(v, modifier_value, parameter, base_url) for v in split_values(value))
        return q.Clause(parameter, None, values)
    if modifier_value and modifier_value not in _MODIFIERS.get(parameter.type, set()) and not (
            parameter.code == "_id" and modifier_value == "not"):
        raise UnsupportedSearchParameter(f"Modifier ':{modifier_value[:30]}' is not supported on '{code}'")
    if modifier_value == "missing":
        if value not in ("true", "false"):
            raise InvalidRequest(f"'{code}:missing' takes true or false",
                                 issues=[Issue("invalid", "expected true or false", f"{code}:missing")])
        return q.Clause(parameter, "missing", missing=value == "true")
    values = tuple(_value(parameter, modifier_value, item, base_url) for item in split_token_values(value))
    return q.Clause(parameter, modifier_value, values)


def _chained_clause(parameter: SearchParameter, type_modifier: str | None, chained: str, value: str,
                    base_url: str | None) -> q.Clause:
    if parameter.type != "reference":
        raise UnsupportedSearchParameter(f"'{parameter.code}' is not a reference parameter and cannot be chained")
    targets = [type_modifier] if type_modifier else list(parameter.targets)
    inner_code = chained.partition(":")[0]
    usable = [t for t in targets if t in R4_RESOURCE_TYPES and lookup(t, inner_code) is not None]
    if not usable:
        raise UnsupportedSearchParameter(f"Cannot chain '{parameter.code}.{chained[:40]}'")
    chains = tuple((target, parse_clause(target, chained, value, base_url)) for target in usable)
    return q.Clause(parameter, None, (), chains=chains)


def _value(parameter: SearchParameter, modifier: str | None, text: str, base_url: str | None) -> q.SearchValue:
    kind, code = parameter.type, parameter.code
    if kind not in ("token", "quantity") or code in ("_id", "_lastUpdated") or modifier == "text":
        text = text.replace(ESCAPED_PIPE, "|")
    if code == "_id":
        return q.TokenValue(None, text)
    if code == "_lastUpdated":
        return _date_value(text, code)
    if kind == "token":
        if modifier == "text":
            return q.StringValue(fold(text), text)
        system, sep, token = text.partition("|")
        system, token = system.replace(ESCAPED_PIPE, "|"), token.replace(ESCAPED_PIPE, "|")
        if not sep:
            return q.TokenValue(None, system)
        return q.TokenValue(system or None, token or None, system_given=True)
    if kind == "string":
        if code == "phonetic":
            key = soundex(text)
            return q.StringValue(key.lower(), key)
        return q.StringValue(fold(text), text)
    if kind == "date":
        return _date_value(text, code)
    if kind == "reference":
        return _reference_value(text, None, parameter, base_url)
    if kind == "quantity":
        return _quantity_value(text, code)
    if kind == "number":
        quantity = _quantity_value(text, code)
        return q.RangeValue(quantity.prefix, quantity.low, quantity.high)
    return q.UriValue(text)


def _date_value(text: str, code: str) -> q.RangeValue:
    match = _PREFIX.match(text)
    prefix = match.group(1) if match else "eq"
    body = text[2:] if match else text
    low, high = parse_range_or_raise(body, code)
    if prefix == "ap":
        from datetime import datetime, timezone

        spread = abs(to_us(datetime.now(timezone.utc)) - low) // 10
        low, high = max(MIN_US, low - spread), min(MAX_US, high + spread)
    return q.RangeValue(prefix, low, high)


def _quantity_value(text: str, code: str) -> q.QuantityValue:
    number, _, rest = text.partition("|")
    match = _PREFIX.match(number)
    prefix = match.group(1) if match else "eq"
    digits = number[2:] if match else number
    if not _NUMBER.match(digits):
        raise InvalidRequest(f"Parameter '{code}': '{text[:40]}' is not a number",
                             issues=[Issue("invalid", f"'{text[:40]}' is not a number", code)])
    exact = Decimal(digits)
    value = float(exact)
    half = Decimal(5).scaleb(int(exact.as_tuple().exponent) - 1)  # implicit precision: "5.4" -> ±0.05
    if prefix == "ap":
        low, high = float(exact * Decimal("0.9")), float(exact * Decimal("1.1"))
    else:
        low, high = float(exact - half), float(exact + half)
    if low > high:
        low, high = high, low
    system, _, unit = rest.partition("|")
    system, unit = system.replace(ESCAPED_PIPE, "|"), unit.replace(ESCAPED_PIPE, "|")
    return q.QuantityValue(prefix, low, high, value, system or None, unit or None)


def _reference_value(text: str, type_modifier: str | None, parameter: SearchParameter,
                     base_url: str | None) -> q.ReferenceValue:
    parsed = parse_reference(text)
    if parsed is not None and parsed.base_url is not None and parsed.base_url != (base_url or "").rstrip("/"):
        return q.ReferenceValue(None, None, url=text)  # a resource on another server: match by URL
    if parsed is not None:
        if type_modifier and parsed.resource_type != type_modifier:
            raise InvalidRequest(f"'{text[:60]}' is not a {type_modifier} reference")
        return q.ReferenceValue(parsed.resource_type, parsed.resource_id)
    if "/" in text or ":" in text:
        return q.ReferenceValue(None, None, url=text)
    return q.ReferenceValue(type_modifier or parameter.single_target, text)
