"""Checks on embedding vectors before they reach an index, shared so both indexes refuse alike."""
from __future__ import annotations

import numpy as np


def vector_problem(vector: np.ndarray, dimensions: int) -> str | None:
    """Why `vector` cannot be indexed as a `dimensions`-long cosine vector, or None when it can."""
    array = np.asarray(vector)
    if array.ndim != 1 or array.shape[0] != dimensions:
        return f"embedding has shape {tuple(array.shape)}, the index holds {dimensions}-dimension vectors"
    if not (np.issubdtype(array.dtype, np.floating) or np.issubdtype(array.dtype, np.integer)):
        return f"embedding has non-numeric type {array.dtype}"
    as_float32 = array.astype(np.float32)
    if not np.all(np.isfinite(as_float32)):
        return "embedding contains NaN or infinite values (as float32)"
    if not np.any(as_float32):
        return "embedding is all zeros (cosine similarity is undefined)"
    return None


def unit_float32(vector: np.ndarray) -> np.ndarray:
    """`vector` as float32 scaled to unit length (assumes `vector_problem` found nothing)."""
    array = np.asarray(vector, dtype=np.float32)
    return (array / np.linalg.norm(array.astype(np.float64))).astype(np.float32)


def cosine_score(cosine: float) -> float:
    """Elasticsearch's score for a cosine similarity, (1 + cos) / 2, so both indexes score alike."""
    return (1.0 + cosine) / 2.0
