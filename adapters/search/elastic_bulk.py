"""Bulk request lines for search documents and the meaning of each bulk item's answer."""
from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import orjson

from engine.indexing.model import Deletion, IndexedDocument
from adapters.search.snippets import without_marks

_VALUE_PREVIEW = re.compile(r"(Preview of field's value|The prefix of the first immense term is)[\s\S]*$")
_REASON_LIMIT = 1000


@dataclass(frozen=True)
class BulkAction:
    """One document operation of a bulk request: its key, version and NDJSON lines."""

    key: str
    version: int
    lines: tuple[bytes, ...]


def index_action(item: IndexedDocument) -> BulkAction:
    """Index `item` unless the index holds the same or a newer version (external versioning).

    Raises `TypeError` (orjson) when the document cannot be encoded, e.g. text with lone surrogates.
    """
    document = item.document
    source = {
        "resource_type": document.resource_type, "resource_id": document.resource_id,
        "version": document.version, "patient": document.patient, "source": document.source,
        "institution": document.institution, "status": document.status, "date_us": document.date_us,
        "codes": list(document.codes),
        "displays": [without_marks(display) for display in document.displays],
        "title": without_marks(document.title), "text": without_marks(document.text),
        "embed_text": document.embed_text, "embedding": np.ascontiguousarray(item.vector, dtype=np.float32),
    }
    action = {"index": {"_id": document.key, "version": document.version, "version_type": "external"}}
    return BulkAction(document.key, document.version,
                      (orjson.dumps(action), orjson.dumps(source, option=orjson.OPT_SERIALIZE_NUMPY)))


def delete_action(deletion: Deletion) -> BulkAction:
    """Delete at `deletion.version` unless the index holds a newer one; a tombstone keeps that version."""
    action = {"delete": {"_id": deletion.key, "version": deletion.version, "version_type": "external_gte"}}
    return BulkAction(deletion.key, deletion.version, (orjson.dumps(action),))


INDEX_WIDE_ERRORS = frozenset({"cluster_block_exception", "index_closed_exception", "index_not_found_exception",
                               "unavailable_shards_exception", "no_shard_available_action_exception"})


def outcome(item: dict) -> str:
    """What one bulk item did: indexed, deleted, ignored (nothing to delete), stale, transient or rejected.

    Errors about the whole index (a write block, a closed or missing index) are transient: the document is
    fine and must be retried once the index takes writes again, never dead-lettered.
    """
    (kind, body), = item.items()
    status = body.get("status", 500)
    error = body.get("error")
    if isinstance(error, dict) and error.get("type") in INDEX_WIDE_ERRORS:
        return "transient"
    if status in (200, 201):
        return "indexed" if kind == "index" else "deleted"
    if status == 404 and kind == "delete" and "error" not in body:
        return "ignored"
    if status == 409:
        return "stale"
    if status == 429 or status >= 500:
        return "transient"
    return "rejected"


def rejection_reason(item: dict) -> str:
    """The error of a refused bulk item: its type and reason, field values withheld, then the causes' types.

    Only the types of the causes are kept, since their reasons quote values ("For input string: ...").
    """
    (_, body), = item.items()
    error = body.get("error")
    if not isinstance(error, dict):
        return f"status {body.get('status')}"
    reason = _VALUE_PREVIEW.sub(r"\1 withheld", str(error.get("reason") or ""))
    parts = [f"{error.get('type', 'error')}: {reason}"]
    cause = error.get("caused_by")
    while isinstance(cause, dict) and len(parts) < 4:
        parts.append(f"caused by {cause.get('type', 'error')}")
        cause = cause.get("caused_by")
    return "; ".join(parts)[:_REASON_LIMIT]
