"""`tessera ingest PATH…`: load FHIR JSON resources/Bundles and NDJSON files, one clear line per rejection."""
from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson

from engine.errors import TesseraError
from engine.settings import load_settings

SOURCE = "urn:tessera:cli-ingest"


def _files(paths: list[str]) -> Iterator[Path]:
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            yield from sorted(p for p in path.rglob("*") if p.suffix in (".json", ".ndjson") and p.is_file())
        else:
            yield path


def _records(path: Path) -> Iterator[tuple[str, Any]]:
    """(location, parsed JSON or the exception that made it unparseable) for each record in a file."""
    if path.suffix == ".ndjson":
        with path.open("rb") as handle:
            for number, line in enumerate(handle, start=1):
                if line.strip():
                    try:
                        yield f"{path}:{number}", orjson.loads(line)
                    except orjson.JSONDecodeError as exc:
                        yield f"{path}:{number}", exc
    else:
        try:
            yield str(path), orjson.loads(path.read_bytes())
        except (orjson.JSONDecodeError, OSError) as exc:
            yield str(path), exc


def run_ingest(paths: list[str]) -> int:
    """Load every record; print one line per rejected record and a summary; non-zero exit if any failed."""
    from adapters.bootstrap import build_container

    container = build_container(load_settings())
    accepted = rejected = 0
    for path in _files(paths):
        if not path.exists():
            print(f"{path}: no such file", file=sys.stderr)  # noqa: T201
            rejected += 1
            continue
        for location, record in _records(path):
            if isinstance(record, Exception):
                print(f"{location}: rejected: not valid JSON ({str(record)[:120]})", file=sys.stderr)  # noqa: T201
                rejected += 1
                continue
            try:
                accepted += _load(container, record)
            except TesseraError as exc:
                rejected += 1
                print(f"{location}: rejected: {exc.message[:300]}", file=sys.stderr)  # noqa: T201
    container.close()
    print(f"ingest: {accepted} resources accepted, {rejected} records rejected")  # noqa: T201
    return 1 if rejected else 0


def _load(container: Any, record: Any) -> int:
    if isinstance(record, dict) and record.get("resourceType") == "Bundle" and record.get("type") in ("transaction", "batch"):
        result = container.bundles.process(record, base_url="http://localhost/fhir", source=SOURCE)
        failed = [e for e in result["entry"] if not str(e["response"]["status"]).startswith(("200", "201", "204"))]
        if failed:
            raise TesseraError(f"{len(failed)} batch entries failed; first: {failed[0]['response']['status']}")
        return len(result["entry"])
    if isinstance(record, dict) and isinstance(record.get("id"), str) and isinstance(record.get("resourceType"), str):
        container.resources.update(record["resourceType"], record["id"], record, source=SOURCE)
    else:
        container.resources.create(record, source=SOURCE)
    return 1
