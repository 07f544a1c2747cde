"""The embedded search index's SQLite schema: documents, tombstones, an FTS5 table over the texts."""
from __future__ import annotations

import sqlite3

from adapters.search.word_weights import WORD_FIELD_WEIGHTS

TOKENIZER = "unicode61 remove_diacritics 0"  # lower-cases, splits like Elasticsearch's `standard` analyzer
WORD_COLUMNS = tuple(WORD_FIELD_WEIGHTS)  # FTS5 columns, in this order
WORD_WEIGHTS = tuple(WORD_FIELD_WEIGHTS.values())  # their bm25() weights

_CREATE = f"""
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS documents (
    id INTEGER PRIMARY KEY,
    key TEXT NOT NULL UNIQUE,
    resource_type TEXT NOT NULL,
    resource_id TEXT NOT NULL,
    version INTEGER NOT NULL,
    patient TEXT,
    source TEXT,
    institution TEXT,
    status TEXT,
    date_us INTEGER,
    codes TEXT NOT NULL,
    title TEXT NOT NULL,
    displays TEXT NOT NULL,
    text TEXT NOT NULL,
    embed_text TEXT NOT NULL,
    embedding BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS documents_patient ON documents (patient);
CREATE INDEX IF NOT EXISTS documents_type_date ON documents (resource_type, date_us);
CREATE INDEX IF NOT EXISTS documents_date ON documents (date_us);
CREATE INDEX IF NOT EXISTS documents_source ON documents (source);
CREATE INDEX IF NOT EXISTS documents_institution ON documents (institution);
CREATE TABLE IF NOT EXISTS tombstones (
    key TEXT PRIMARY KEY,
    resource_type TEXT NOT NULL,
    version INTEGER NOT NULL
) WITHOUT ROWID;
CREATE VIRTUAL TABLE IF NOT EXISTS documents_fts USING fts5(
    {", ".join(WORD_COLUMNS)}, content='documents', content_rowid='id', tokenize='{TOKENIZER}'
);
CREATE TRIGGER IF NOT EXISTS documents_fts_insert AFTER INSERT ON documents BEGIN
    INSERT INTO documents_fts (rowid, title, displays, text)
    VALUES (new.id, new.title, new.displays, new.text);
END;
CREATE TRIGGER IF NOT EXISTS documents_fts_delete AFTER DELETE ON documents BEGIN
    INSERT INTO documents_fts (documents_fts, rowid, title, displays, text)
    VALUES ('delete', old.id, old.title, old.displays, old.text);
END;
CREATE TRIGGER IF NOT EXISTS documents_fts_update AFTER UPDATE OF title, displays, text ON documents BEGIN
    INSERT INTO documents_fts (documents_fts, rowid, title, displays, text)
    VALUES ('delete', old.id, old.title, old.displays, old.text);
    INSERT INTO documents_fts (rowid, title, displays, text)
    VALUES (new.id, new.title, new.displays, new.text);
END;
"""

_DROP = """
DROP TRIGGER IF EXISTS documents_fts_insert;
DROP TRIGGER IF EXISTS documents_fts_delete;
DROP TRIGGER IF EXISTS documents_fts_update;
DROP TABLE IF EXISTS documents_fts;
DROP TABLE IF EXISTS documents;
DROP TABLE IF EXISTS tombstones;
"""


def _statements(script: str) -> list[str]:
    """The statements of `script` (trigger bodies kept whole), for running inside an open transaction."""
    statements, current = [], ""
    for line in script.strip().splitlines():
        current += line + "\n"
        if sqlite3.complete_statement(current):
            statements.append(current)
            current = ""
    return statements


def create(connection: sqlite3.Connection) -> None:
    """Create every table, index and trigger that is missing (inside the caller's transaction)."""
    for statement in _statements(_CREATE):
        connection.execute(statement)


def drop_documents(connection: sqlite3.Connection) -> None:
    """Drop the documents, tombstones and FTS tables (inside the caller's transaction); `meta` stays."""
    for statement in _statements(_DROP):
        connection.execute(statement)


def dimensions_held(connection: sqlite3.Connection) -> int | None:
    """The vector length this file was created for, or None when it is new."""
    row = connection.execute("SELECT value FROM meta WHERE name = 'dimensions'").fetchone()
    return int(row[0]) if row else None


def record_dimensions(connection: sqlite3.Connection, dimensions: int) -> None:
    """Remember the vector length this file holds."""
    connection.execute("INSERT OR IGNORE INTO meta (name, value) VALUES ('dimensions', ?)",
                       (str(dimensions),))
