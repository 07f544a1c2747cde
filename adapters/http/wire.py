"""Reading FHIR JSON requests and writing FHIR JSON responses."""
from __future__ import annotations

from typing import Any

import orjson
from fastapi import Request
from fastapi.responses import Response

from engine.errors import InvalidRequest, Issue
from engine.fhir.json_depth import nesting_exceeds
from engine.fhir.release import MIME_TYPE
from engine.services.presentation import etag, last_modified
from engine.store.model import StoredResource

JSON_TYPES = ("application/fhir+json", "application/json", "application/json+fhir")


class PayloadTooLarge(InvalidRequest):
    """The request body exceeds the configured limit."""

    status = 413
    issue_code = "too-long"


class UnsupportedMediaType(InvalidRequest):
    """The request body is not FHIR JSON."""

    status = 415
    issue_code = "not-supported"


class NotAcceptable(InvalidRequest):
    """The client accepts no format the server produces."""

    status = 406
    issue_code = "not-supported"


def fhir_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    """A FHIR JSON response."""
    return Response(orjson.dumps(body), status_code=status, media_type=MIME_TYPE, headers=headers)


def version_headers(stored: StoredResource, base_url: str | None = None) -> dict[str, str]:
    """ETag, Last-Modified and (when a base URL is given) Location headers for a stored version."""
    headers = {"ETag": etag(stored.version), "Last-Modified": last_modified(stored)}
    if base_url:
        headers["Location"] = f"{base_url}/{stored.key}/_history/{stored.version}"
    return headers


def check_accept(request: Request) -> None:
    """Refuse requests that only accept XML (the server speaks JSON)."""
    wanted = request.query_params.get("_format") or ""
    accept = request.headers.get("accept", "")
    if "xml" in wanted or ("xml" in accept and "json" not in accept and "*/*" not in accept):
        raise NotAcceptable("Only FHIR JSON is supported (application/fhir+json)")


async def read_json(request: Request, *, max_bytes: int, max_depth: int) -> Any:
    """The request body parsed as JSON, refusing other media types, oversized and over-deep bodies."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type not in JSON_TYPES:
        raise UnsupportedMediaType(f"Content-Type must be application/fhir+json, not '{content_type[:60]}'",
                                   issues=[Issue("not-supported", "unsupported Content-Type", "Content-Type")])
    declared = request.headers.get("content-length")
    if declared and (declared.isascii() and declared.isdigit()) and int(declared) > max_bytes:
        raise PayloadTooLarge(f"Request body exceeds {max_bytes} bytes")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > max_bytes:
            raise PayloadTooLarge(f"Request body exceeds {max_bytes} bytes")
        chunks.append(chunk)
    raw = b"".join(chunks)
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise InvalidRequest(f"Malformed JSON: {exc}"[:300],
                             issues=[Issue("structure", f"Malformed JSON: {exc}"[:300])]) from exc
    _check_depth(body, max_depth)
    return body


def _check_depth(body: Any, max_depth: int) -> None:
    if nesting_exceeds(body, max_depth):
        raise InvalidRequest(f"JSON nesting deeper than {max_depth} levels",
                             issues=[Issue("structure", f"JSON nesting deeper than {max_depth} levels")])
