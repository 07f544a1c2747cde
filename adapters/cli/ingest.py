"""`tessera ingest PATH…`: HL7 v2 files, FHIR JSON (resource or Bundle) and NDJSON, folders recursively.

One line per rejected record (file, line or message index, reason), a progress line with counts and
throughput, a summary, and a non-zero exit code when anything was rejected.
"""
from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson

from engine.errors import ReferenceNotResolved, TesseraError
from engine.security.caller import Caller
from engine.settings import load_settings
from adapters import hl7v2

SOURCE = "urn:tessera:cli-ingest"
HL7_SUFFIXES = (".hl7", ".txt", ".er7")
FHIR_SUFFIXES = (".json", ".ndjson")


def _files(paths: list[str]) -> Iterator[Path]:
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            yield from sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in
                              HL7_SUFFIXES + FHIR_SUFFIXES and not p.name.endswith(".expected.json"))
        else:
            yield path


class Progress:
    """Counts and throughput on stderr, at most twice a second."""

    def __init__(self) -> None:
        self.started = time.perf_counter()
        self.shown = 0.0
        self.accepted = 0
        self.rejected = 0

    def tick(self, *, force: bool = False) -> None:
        """Show the progress line if enough time has passed."""
        now = time.perf_counter()
        if not force and now - self.shown < 0.5:
            return
        self.shown = now
        rate = self.accepted / max(now - self.started, 1e-9)
        end = "\n" if force or not sys.stderr.isatty() else "\r"
        print(f"ingest: {self.accepted} accepted, {self.rejected} rejected, {rate:,.0f} records/s",  # noqa: T201
              end=end, file=sys.stderr, flush=True)


class Ingestor:
    """Loads records through the same services the API and the MLLP listener use."""

    def __init__(self, container: Any):
        self.container = container
        self.progress = Progress()
        self.deferred: list[tuple[str, dict[str, Any]]] = []

    def reject(self, location: str, reason: str) -> None:
        """Report one rejected record."""
        self.progress.rejected += 1
        print(f"{location}: rejected: {reason[:300]}", file=sys.stderr)  # noqa: T201

    def file(self, path: Path) -> None:
        """Load every record of one file."""
        if not path.is_file():
            self.reject(str(path), "no such file")
        elif path.suffix.lower() in HL7_SUFFIXES:
            self._hl7(path)
        elif path.suffix.lower() == ".ndjson":
            with path.open("rb") as handle:
                for number, line in enumerate(handle, start=1):
                    if line.strip():
                        self._fhir_text(f"{path}:{number}", line)
        else:
            self._fhir_text(str(path), path.read_bytes())
        self.progress.tick()

    def _hl7(self, path: Path) -> None:
        found, outside = hl7v2.split_file(path.read_bytes())
        if not found:
            self.reject(str(path), "no HL7 v2 message (no MSH segment) in the file")
        elif outside:
            self.reject(f"{path}:{outside[0]}", f"{len(outside)} line(s) before the first MSH segment are not "
                                                 "part of any message")
        for index, message in enumerate(found, start=1):
            outcome = self.container.feeds.receive(message, peer=f"file:{path.name}")
            if outcome.ack_code == "AA":
                self.progress.accepted += 1
            else:
                reasons = "; ".join(f"{i.segment}-{i.field or ''} {i.text}" for i in outcome.issues) or outcome.ack_code
                self.reject(f"{path}#message {index}", f"{outcome.ack_code}: {reasons}")
            self.progress.tick()

    def _fhir_text(self, location: str, data: bytes) -> None:
        try:
            record = orjson.loads(data)
        except orjson.JSONDecodeError as exc:
            self.reject(location, f"not valid JSON ({str(exc)[:120]})")
            return
        self.fhir_record(location, record, defer=True)

    def fhir_record(self, location: str, record: Any, *, defer: bool) -> bool:
        """Load one FHIR resource or Bundle; a reference to a not-yet-loaded resource is retried later."""
        try:
            self.progress.accepted += _load(self.container, record)
            return True
        except ReferenceNotResolved as exc:
            if defer:
                self.deferred.append((location, record))
                return False
            self.reject(location, exc.message)
        except TesseraError as exc:
            self.reject(location, exc.message)
        return False

    def finish(self) -> None:
        """Retry deferred records until no more succeed (files may come in any order)."""
        while self.deferred:
            pending, self.deferred = self.deferred, []
            progress = [self.fhir_record(location, record, defer=True) for location, record in pending]
            if not any(progress):
                for location, record in self.deferred:
                    self.fhir_record(location, record, defer=False)
                self.deferred = []
        self.progress.tick(force=True)


def run_ingest(paths: list[str]) -> int:
    """Load every record; print one line per rejected record and a summary; non-zero exit if any failed."""
    from adapters.bootstrap import build_container

    container = build_container(load_settings())
    ingestor = Ingestor(container)
    try:
        for path in _files(paths):
            ingestor.file(path)
        ingestor.finish()
    finally:
        container.close()
    progress = ingestor.progress
    seconds = time.perf_counter() - progress.started
    print(f"ingest: {progress.accepted} accepted, {progress.rejected} rejected in {seconds:.1f}s")  # noqa: T201
    return 1 if progress.rejected else 0


def _load(container: Any, record: Any) -> int:
    caller = Caller.institution_only(container.settings.default_institution)
    if isinstance(record, dict) and record.get("resourceType") == "Bundle" and record.get("type") in ("transaction", "batch"):
        result = container.bundles.process(record, base_url="http://localhost/fhir", source=SOURCE, caller=caller)
        failed = [e for e in result["entry"] if not str(e["response"]["status"]).startswith(("200", "201", "204"))]
        if failed:
            raise TesseraError(f"{len(failed)} batch entries failed; first: {failed[0]['response']['status']}")
        return len(result["entry"])
    if isinstance(record, dict) and isinstance(record.get("id"), str) and isinstance(record.get("resourceType"), str):
        container.resources.update(record["resourceType"], record["id"], record, source=SOURCE, caller=caller)
    else:
        container.resources.create(record, source=SOURCE, caller=caller)
    return 1
