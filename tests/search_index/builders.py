"""Search documents and vectors for the search-index contract tests."""
from __future__ import annotations

import numpy as np

from engine.indexing.model import IndexedDocument, SearchDocument

DIMENSIONS = 8
DAY_US = 86_400 * 1_000_000
JAN_2024_US = 1_704_067_200 * 1_000_000  # 2024-01-01T00:00:00Z


def axis(number: int, *, lean: int | None = None, amount: float = 0.3) -> np.ndarray:
    """A unit vector along `number`, optionally leaning towards axis `lean` (so nearness is unambiguous)."""
    vector = np.zeros(DIMENSIONS, dtype=np.float32)
    vector[number] = 1.0
    if lean is not None:
        vector[lean] = amount
    return vector / np.linalg.norm(vector)


def indexed(key: str, version: int = 1, *, vector: np.ndarray | None = None, title: str | None = None,
            text: str = "", patient: str | None = "Patient/p1", source: str | None = "urn:source:lab",
            institution: str | None = "urn:inst:north", date_us: int | None = JAN_2024_US,
            displays: tuple[str, ...] = ()) -> IndexedDocument:
    """A document for `Type/id` with sensible defaults for everything a test does not care about."""
    resource_type, resource_id = key.split("/", 1)
    title = title or f"{resource_type}: {resource_id}"
    document = SearchDocument(resource_type, resource_id, version, patient, source, institution, date_us,
                              "final", ("http://loinc.org|1234-5",), displays, title, text, title)
    return IndexedDocument(document, axis(0) if vector is None else vector)
