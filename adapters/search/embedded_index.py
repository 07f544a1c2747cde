"""The embedded search index: one SQLite file with FTS5 for words and an exact numpy scan for meaning."""
from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from engine.errors import SearchUnavailable
from engine.indexing.model import (ApplyReport, Deletion, Hit, IndexedDocument, IndexedVersion, IndexFilter,
                                   Rejection)
from engine.indexing.ports import SearchIndex
from adapters.search import embedded_schema as schema
from adapters.search.fts_query import any_of
from adapters.search.query_terms import query_terms
from adapters.search.snippets import (MARK_END, MARK_START, is_marked, marked_to_html, plain_to_html,
                                      without_marks)
from adapters.search.vector_matrix import VectorMatrix
from adapters.search.vectors import cosine_score, unit_float32, vector_problem

SNIPPET_TOKENS = 24
VERSIONS_PAGE = 10_000
_IN_CHUNK = 500
_LOAD_CHUNK = 5_000
_TRANSIENT = ("SQLITE_BUSY", "SQLITE_LOCKED", "SQLITE_IOERR", "SQLITE_FULL", "SQLITE_CANTOPEN",
              "SQLITE_READONLY", "SQLITE_PROTOCOL", "SQLITE_NOMEM", "SQLITE_CORRUPT", "SQLITE_NOTADB")
_DOCUMENT_ERRORS = (sqlite3.IntegrityError, sqlite3.DataError, sqlite3.InterfaceError,
                    sqlite3.ProgrammingError, UnicodeError, ValueError, TypeError)
_TEXT_COLUMN = schema.WORD_COLUMNS.index("text")
_TITLE_COLUMN = schema.WORD_COLUMNS.index("title")
_HIT_COLUMNS = "d.id, d.key, d.resource_type, d.resource_id, d.version, d.patient, d.date_us, d.title"
_FILTER_COLUMNS = (("patient", "patients"), ("resource_type", "types"), ("source", "sources"),
                   ("institution", "institutions"))


def _filter_sql(filters: IndexFilter) -> tuple[str, list[object]]:
    """`filters` as SQL conditions on the documents table aliased `d` (empty string when none)."""
    clauses: list[str] = []
    params: list[object] = []
    for column, attribute in _FILTER_COLUMNS:
        values = getattr(filters, attribute)
        if values:
            clauses.append(f"d.{column} IN ({', '.join('?' * len(values))})")
            params.extend(values)
    if filters.exclude_types:
        clauses.append(f"d.resource_type NOT IN ({', '.join('?' * len(filters.exclude_types))})")
        params.extend(filters.exclude_types)
    if filters.since_us is not None:
        clauses.append("d.date_us >= ?")
        params.append(filters.since_us)
    if filters.until_us is not None:
        clauses.append("d.date_us < ?")
        params.append(filters.until_us)
    return " AND ".join(clauses), params


def _allowed_rows(filters: IndexFilter) -> tuple[str, list[object]]:
    """An `AND ...` restricting an FTS5 scan to the rows passing `filters` (empty string when none).

    The unary `+` keeps the row-id set out of FTS5's index (a lookup per id would re-run the query each
    time); SQLite builds the set once and checks each match against it before computing bm25().
    """
    where, params = _filter_sql(filters)
    if not where:
        return "", []
    return f"AND +rowid IN (SELECT d.id FROM documents d WHERE {where})", params


def _is_transient(error: sqlite3.Error) -> bool:
    return getattr(error, "sqlite_errorname", "").startswith(_TRANSIENT)


def _snippet(row: tuple) -> str:
    """The marked text fragment, else the marked title, else the title; HTML-safe."""
    text_fragment, title_fragment = row[8], row[9]
    if text_fragment and is_marked(text_fragment):
        return marked_to_html(text_fragment)
    if title_fragment and is_marked(title_fragment):
        return marked_to_html(title_fragment)
    return plain_to_html(row[7])


def _hit(row: tuple, score: float, snippet: str) -> Hit:
    _, key, resource_type, resource_id, version, patient, date_us, _ = row
    return Hit(key, score, resource_type, resource_id, version, patient, date_us, snippet)


class EmbeddedIndex(SearchIndex):
    """Search documents in a SQLite file of their own: FTS5 (BM25) for words, exact cosine for meaning.

    One connection guarded by one lock serves the API threads and the indexing thread. Vectors are also
    held in memory (loaded on the first meaning search, then kept current by `apply`); a change written
    by another process is noticed through `PRAGMA data_version` and reloads them.
    """

    name = "embedded"

    def __init__(self, path: Path, dimensions: int):
        self.path = Path(path)
        self.dimensions = dimensions
        self._lock = threading.Lock()
        self._vectors: VectorMatrix | None = None
        self._vectors_data_version: int | None = None
        with self._available():
            self._connection = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None,
                                               timeout=10.0)
            if self._connection.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                self._switch_to_wal()
            self._connection.execute("PRAGMA synchronous = NORMAL")
        try:
            self.ensure()
        except BaseException:
            self._connection.close()
            raise

    # ------------------------------------------------------------------------------------------ plumbing

    def _switch_to_wal(self) -> None:
        """Turn on write-ahead logging; SQLite refuses at once, without waiting, while another process (a
        sibling server process opening the same new index) holds a lock, so try again for a while."""
        for attempt in range(100):
            try:
                self._connection.execute("PRAGMA journal_mode = WAL")
                return
            except sqlite3.OperationalError as exc:
                if not _is_transient(exc) or attempt == 99:
                    raise
                time.sleep(0.1)

    @contextmanager
    def _available(self) -> Iterator[None]:
        try:
            yield
        except sqlite3.Error as exc:
            if _is_transient(exc):
                reason = exc.__class__.__name__
                raise SearchUnavailable(f"The embedded search index is unavailable ({reason})") from exc
            raise

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        connection = self._connection
        connection.execute("BEGIN IMMEDIATE")
        try:
            yield connection
        except BaseException:
            if connection.in_transaction:
                connection.execute("ROLLBACK")
            raise
        connection.execute("COMMIT")

    # -------------------------------------------------------------------------------------------- writes

    def ensure(self) -> None:
        """Create the tables if missing; refuse a file made for vectors of another length."""
        with self._lock, self._available(), self._transaction() as connection:
            schema.create(connection)
            held = schema.dimensions_held(connection)
            if held is not None and held != self.dimensions:
                raise ValueError(f"search index {self.path} holds {held}-dimension vectors, the embedder "
                                 f"makes {self.dimensions}: remove the file and reindex")
            schema.record_dimensions(connection, self.dimensions)

    def apply(self, documents: Sequence[IndexedDocument], deletions: Sequence[Deletion]) -> ApplyReport:
        """Index and delete in one transaction; a version not newer than the one held is stale."""
        report = ApplyReport()
        changes: list[tuple[int, np.ndarray | None]] = []  # row id -> new vector (None: removed)
        with self._lock, self._available():
            with self._transaction() as connection:
                for item in documents:
                    self._index_one(connection, item, report, changes)
                for deletion in deletions:
                    self._delete_one(connection, deletion, report, changes)
            if self._vectors is not None:
                for row_id, vector in changes:
                    if vector is None:
                        self._vectors.remove(row_id)
                    else:
                        self._vectors.put(row_id, vector)
        return report

    @staticmethod
    def _held(connection: sqlite3.Connection, key: str) -> tuple[tuple[int, int] | None, int | None]:
        """The live document's (row id, version) and the tombstone's version for `key`."""
        row = connection.execute("SELECT id, version FROM documents WHERE key = ?", (key,)).fetchone()
        tombstone = connection.execute("SELECT version FROM tombstones WHERE key = ?", (key,)).fetchone()
        return row, tombstone[0] if tombstone else None

    def _index_one(self, connection: sqlite3.Connection, item: IndexedDocument, report: ApplyReport,
                   changes: list[tuple[int, np.ndarray | None]]) -> None:
        document = item.document
        problem = vector_problem(item.vector, self.dimensions)
        if problem:
            report.rejected.append(Rejection(document.key, document.version, problem))
            return
        row, tombstone = self._held(connection, document.key)
        held = [version for version in (row[1] if row else None, tombstone) if version is not None]
        if held and document.version <= max(held):
            report.stale += 1
            return
        vector = unit_float32(item.vector)
        connection.execute("SAVEPOINT document")
        try:
            values = (document.key, document.resource_type, document.resource_id, document.version,
                      document.patient, document.source, document.institution, document.status,
                      document.date_us, "\n".join(document.codes), without_marks(document.title),
                      without_marks("\n".join(document.displays)), without_marks(document.text),
                      document.embed_text, vector.tobytes())
            if row:
                connection.execute(
                    "UPDATE documents SET key = ?, resource_type = ?, resource_id = ?, version = ?, "
                    "patient = ?, source = ?, institution = ?, status = ?, date_us = ?, codes = ?, "
                    "title = ?, displays = ?, text = ?, embed_text = ?, embedding = ? WHERE id = ?",
                    (*values, row[0]))
                row_id = row[0]
            else:
                row_id = connection.execute(
                    "INSERT INTO documents (key, resource_type, resource_id, version, patient, source, "
                    "institution, status, date_us, codes, title, displays, text, embed_text, embedding) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", values).lastrowid
            if tombstone is not None:
                connection.execute("DELETE FROM tombstones WHERE key = ?", (document.key,))
        except _DOCUMENT_ERRORS as exc:
            connection.execute("ROLLBACK TO document")
            connection.execute("RELEASE document")
            report.rejected.append(Rejection(document.key, document.version,
                                             f"the index refused the document ({exc.__class__.__name__})"))
            return
        connection.execute("RELEASE document")
        changes.append((row_id, vector))
        report.indexed += 1

    def _delete_one(self, connection: sqlite3.Connection, deletion: Deletion, report: ApplyReport,
                    changes: list[tuple[int, np.ndarray | None]]) -> None:
        row, tombstone = self._held(connection, deletion.key)
        newest = max((v for v in (row[1] if row else None, tombstone) if v is not None), default=None)
        if newest is not None and deletion.version < newest:
            report.stale += 1
            return
        connection.execute(
            "INSERT INTO tombstones (key, resource_type, version) VALUES (?, ?, ?) "
            "ON CONFLICT (key) DO UPDATE SET version = excluded.version",
            (deletion.key, deletion.resource_type, deletion.version))
        if row:
            connection.execute("DELETE FROM documents WHERE id = ?", (row[0],))
            changes.append((row[0], None))
            report.deleted += 1

    def clear(self, resource_type: str | None = None) -> None:
        """Remove every document and its tombstone (of one type when given)."""
        with self._lock, self._available():
            with self._transaction() as connection:
                if resource_type is None:
                    schema.drop_documents(connection)
                    schema.create(connection)
                else:
                    connection.execute("DELETE FROM documents WHERE resource_type = ?", (resource_type,))
                    connection.execute("DELETE FROM tombstones WHERE resource_type = ?", (resource_type,))
            self._vectors = None

    def refresh(self) -> None:
        """Nothing to do: every committed apply is searchable at once."""

    # ------------------------------------------------------------------------------------------- reading

    def words(self, text: str, filters: IndexFilter, size: int, *, snippets: bool = True) -> list[Hit]:
        """BM25 over title, displays and text (any query word matches), best first, with snippets."""
        match = any_of(query_terms(text))
        if match is None or size <= 0:
            return []
        condition, params = _allowed_rows(filters)
        weights = ", ".join(str(weight) for weight in schema.WORD_WEIGHTS)
        with self._lock, self._available():
            ranked = self._connection.execute(
                f"SELECT rowid, bm25(documents_fts, {weights}) AS rank FROM documents_fts "
                f"WHERE documents_fts MATCH ? {condition} ORDER BY rank, rowid LIMIT ?",
                (match, *params, size)).fetchall()
            details = self._details(match, [row_id for row_id, _ in ranked], snippets=snippets)
        return [_hit(details[row_id][:8], -rank, _snippet(details[row_id]))
                for row_id, rank in ranked if row_id in details]  # (one deleted meanwhile is left out)

    def highlight(self, text: str, keys: Sequence[str]) -> dict[str, str]:
        """Highlighted snippets of the documents `keys` that `text` matches."""
        match = any_of(query_terms(text))
        if match is None or not keys:
            return {}
        with self._lock, self._available():
            row_ids = []
            for start in range(0, len(keys), _IN_CHUNK):
                chunk = list(keys[start:start + _IN_CHUNK])
                row_ids += [row[0] for row in self._connection.execute(
                    f"SELECT id FROM documents WHERE key IN ({', '.join('?' * len(chunk))})", chunk)]
            details = self._details(match, row_ids, snippets=True)
        return {row[1]: _snippet(row) for row in details.values()}

    def _details(self, match: str, row_ids: list[int], *, snippets: bool) -> dict[int, tuple]:
        """Hit columns (and, with `snippets`, the text and title fragments) of matching rows by row id."""
        fragments = (f"snippet(documents_fts, {_TEXT_COLUMN}, ?, ?, '…', {SNIPPET_TOKENS}), "
                     f"highlight(documents_fts, {_TITLE_COLUMN}, ?, ?)" if snippets else "NULL, NULL")
        marks = (MARK_START, MARK_END, MARK_START, MARK_END) if snippets else ()
        details: dict[int, tuple] = {}
        for start in range(0, len(row_ids), _IN_CHUNK):
            chunk = row_ids[start:start + _IN_CHUNK]
            rows = self._connection.execute(
                f"SELECT {_HIT_COLUMNS}, {fragments} FROM documents_fts "
                "JOIN documents d ON d.id = documents_fts.rowid "
                f"WHERE documents_fts MATCH ? AND documents_fts.rowid IN ({', '.join('?' * len(chunk))})",
                (*marks, match, *chunk)).fetchall()
            details.update((row[0], row) for row in rows)
        return details

    def count_words(self, text: str, filters: IndexFilter) -> int:
        """How many documents hold any query word under `filters`."""
        match = any_of(query_terms(text))
        if match is None:
            return 0
        condition, params = _allowed_rows(filters)
        with self._lock, self._available():
            return self._connection.execute(
                f"SELECT count(*) FROM documents_fts WHERE documents_fts MATCH ? {condition}",
                (match, *params)).fetchone()[0]

    def count(self, filters: IndexFilter) -> int:
        """How many documents pass `filters`."""
        where, params = _filter_sql(filters)
        with self._lock, self._available():
            return self._connection.execute(f"SELECT count(*) FROM documents d WHERE {where or '1'}",
                                            params).fetchone()[0]

    def _loaded_vectors(self) -> VectorMatrix:
        """The in-memory vectors, (re)loaded when missing or when another connection changed the file."""
        data_version = self._connection.execute("PRAGMA data_version").fetchone()[0]
        if self._vectors is None or data_version != self._vectors_data_version:
            count = self._connection.execute("SELECT count(*) FROM documents").fetchone()[0]
            vectors = VectorMatrix(self.dimensions, capacity=max(1024, int(count * 1.25)))
            cursor = self._connection.execute("SELECT id, embedding FROM documents")
            while rows := cursor.fetchmany(_LOAD_CHUNK):
                ids = np.fromiter((row[0] for row in rows), dtype=np.int64, count=len(rows))
                matrix = np.frombuffer(b"".join(row[1] for row in rows), dtype=np.float32)
                vectors.extend(ids, matrix.reshape(len(rows), self.dimensions))
            self._vectors = vectors
            self._vectors_data_version = data_version
        return self._vectors

    def meaning(self, vector: np.ndarray, filters: IndexFilter, size: int) -> list[Hit]:
        """The `size` documents nearest to `vector` by cosine, among those passing `filters` (exact scan)."""
        problem = vector_problem(vector, self.dimensions)
        if problem:
            raise ValueError(f"query vector: {problem}")
        if size <= 0:
            return []
        query = unit_float32(vector)
        where, params = _filter_sql(filters)
        with self._lock, self._available():
            vectors = self._loaded_vectors()
            among = None
            if where:
                rows = self._connection.execute(f"SELECT d.id FROM documents d WHERE {where}",
                                                params).fetchall()
                among = np.fromiter((row[0] for row in rows), dtype=np.int64, count=len(rows))
            nearest = vectors.nearest(query, size, among)
            details = {}
            for start in range(0, len(nearest), _IN_CHUNK):
                chunk = [row_id for row_id, _ in nearest[start:start + _IN_CHUNK]]
                rows = self._connection.execute(
                    f"SELECT {_HIT_COLUMNS} FROM documents d WHERE d.id IN ({', '.join('?' * len(chunk))})",
                    chunk).fetchall()
                details.update((row[0], row) for row in rows)
        return [_hit(details[row_id], cosine_score(cosine), plain_to_html(details[row_id][7]))
                for row_id, cosine in nearest if row_id in details]

    def versions(self, resource_type: str | None = None) -> Iterator[IndexedVersion]:
        """Every live document's key and version, in key order, read a page at a time."""
        after = ""
        condition = "AND resource_type = ?" if resource_type else ""
        while True:
            params: tuple = (after, resource_type, VERSIONS_PAGE) if resource_type else (after, VERSIONS_PAGE)
            with self._lock, self._available():
                rows = self._connection.execute(
                    f"SELECT key, version FROM documents WHERE key > ? {condition} ORDER BY key LIMIT ?",
                    params).fetchall()
            yield from (IndexedVersion(key, version) for key, version in rows)
            if len(rows) < VERSIONS_PAGE:
                return
            after = rows[-1][0]

    def ping(self) -> bool:
        """True when the file answers a query."""
        try:
            with self._lock:
                self._connection.execute("SELECT 1 FROM documents LIMIT 1").fetchall()
            return True
        except sqlite3.Error:
            return False

    def close(self) -> None:
        """Close the connection and drop the in-memory vectors."""
        with self._lock:
            self._vectors = None
            self._connection.close()
