"""`POST /fhir/$import`: bulk NDJSON upload, streamed line by line (never held whole in memory)."""
from __future__ import annotations

import zlib
from collections.abc import AsyncIterator, Callable
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from engine.errors import Forbidden, Issue, MethodNotAllowed
from engine.services.bulk_load import WRITE_BUNDLES, BulkLoader
from engine.services.presentation import operation_outcome
from adapters.http.fhir_routes import APPEND_ONLY, base_url, check_bundle_scopes
from adapters.http.security import PrincipalDep, caller_of, require
from adapters.http.wire import UnsupportedMediaType, fhir_response

router = APIRouter(prefix="/fhir")
NDJSON_TYPES = ("application/fhir+ndjson", "application/x-ndjson", "application/ndjson")
MAX_REPORTED = 100
MAX_WAITING = 10_000  # lines held in memory while they wait for resources sent later in the upload
MAX_WAITING_BYTES = 64 * 1024 * 1024
GZIP_WBITS = 16 + zlib.MAX_WBITS
INFLATE_STEP = 1 << 20
MAX_INFLATION = 200  # NDJSON compresses 5-20 times; far more is a bomb, not data
MINOR_FAILURE, SERIOUS_FAILURE = "4", "8"  # AuditEvent.outcome: some records rejected / all of them


def _require_some_write(principal: Any) -> None:
    """403 before reading the upload when the token may neither create nor update any type."""
    scopes = principal.scopes
    if scopes.types_allowing("c") == frozenset() and scopes.types_allowing("u") == frozenset():
        needed = "Missing scope: a create or update scope (e.g. user/*.cu, or one per type) is needed to import"
        raise Forbidden(needed, issues=[Issue("forbidden", needed)])


def _authorizer(principal: Any):
    def authorize(record: dict[str, Any]) -> None:
        if record.get("resourceType") == "Bundle" and record.get("type") in WRITE_BUNDLES:
            check_bundle_scopes(principal, record)
        elif record["resourceType"] in APPEND_ONLY:
            raise MethodNotAllowed(f"{record['resourceType']} is append-only and written by the server")
        else:
            require(principal, record["resourceType"], "u" if isinstance(record.get("id"), str) else "c")
    return authorize


async def _decoded(request: Request, on_error: Callable[[str], None]) -> AsyncIterator[bytes]:
    """The upload's bytes, gunzipped as they arrive under `Content-Encoding: gzip` (members one after another,
    as `cat a.gz b.gz` makes them; zero padding after the last is ignored), off the event loop; a corrupt or
    cut-off stream, or one inflating more than MAX_INFLATION times, is reported to `on_error` and ends the
    upload there (what came before it stays loaded)."""
    encoding = request.headers.get("content-encoding", "identity").strip().lower()
    if encoding in ("", "identity"):
        async for chunk in request.stream():
            yield chunk
        return
    if encoding not in ("gzip", "x-gzip"):
        raise UnsupportedMediaType(f"Content-Encoding {encoding[:40]} is not supported (gzip or identity)")
    inflater, fed, sent, inflated = zlib.decompressobj(wbits=GZIP_WBITS), False, 0, 0
    async for chunk in request.stream():
        sent += len(chunk)
        while chunk:
            if not fed and not chunk.strip(b"\x00"):
                break  # padding after a complete member
            fed = True
            try:  # bounded steps: a small upload never inflates all at once
                out = await run_in_threadpool(inflater.decompress, chunk, INFLATE_STEP)
            except zlib.error as exc:
                on_error(f"the gzip upload is corrupt here ({exc}); the rest of it was not read")
                return
            inflated += len(out)
            if inflated > MAX_INFLATION * sent + INFLATE_STEP:
                on_error(f"the gzip upload inflates more than {MAX_INFLATION} times (a compression bomb?); "
                         "the rest of it was not read")
                return
            if out:
                yield out
            if inflater.eof:  # one member ended; the next may follow
                chunk, inflater, fed = inflater.unused_data, zlib.decompressobj(wbits=GZIP_WBITS), False
            else:
                chunk = inflater.unconsumed_tail
    if fed and not inflater.eof:
        on_error("the gzip upload ended before its end-of-stream marker; its last line may be cut short")


class _Rejections:
    """The first MAX_REPORTED rejections as OperationOutcome issues, and how many there were."""

    def __init__(self) -> None:
        self.issues: list[Issue] = []
        self.count = 0

    def __call__(self, location: str, reason: str) -> None:
        self.count += 1
        if len(self.issues) < MAX_REPORTED:
            self.issues.append(Issue("invalid", f"{location}: {reason[:300]}", location))


@router.post("/$import")
async def bulk_import(request: Request, principal: PrincipalDep) -> Response:
    """Load NDJSON records (one per line; with an id: update-or-create, without: create; transaction, batch
    and collection Bundles as their entries), each line on its own; the answer lists what was rejected."""
    services = request.app.state.container
    request.state.audit_interaction = "create"
    _require_some_write(principal)
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type not in NDJSON_TYPES:
        raise UnsupportedMediaType("Content-Type must be application/fhir+ndjson")
    settings = services.settings
    rejections = _Rejections()
    loader = BulkLoader(services.resources, services.bundles, on_reject=rejections,
                        caller=caller_of(request, principal), source=settings.default_source,
                        base_url=base_url(request), authorize=_authorizer(principal),
                        max_depth=settings.max_json_depth, max_waiting=MAX_WAITING,
                        max_waiting_bytes=MAX_WAITING_BYTES)
    max_line = settings.max_request_bytes
    number, pending, skipping, broken = 0, bytearray(), False, False

    def stream_broke(reason: str) -> None:
        nonlocal broken
        broken = True
        loader.reject(f"line {number + 1}", reason)

    def handle(line: bytes) -> None:
        if not line.strip():
            return
        if len(line) > max_line:
            loader.reject(f"line {number}", f"longer than {max_line} bytes")
            return
        loader.load_json(f"line {number}", line)

    async for chunk in _decoded(request, stream_broke):
        pending += chunk
        while (cut := pending.find(b"\n")) >= 0:
            line = bytes(pending[:cut])
            del pending[:cut + 1]
            if skipping:  # the rest of an over-long line, already counted and rejected
                skipping = False
                continue
            number += 1
            if line.strip():
                await run_in_threadpool(handle, line)
        if len(pending) > max_line and not skipping:
            number += 1
            loader.reject(f"line {number}", f"longer than {max_line} bytes")
            skipping = True
        if skipping:
            pending.clear()
    if pending and not skipping and not broken:  # a stream that broke off reported its last line already
        number += 1
        await run_in_threadpool(handle, bytes(pending))
    await run_in_threadpool(loader.finish)
    if rejections.count:
        request.state.audit_outcome = MINOR_FAILURE if loader.accepted else SERIOUS_FAILURE
    summary = [Issue("informational", f"{loader.accepted} resources stored, {rejections.count} records rejected",
                     severity="information")]
    if rejections.count > len(rejections.issues):
        summary.append(Issue("informational", f"only the first {len(rejections.issues)} rejections are listed",
                             severity="information"))
    return fhir_response(operation_outcome([*summary, *rejections.issues]), 200)
