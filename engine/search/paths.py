"""Compile the FHIRPath expressions of search parameters into plain Python accessors.

The official R4 SearchParameter expressions are almost all simple paths: `Patient.name.family`,
choice types (`(Observation.value as Quantity)`, `Condition.onset.as(dateTime)`), reference filters
(`.where(resolve() is Patient)`), element filters (`.where(system='email')`) and `[0]`. Those become
direct dict walks. Anything else falls back to fhirpathpy, which is correct but much slower.
"""
from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

Accessor = Callable[[dict[str, Any]], list[Any]]

_AS_INFIX = re.compile(r"^\((?P<path>[^()]+?) as (?P<type>\w+)\)(?P<rest>.*)$")
_AS_BARE = re.compile(r"^(?P<path>[^()]+?) as (?P<type>\w+)$")
_STEP = re.compile(
    r"(?P<field>[A-Za-z_]\w*)(?:\[(?P<index>\d+)\])?"
    r"|as\((?P<as>\w+)\)"
    r"|where\(resolve\(\) is (?P<resolve>\w+)\)"
    r"|where\((?P<wfield>\w+)\s*=\s*'(?P<wvalue>[^']*)'\)"
)
_GENERIC_ROOTS = ("Resource", "DomainResource")
# The data types a choice element can take (value[x] -> valueQuantity, ...), as JSON name suffixes.
CHOICE_TYPE_SUFFIXES = frozenset("""
Base64Binary Boolean Canonical Code Date DateTime Decimal Id Instant Integer Markdown Oid PositiveInt String
Time UnsignedInt Uri Url Uuid Address Age Annotation Attachment CodeableConcept Coding ContactPoint Count
Distance Duration HumanName Identifier Money Period Quantity Range Ratio Reference SampledData Signature
Timing ContactDetail Contributor DataRequirement Expression ParameterDefinition RelatedArtifact
TriggerDefinition UsageContext Dosage Meta
""".split())
# Names of choice elements (`value[x]`, `effective[x]`, ...): only these need a scan for typed keys
# such as valueQuantity. Collected from the `one_of_many` markers of the fhir.resources R4B models.
CHOICE_NAMES = frozenset("""
abatement additive age allowed amount answer asNeeded author born bounds characteristic chargeItem citeAs code
collected concentration content created date deceased defaultValue definition detail diagnosis dose doseNumber
due duration effective entity event example fastingStatus fixed identified indication item legallyBinding
location manufacturer maxValue medication minValue minimumVolume module multipleBirth name occurred occurrence
offset onset participantEffective pattern performed period presentation probability procedure product quantity
rate reported scheduled seriesDoses serviced source start statusReason strength studyEffective subject substance
substanceDefinition target time timing topic used value when
""".split())


def split_union(expression: str) -> list[str]:
    """Split a FHIRPath union (`a | b`) at top level into its parts."""
    parts, depth, current = [], 0, []
    for char in expression:
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        if char == "|" and depth == 0:
            parts.append("".join(current).strip())
            current = []
        else:
            current.append(char)
    parts.append("".join(current).strip())
    return [part for part in parts if part]


def root_of(part: str) -> str:
    """The resource type a path part starts from."""
    match = re.match(r"^\(*\s*([A-Za-z]+)", part)
    return match.group(1) if match else ""


def compile_for_type(expression: str, resource_type: str) -> Accessor | None:
    """An accessor for the parts of `expression` that apply to `resource_type`, or None if none do."""
    parts = []
    for part in split_union(expression):
        root = root_of(part)
        if root[:1].islower():  # a few definitions omit the root: "name | alias"
            part, root = f"{resource_type}.{part}", resource_type
        if root == resource_type or root in _GENERIC_ROOTS:
            parts.append(part)
    accessors = [compile_part(part) for part in parts]
    if not accessors:
        return None
    if len(accessors) == 1:
        return accessors[0]

    def union(resource: dict[str, Any]) -> list[Any]:
        values: list[Any] = []
        for accessor in accessors:
            values.extend(accessor(resource))
        return values

    return union


def root_keys(expression: str, resource_type: str) -> tuple[frozenset[str], frozenset[str]] | None:
    """Top-level JSON keys (exact, and choice prefixes) a resource needs for `expression` to yield anything.

    None when some part cannot be analysed (it is then always evaluated).
    """
    exact, prefixes = set(), set()
    for part in split_union(expression):
        root = root_of(part)
        if root[:1].islower():
            part, root = f"{resource_type}.{part}", resource_type
        if root != resource_type and root not in _GENERIC_ROOTS:
            continue
        steps = _parse_steps(part)
        if not steps:
            return None
        kind, name = steps[0]
        if kind == "exact":
            exact.add(name)
        elif kind == "field":
            prefixes.add(name)
        else:
            return None
    return frozenset(exact), frozenset(prefixes)


def compile_part(part: str) -> Accessor:
    """Compile one path (no union) into an accessor; falls back to fhirpathpy."""
    steps = _parse_steps(part)
    if steps is None:
        return _fhirpath_accessor(part)
    return _walker(steps)


def is_compiled(part: str) -> bool:
    """True when `part` compiles to a plain accessor (no FHIRPath engine needed)."""
    return _parse_steps(part) is not None


def _normalise(part: str) -> str:
    part = part.strip()
    infix = _AS_INFIX.match(part)
    if infix:
        return f"{infix['path'].strip()}.as({infix['type']}){infix['rest']}"
    bare = _AS_BARE.match(part)
    if bare:
        return f"{bare['path'].strip()}.as({bare['type']})"
    return part


def _parse_steps(part: str) -> list[tuple[str, Any]] | None:
    text = _normalise(part)
    tokens: list[str] = []
    depth, current = 0, []
    for char in text:
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        if char == "." and depth == 0:
            tokens.append("".join(current))
            current = []
        else:
            current.append(char)
    tokens.append("".join(current))
    if len(tokens) < 2:
        return None
    steps: list[tuple[str, Any]] = []
    for token in tokens[1:]:
        match = _STEP.fullmatch(token)
        if not match:
            return None
        if match["field"]:
            steps.append(("field" if match["field"] in CHOICE_NAMES else "exact", match["field"]))
            if match["index"] is not None:
                steps.append(("index", int(match["index"])))
        elif match["as"]:
            if not steps or steps[-1][0] != "field":
                return None
            name = steps[-1][1]
            steps[-1] = ("exact", name + match["as"][0].upper() + match["as"][1:])
        elif match["resolve"]:
            steps.append(("resolve", match["resolve"]))
        else:
            steps.append(("where", (match["wfield"], match["wvalue"])))
    return steps


def _walker(steps: list[tuple[str, Any]]) -> Accessor:
    first_kind, first_arg = steps[0]
    rest = [_step(kind, arg) for kind, arg in steps[1:]]
    if first_kind != "exact":
        rest.insert(0, _step(first_kind, first_arg))

        def walk(resource: dict[str, Any]) -> list[Any]:
            values: list[Any] = [resource]
            for step in rest:
                if not values:
                    return values
                values = step(values)
            return values

        return walk

    def walk_exact(resource: dict[str, Any]) -> list[Any]:
        value = resource.get(first_arg) if isinstance(resource, dict) else None
        if value is None:
            return []
        values = list(value) if isinstance(value, list) else [value]
        for step in rest:
            if not values:
                return values
            values = step(values)
        return values

    return walk_exact


def _step(kind: str, arg: Any) -> Callable[[list[Any]], list[Any]]:
    """One path step as a function from the values so far to the next values."""
    if kind == "field":
        return lambda values: _field(values, arg)
    if kind == "exact":
        return lambda values: _exact(values, arg)
    if kind == "index":
        return lambda values: values[arg:arg + 1]
    if kind == "resolve":
        return lambda values: [v for v in values if _reference_type(v) == arg]
    name, expected = arg
    return lambda values: [v for v in values if isinstance(v, dict) and v.get(name) == expected]


def _flatten_into(out: list[Any], value: Any) -> None:
    if isinstance(value, list):
        out.extend(value)
    elif value is not None:
        out.append(value)


def _exact(values: list[Any], name: str) -> list[Any]:
    out: list[Any] = []
    for value in values:
        if isinstance(value, dict):
            item = value.get(name)
            if item is None:
                continue
            if isinstance(item, list):
                out.extend(item)
            else:
                out.append(item)
    return out


def _field(values: list[Any], name: str) -> list[Any]:
    out: list[Any] = []
    size = len(name)
    for value in values:
        if not isinstance(value, dict):
            continue
        if name in value:
            _flatten_into(out, value[name])
            continue
        for key, item in value.items():  # choice element: value -> valueQuantity, valueString, ...
            if len(key) > size and key.startswith(name) and key[size:] in CHOICE_TYPE_SUFFIXES:
                _flatten_into(out, item)
    return out


def _reference_type(value: Any) -> str | None:
    """The resource type a Reference points at: from `Type/id[/_history/v]` (relative or absolute) or `type`."""
    if not isinstance(value, dict):
        return None
    reference = value.get("reference")
    if isinstance(reference, str):
        parts = reference.split("?")[0].split("/")
        if len(parts) >= 4 and parts[-2] == "_history":
            parts = parts[:-2]
        if len(parts) >= 2 and parts[-2][:1].isupper():
            return parts[-2]
    explicit = value.get("type")
    return explicit if isinstance(explicit, str) else None


def _fhirpath_accessor(part: str) -> Accessor:
    from fhirpathpy import compile as fhirpath_compile
    from fhirpathpy.models import models

    compiled = fhirpath_compile(part, model=models["r4"])

    def evaluate(resource: dict[str, Any]) -> list[Any]:
        try:
            return [v for v in compiled(resource) if v is not None]
        except Exception:  # an expression that cannot evaluate on odd data yields nothing
            return []

    return evaluate
