"""`tessera ingest PATH…`: HL7 v2 files, FHIR JSON (resource or Bundle) and NDJSON, folders recursively.

One line per rejected record (file, line or message index, reason), a progress line with counts and
throughput, a summary, and a non-zero exit code when anything was rejected.
"""
from __future__ import annotations

import codecs
import gzip
import io
import os
import sys
import time
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from engine.security.caller import Caller
from engine.services.bulk_load import BulkLoader
from engine.settings import load_settings
from adapters import hl7v2

SOURCE = "urn:tessera:cli-ingest"
HL7_SUFFIXES = (".hl7", ".txt", ".er7")
FHIR_SUFFIXES = (".json", ".ndjson")
UTF16_BOMS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)


def file_kind(path: Path) -> tuple[str, bool]:
    """The file's format suffix (`.hl7`, `.json`, `.ndjson`, …) and whether it is gzip-compressed (`.gz`)."""
    suffixes = [suffix.lower() for suffix in path.suffixes]
    if suffixes and suffixes[-1] == ".gz":
        return (suffixes[-2] if len(suffixes) > 1 else ""), True
    return (suffixes[-1] if suffixes else ""), False


def _open(path: Path, compressed: bool) -> io.BufferedIOBase:
    return gzip.open(path, "rb") if compressed else path.open("rb")  # type: ignore[return-value]


def _utf8(data: bytes) -> bytes:
    """JSON text as UTF-8: a UTF-16 file (by its byte order mark) is re-encoded; raises UnicodeDecodeError."""
    return data.decode("utf-16").encode("utf-8") if data.startswith(UTF16_BOMS) else data


class Files:
    """The files named on the command line, folders walked recursively (following links, each folder once);
    a folder that cannot be read is reported to `on_error` (location, reason)."""

    def __init__(self, paths: list[str], on_error: Callable[[str, str], None]):
        self.paths = paths
        self.on_error = on_error
        self.skipped = 0  # files in folders whose extension is not one Tessera reads

    def __iter__(self) -> Iterator[Path]:
        for raw in self.paths:
            path = Path(raw)
            try:
                folder = path.is_dir()
            except OSError as exc:
                self.on_error(raw, f"cannot be read ({exc.strerror or type(exc).__name__})")
                continue
            if folder:
                yield from self._walk(path)
            else:
                yield path

    def _unreadable(self, error: OSError) -> None:
        self.on_error(str(error.filename or "?"), f"folder cannot be read ({error.strerror or type(error).__name__}); "
                                                  "nothing in it was loaded")

    def _walk(self, root: Path) -> Iterator[Path]:
        seen: set[str] = set()
        for folder, subfolders, names in os.walk(root, followlinks=True, onerror=self._unreadable):
            real = os.path.realpath(folder)
            if real in seen:  # a link back into a folder already walked
                subfolders[:] = []
                continue
            seen.add(real)
            subfolders.sort()
            for name in sorted(names):
                path = Path(folder) / name
                if file_kind(path)[0] not in HL7_SUFFIXES + FHIR_SUFFIXES or name.endswith(".expected.json"):
                    self.skipped += 1
                else:
                    yield path


class Progress:
    """Counts and throughput on stderr, at most twice a second."""

    def __init__(self, loader: BulkLoader) -> None:
        self.loader = loader
        self.started = time.perf_counter()
        self.shown = 0.0
        self.messages = 0  # HL7 messages accepted (FHIR records are counted by the loader)
        self.duplicates = 0

    @property
    def accepted(self) -> int:
        """Records and messages accepted so far."""
        return self.loader.accepted + self.messages

    def tick(self, *, force: bool = False) -> None:
        """Show the progress line if enough time has passed."""
        now = time.perf_counter()
        if not force and now - self.shown < 0.5:
            return
        self.shown = now
        rate = self.accepted / max(now - self.started, 1e-9)
        waiting = f", {self.loader.waiting} waiting for references" if self.loader.waiting else ""
        end = "\n" if force or not sys.stderr.isatty() else "\r"
        print(f"ingest: {self.accepted} accepted, {self.loader.rejected} rejected{waiting}, "  # noqa: T201
              f"{rate:,.0f} records/s", end=end, file=sys.stderr, flush=True)


class Ingestor:
    """Loads records through the same services the API and the MLLP listener use."""

    def __init__(self, container: Any):
        self.container = container
        caller = Caller.institution_only(container.settings.default_institution)
        self.loader = BulkLoader(container.resources, container.bundles, on_reject=_print_rejection, caller=caller,
                                 source=SOURCE, max_depth=container.settings.max_json_depth)
        self.progress = Progress(self.loader)

    def file(self, path: Path) -> None:
        """Load every record of one file; a file that cannot be read is one rejection, not the end of the run."""
        try:
            self._file(path)
        except (OSError, EOFError, zlib.error) as exc:  # unreadable, or not the whole gzip stream its name says
            reason = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
            self.loader.reject(str(path), f"the file cannot be read ({reason})")

    def _file(self, path: Path) -> None:
        kind, compressed = file_kind(path)
        if not path.is_file():
            self.loader.reject(str(path), "no such file" + (" (a broken link)" if path.is_symlink() else ""))
        elif kind in HL7_SUFFIXES:
            with _open(path, compressed) as handle:
                self._hl7(path, handle.read())
        elif kind == ".ndjson":
            with _open(path, compressed) as handle:
                self._ndjson(path, handle)
        else:
            with _open(path, compressed) as handle:
                data = handle.read()
            try:
                data = _utf8(data)
            except UnicodeDecodeError as exc:
                self.loader.reject(str(path), f"starts with a UTF-16 byte order mark but is not UTF-16 (byte {exc.start})")
            else:
                self.loader.load_json(str(path), data)
        self.progress.tick()

    def _ndjson(self, path: Path, handle: io.BufferedIOBase) -> None:
        """One record per line; a UTF-16 file (by its byte order mark) is read as such."""
        utf16 = handle.peek(2)[:2] in UTF16_BOMS  # type: ignore[attr-defined]  (both openers buffer)
        lines = (line.encode("utf-8") for line in io.TextIOWrapper(handle, encoding="utf-16")) if utf16 else handle
        number = 0
        try:
            for number, line in enumerate(lines, start=1):
                if line.strip():
                    self.loader.load_json(f"{path}:{number}", line)
                    self.progress.tick()
        except UnicodeDecodeError:
            self.loader.reject(f"{path}:{number + 1}", "not UTF-16 although the file starts with its byte order "
                                                     "mark; the rest of the file was not read")

    def _hl7(self, path: Path, raw: bytes) -> None:
        try:
            found, outside = hl7v2.split_file(raw)
        except hl7v2.Hl7ParseError as exc:
            self.loader.reject(str(path), exc.reason)
            return
        if not found:
            self.loader.reject(str(path), "no HL7 v2 message (no MSH segment) in the file")
        elif outside:
            self.loader.reject(f"{path}:{outside[0]}", f"{len(outside)} line(s) are not part of any message "
                                                        "(before the first MSH segment, or after a frame's end)")
        for index, message in enumerate(found, start=1):
            self._hl7_message(f"{path}#message {index}", message, path.name)
            self.progress.tick()

    def _hl7_message(self, location: str, message: bytes, file_name: str) -> None:
        try:
            outcome = self.container.feeds.receive(message, peer=f"file:{file_name}")
        except Exception as exc:  # noqa: BLE001 - one message must not stop the file
            self.loader.reject(location, f"internal error ({type(exc).__name__}); the message was not loaded")
            return
        if outcome.duplicate:
            self.progress.duplicates += 1
            identity = outcome.identity
            print(f"{location}: skipped: control id {identity.control_id if identity else '?'} from "  # noqa: T201
                  f"{identity.sender if identity else '?'} was already processed", file=sys.stderr)
        elif outcome.ack_code == "AA":
            self.progress.messages += 1
            if outcome.issues:
                print(f"{location}: accepted with warnings: {_described(outcome.issues)[:300]}",  # noqa: T201
                      file=sys.stderr)
        else:
            self.loader.reject(location, f"{outcome.ack_code}: {_described(outcome.issues) or outcome.ack_code}")

    def finish(self) -> None:
        """Load what waited for its references (files may come in any order)."""
        self.loader.finish()
        self.progress.tick(force=True)


def _described(issues: Any) -> str:
    """HL7-located issues in one line: `SEG-field text; …` (the location once when the text starts with it)."""
    described = []
    for issue in issues:
        where = f"{issue.segment}-{issue.field}" if issue.field else issue.segment
        named = issue.text == where or issue.text.startswith(f"{where} ")
        described.append(issue.text if named else f"{where} {issue.text}")
    return "; ".join(described)


def _print_rejection(location: str, reason: str) -> None:
    print(f"{location}: rejected: {reason[:300]}", file=sys.stderr)  # noqa: T201


def run_ingest(paths: list[str]) -> int:
    """Load every record; print one line per rejected record and a summary; non-zero exit if any failed."""
    from adapters.bootstrap import build_container

    container = build_container(load_settings())
    ingestor = Ingestor(container)
    files = Files(paths, on_error=ingestor.loader.reject)
    try:
        for path in files:
            ingestor.file(path)
        ingestor.finish()
    finally:
        container.close()
    progress, rejected = ingestor.progress, ingestor.loader.rejected
    seconds = time.perf_counter() - progress.started
    extra = [f"{progress.duplicates} duplicate messages skipped"] if progress.duplicates else []
    if files.skipped:
        extra.append(f"{files.skipped} files skipped (not {', '.join(HL7_SUFFIXES + FHIR_SUFFIXES)}, plain or .gz)")
    print(f"ingest: {progress.accepted} accepted, {rejected} rejected in {seconds:.1f}s"  # noqa: T201
          + "".join(f"; {item}" for item in extra))
    return 1 if rejected else 0

