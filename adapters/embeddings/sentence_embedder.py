"""The embedder port over a local sentence-transformers model, on ONNX Runtime (int8, float32) or PyTorch."""
from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

import numpy as np

from adapters.embeddings.models import PACKAGED_MODEL, declared_dimensions, resolve_model_dir
from adapters.embeddings.onnx_export import (
    ConvertedModel,
    ModelConversionFailed,
    converted_model,
    default_cache_dir,
    private_cache_dir,
)
from engine.indexing.ports import Embedder

log = logging.getLogger(__name__)

BACKENDS = ("onnx-int8", "onnx", "torch")
DEFAULT_BACKEND = "onnx-int8"
INT8_MIN_MEAN_COSINE = 0.98  # below this agreement with float32 on the probe texts, int8 is refused


class _Encoder(Protocol):
    dimensions: int

    def encode(self, texts: Sequence[str]) -> np.ndarray: ...


class SentenceTransformerEmbedder(Embedder):
    """Unit-length float32 embeddings from a sentence-transformers model found on this machine.

    Backends: "onnx-int8" (int8 weights, about 3x PyTorch on CPU, cosine ~0.99 to float32), "onnx" (float32,
    the same vectors as sentence-transformers) and "torch" (sentence-transformers itself). The ONNX graphs are
    converted from the local weights on first use and kept in `cache_dir` (default: inside the virtual
    environment). The model loads on the first call. `batch_size` applies to "torch"; the ONNX backends run
    each text alone on `threads` threads (default: every CPU this process may use).
    """

    def __init__(self, model_name: str = PACKAGED_MODEL, *, backend: str = DEFAULT_BACKEND,
                 batch_size: int = 64, threads: int | None = None, cache_dir: Path | None = None):
        if backend not in BACKENDS:
            raise ValueError(f"unknown embedding backend {backend!r}; expected one of {', '.join(BACKENDS)}")
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        self.model_name = model_name
        self.backend = backend
        self.batch_size = batch_size
        self.threads = threads
        self.model_dir = resolve_model_dir(model_name)
        self.cache_dir = cache_dir
        self.load_seconds: float | None = None
        self._dimensions = declared_dimensions(self.model_dir)
        self._encoder: _Encoder | None = None
        self._lock = threading.Lock()

    @property
    def dimensions(self) -> int:  # type: ignore[override]
        """The vector length (from the model's configuration; loads the model only if it declares none)."""
        if self._dimensions is None:
            self._dimensions = self._loaded().dimensions
        return self._dimensions

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """One unit-length float32 row per text; a text's vector does not depend on the other texts."""
        texts = list(texts)
        encoder = self._loaded()
        if not texts:
            return np.empty((0, encoder.dimensions), dtype=np.float32)
        return encoder.encode(texts)

    def encode_only(self, texts: Sequence[str]) -> float:
        """Texts per second of the bare model encode on `texts` (loading excluded, nothing cached)."""
        texts = list(texts)
        encoder = self._loaded()
        started = time.perf_counter()
        encoder.encode(texts)
        return len(texts) / max(time.perf_counter() - started, 1e-9)

    def load(self) -> None:
        """Load the model now (otherwise the first embed does), converting it first if it never was."""
        self._loaded()

    def _loaded(self) -> _Encoder:
        encoder = self._encoder
        if encoder is not None:
            return encoder
        with self._lock:
            if self._encoder is None:
                started = time.perf_counter()
                encoder = self._open()
                if self._dimensions is not None and self._dimensions != encoder.dimensions:
                    raise ModelConversionFailed(f"{self.model_dir} declares {self._dimensions} dimensions "
                                                f"but produces {encoder.dimensions}")
                self._dimensions = encoder.dimensions
                self.load_seconds = time.perf_counter() - started
                self._encoder = encoder
            return self._encoder

    def _open(self) -> _Encoder:
        if self.backend == "torch":
            return _TorchEncoder(self.model_dir, self.batch_size, self.threads)
        from adapters.embeddings.onnx_runner import OnnxSentenceEncoder

        converted = self._converted()
        if self.backend == "onnx":
            graph = converted.fp32_file
        elif converted.int8_mean_cosine < INT8_MIN_MEAN_COSINE:
            raise ModelConversionFailed(
                f"{self.model_name}: int8 vectors agree with float32 only to cosine "
                f"{converted.int8_mean_cosine:.3f} on the probe texts; use backend 'onnx' or 'torch' for it")
        else:
            graph = converted.int8_file
        return OnnxSentenceEncoder(graph, converted.tokenizer_file, threads=self.threads or _available_cpus())

    def _converted(self) -> ConvertedModel:
        if self.cache_dir is not None:
            return converted_model(self.model_dir, self.cache_dir)
        shared = default_cache_dir()
        if shared is not None:
            try:
                return converted_model(self.model_dir, shared)
            except OSError as exc:  # e.g. a read-only environment: convert for this process only
                log.warning("cannot use the model cache %s (%s); converting into a temporary folder",
                            shared, exc)
        return converted_model(self.model_dir, private_cache_dir())


def _available_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


class _TorchEncoder:
    """sentence-transformers on PyTorch (CPU), one encode at a time (its tokenizer is not thread-safe)."""

    def __init__(self, model_dir: Path, batch_size: int, threads: int | None):
        import torch
        from sentence_transformers import SentenceTransformer

        if threads:
            torch.set_num_threads(threads)  # process-wide: PyTorch has no per-model setting
        self._model = SentenceTransformer(str(model_dir), device="cpu", local_files_only=True)
        self._model.eval()
        self._batch_size = batch_size
        self._lock = threading.Lock()
        self.dimensions = int(self.encode(["probe"]).shape[1])

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Unit-length float32 rows, one per text."""
        with self._lock:
            vectors = self._model.encode(list(texts), batch_size=self._batch_size, convert_to_numpy=True,
                                         normalize_embeddings=True, show_progress_bar=False)
        return np.asarray(vectors, dtype=np.float32)
