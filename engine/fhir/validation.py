"""Validate a FHIR R4 resource (as parsed JSON) and report each failing element by path."""
from __future__ import annotations

import re
from typing import Any

from pydantic import ValidationError

from engine.errors import InvalidResource, Issue, UnknownResourceType
from engine.fhir.json_types import json_shape_issues
from engine.fhir.release import model_class, is_resource_type

ID_PATTERN = re.compile(r"^[A-Za-z0-9\-.]{1,64}$")
_ELEMENT_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
MAX_ISSUES = 20


def check_resource_type(resource: Any) -> str:
    """Return the resource type of a parsed resource, or raise if it is not an R4 resource."""
    if not isinstance(resource, dict):
        raise InvalidResource("A resource must be a JSON object",
                              issues=[Issue("structure", "A resource must be a JSON object")])
    resource_type = resource.get("resourceType")
    if not isinstance(resource_type, str):
        raise InvalidResource("resourceType is missing",
                              issues=[Issue("required", "resourceType is missing", "resourceType")])
    if not is_resource_type(resource_type):
        raise UnknownResourceType(f"Unknown resource type '{resource_type[:64]}'",
                                  issues=[Issue("not-supported",
                                                f"Unknown resource type '{resource_type[:64]}'",
                                                "resourceType")])
    return resource_type


def validate_resource(resource: Any) -> str:
    """Validate a resource against the pinned FHIR models; return its type or raise InvalidResource."""
    resource_type = check_resource_type(resource)
    resource_id = resource.get("id")
    if resource_id is not None and not (isinstance(resource_id, str) and ID_PATTERN.match(resource_id)):
        raise InvalidResource("Invalid id", issues=[
            Issue("value", "id must be 1-64 characters of A-Z a-z 0-9 - .", f"{resource_type}.id")])
    model = model_class(resource_type)
    if model is None:
        issues = _structural_issues(resource, resource_type)
    else:
        try:
            model.model_validate(resource)
            issues = json_shape_issues(resource)
            if not issues:
                return resource_type
        except ValidationError as exc:
            issues = [_issue_from_error(resource_type, error) for error in exc.errors()[:MAX_ISSUES]]
        except (ValueError, TypeError, KeyError) as exc:  # raised by some model validators directly
            issues = [Issue("invalid", f"{resource_type}: {str(exc)[:300]}", resource_type)]
    if issues:
        first = issues[0]
        raise InvalidResource(f"{first.expression}: {first.diagnostics}", issues=issues)
    return resource_type


def _issue_from_error(resource_type: str, error: dict[str, Any]) -> Issue:
    path = resource_type
    for part in error.get("loc", ()):
        if isinstance(part, int):
            path += f"[{part}]"
        elif part not in ("__root__",):
            path += f".{part}"
    kind = error.get("type", "")
    message = error.get("msg", "invalid value")
    code = {"missing": "required", "extra_forbidden": "structure"}.get(kind, "value")
    if kind.endswith("missing") or "is required" in message:
        code = "required"
    if kind == "extra_forbidden":
        message = "Unknown element"
    return Issue(code, message[:300], path)


def _structural_issues(resource: dict[str, Any], resource_type: str) -> list[Issue]:
    """Shape checks for types without a model: JSON element names, no nulls, no empty objects."""
    issues: list[Issue] = []

    def walk(value: Any, path: str) -> None:
        if len(issues) >= MAX_ISSUES:
            return
        if value is None:
            issues.append(Issue("value", "null is not allowed in FHIR JSON", path))
        elif isinstance(value, dict):
            if not value:
                issues.append(Issue("value", "empty objects are not allowed in FHIR JSON", path))
            for key, item in value.items():
                if not _ELEMENT_NAME.match(key):
                    issues.append(Issue("structure", f"'{key[:40]}' is not a valid element name", path))
                    continue
                walk(item, f"{path}.{key}")
        elif isinstance(value, list):
            if not value:
                issues.append(Issue("value", "empty arrays are not allowed in FHIR JSON", path))
            for index, item in enumerate(value):
                walk(item, f"{path}[{index}]")

    for key, item in resource.items():
        if key == "resourceType":
            continue
        if not _ELEMENT_NAME.match(key):
            issues.append(Issue("structure", f"'{key[:40]}' is not a valid element name", resource_type))
            continue
        walk(item, f"{resource_type}.{key}")
    return issues
