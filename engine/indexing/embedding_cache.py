"""An embedder that remembers vectors by text, so the cost of embedding scales with distinct texts."""
from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from engine.indexing.ports import Embedder


@dataclass(frozen=True)
class CacheStats:
    """How a caching embedder has done so far: texts answered from memory, texts embedded, texts kept."""

    hits: int
    misses: int
    size: int
    capacity: int


class CachingEmbedder(Embedder):
    """Embeds only texts it has not seen (nor seen earlier in the same call); keeps the most recent ones."""

    def __init__(self, inner: Embedder, capacity: int = 50_000):
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self.inner = inner
        self.capacity = capacity
        self._vectors: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()
        self._hits = 0
        self._misses = 0

    @property
    def model_name(self) -> str:  # type: ignore[override]
        """The wrapped embedder's model."""
        return self.inner.model_name

    @property
    def dimensions(self) -> int:  # type: ignore[override]
        """The wrapped embedder's vector length."""
        return self.inner.dimensions

    @property
    def hits(self) -> int:
        """Texts answered without embedding (remembered, or repeated within a call)."""
        return self._hits

    @property
    def misses(self) -> int:
        """Texts passed on to the wrapped embedder."""
        return self._misses

    def stats(self) -> CacheStats:
        """A consistent snapshot of the counters."""
        with self._lock:
            return CacheStats(self._hits, self._misses, len(self._vectors), self.capacity)

    def clear(self) -> None:
        """Forget every vector (the counters stay)."""
        with self._lock:
            self._vectors.clear()

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """One row per text; only texts not remembered reach the wrapped embedder, each once."""
        if not texts:
            return np.empty((0, self.dimensions), dtype=np.float32)
        found: dict[str, np.ndarray] = {}
        missing: dict[str, None] = {}  # insertion-ordered set
        with self._lock:
            for text in texts:
                if text in found or text in missing:
                    continue
                vector = self._vectors.get(text)
                if vector is None:
                    missing[text] = None
                else:
                    self._vectors.move_to_end(text)
                    found[text] = vector
        if missing:
            fresh = list(missing)
            rows = np.asarray(self.inner.embed(fresh), dtype=np.float32)
            if rows.shape != (len(fresh), self.dimensions):
                raise ValueError(f"embedder returned shape {rows.shape} for {len(fresh)} texts")
            with self._lock:
                for text, row in zip(fresh, rows):
                    vector = row.copy()
                    vector.flags.writeable = False
                    found[text] = vector
                    self._vectors[text] = vector
                    self._vectors.move_to_end(text)
                while len(self._vectors) > self.capacity:
                    self._vectors.popitem(last=False)
        with self._lock:
            self._misses += len(missing)
            self._hits += len(texts) - len(missing)
        return np.stack([found[text] for text in texts])
