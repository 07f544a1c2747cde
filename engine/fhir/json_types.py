"""FHIR JSON shape rules the models do not enforce: primitive JSON types, no null, no empty object or array.

The R4B models coerce `"true"` to a boolean and `"5.4"` to a decimal; FHIR JSON requires real JSON
booleans and numbers, and a string quantity would be stored but never indexed. This walker follows
the model's field annotations, so each element is checked against the JSON type its FHIR type needs.
A quick pass that builds no paths runs first; the path-reporting walk runs only when it finds a fault.
"""
from __future__ import annotations

import datetime
import decimal
import importlib
import typing
from functools import lru_cache
from typing import Any

from engine.errors import Issue
from engine.fhir.release import MODEL_PACKAGE, model_class

MAX_ISSUES = 20
_PRIMITIVE_KINDS = {bool: "boolean", int: "integer", decimal.Decimal: "number", float: "number", str: "string",
                    datetime.date: "string", datetime.datetime: "string", datetime.time: "string", bytes: "string"}


def _unwrap(annotation: Any) -> tuple[Any, bool]:
    """(innermost type, is_list) of an Optional[List[Annotated[T, ...]]]-style annotation."""
    is_list = False
    while True:
        origin = typing.get_origin(annotation)
        if origin in (typing.Union, getattr(__import__("types"), "UnionType", None)):
            annotation = next(a for a in typing.get_args(annotation) if a is not type(None))
        elif origin in (list, typing.List):
            is_list = True
            annotation = typing.get_args(annotation)[0]
        elif origin is typing.Annotated:
            annotation = typing.get_args(annotation)[0]
        else:
            return annotation, is_list


@lru_cache(maxsize=None)
def _model_by_name(type_name: str) -> Any:
    package = importlib.import_module(MODEL_PACKAGE)
    try:
        return package.get_fhir_model_class(type_name)
    except (KeyError, ValueError, AttributeError):
        return None


@lru_cache(maxsize=None)
def _fields(model: Any) -> dict[str, tuple[str, Any, bool]]:
    """JSON name -> (kind, sub-model or None, is_list) for a model class."""
    found: dict[str, tuple[str, Any, bool]] = {}
    for name, info in model.model_fields.items():
        inner, is_list = _unwrap(info.annotation)
        key = info.alias or name
        if inner in _PRIMITIVE_KINDS:
            found[key] = (_PRIMITIVE_KINDS[inner], None, is_list)
        elif getattr(inner, "__name__", "").endswith("Type") and getattr(inner, "__module__", "") == "abc":
            type_name = inner.__name__[:-4]
            kind = "resource" if type_name in ("Resource", "DomainResource") else "object"
            found[key] = (kind, None if kind == "resource" else _model_by_name(type_name), is_list)
    return found


def _kind_ok(kind: str, value: Any) -> bool:
    if kind == "boolean":
        return isinstance(value, bool)
    if kind == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "number":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if kind == "string":
        return isinstance(value, str)
    return isinstance(value, dict)


# JSON types that satisfy each kind at once; anything else goes through _kind_ok (subclasses, bool vs int).
_EXACT_TYPES = {"boolean": (bool,), "integer": (int,), "number": (int, float), "string": (str,),
                "object": (dict,), "resource": (dict,)}
_SCALARS = frozenset({str, int, float, bool})


def json_shape_issues(resource: dict[str, Any]) -> list[Issue]:
    """Issues for nulls, empty objects/arrays, primitives of the wrong JSON type and strings holding U+0000
    (no database stores it in text), with their paths."""
    issues: list[Issue] = []
    model = model_class(resource.get("resourceType", ""))
    if model is not None and not _clean(resource, model):  # paths are only built when something is wrong
        _walk(resource, model, resource["resourceType"], issues)
    return issues


_QUICK: dict[Any, dict[str, tuple[str, tuple[type, ...], Any, bool]]] = {}


def _quick_fields(model: Any) -> dict[str, tuple[str, tuple[type, ...], Any, bool]]:
    """JSON name -> (kind, JSON types accepted at once, sub-model, is_list) for a model class."""
    found = _QUICK.get(model)
    if found is None:
        found = _QUICK[model] = {key: (kind, _EXACT_TYPES[kind], sub_model, is_list)
                                 for key, (kind, sub_model, is_list) in _fields(model).items()}
    return found


def _clean(node: dict[str, Any], model: Any) -> bool:
    """True when `node` breaks none of the rules _walk reports (the same checks, without paths)."""
    fields = _quick_fields(model)
    for key, value in node.items():
        if value is None:
            return False
        value_type = type(value)
        if value_type is str:
            if "\x00" in value:
                return False
        elif value_type is dict or value_type is list:
            if not value:
                return False
        elif value_type not in _SCALARS and (value == {} or value == []):
            return False
        spec = fields.get(key)
        if spec is None:
            continue
        kind, exact, sub_model, is_list = spec
        if not is_list and sub_model is None and kind != "resource" and value_type in exact:
            continue  # a single primitive (or unmodelled object) of the right JSON type
        for item in (value if is_list and isinstance(value, list) else (value,)):
            item_type = type(item)
            if item is None or (item_type is dict and not item) or (item_type is str and "\x00" in item):
                return False
            if item_type not in exact:
                if item == {} or not _kind_ok(kind, item):
                    return False
            if kind == "object":
                if sub_model is not None and not _clean(item, sub_model):
                    return False
            elif kind == "resource" and isinstance(item, dict):
                inner = model_class(item.get("resourceType", ""))
                if inner is not None and not _clean(item, inner):
                    return False
    return True


def _walk(node: dict[str, Any], model: Any, path: str, issues: list[Issue]) -> None:
    fields = _fields(model)
    for key, value in node.items():
        if len(issues) >= MAX_ISSUES:
            return
        where = f"{path}.{key}"
        if value is None or value == {} or value == []:
            issues.append(Issue("value", "null, {} and [] are not allowed in FHIR JSON", where))
            continue
        spec = fields.get(key)
        if spec is None:
            continue  # resourceType, _primitive extensions and unknown keys (the model reports those)
        kind, sub_model, is_list = spec
        items = value if is_list and isinstance(value, list) else [value]
        for index, item in enumerate(items):
            item_path = f"{where}[{index}]" if is_list else where
            if item is None or item == {}:
                issues.append(Issue("value", "null and {} are not allowed in FHIR JSON", item_path))
            elif kind == "resource":
                if isinstance(item, dict) and (inner := model_class(item.get("resourceType", ""))) is not None:
                    _walk(item, inner, f"{item_path}", issues)
            elif not _kind_ok(kind, item):
                issues.append(Issue("value", f"must be a JSON {kind}", item_path))
            elif type(item) is str and "\x00" in item:
                issues.append(Issue("value", "must not contain the NUL character (U+0000)", item_path))
            elif kind == "object" and sub_model is not None:
                _walk(item, sub_model, item_path, issues)
