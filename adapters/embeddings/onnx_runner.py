"""Runs an exported sentence-embedding graph with ONNX Runtime, one text per run."""
from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import onnxruntime as ort
from tokenizers import Tokenizer


class OnnxSentenceEncoder:
    """Tokenizes and embeds texts; each text runs alone, so its vector never depends on the rest of the batch.

    Running texts alone matters for the int8 graph: its activations are quantized with ranges measured on
    the whole input tensor, which would otherwise mix neighbours (and padding) into every vector.
    """

    def __init__(self, model_file: Path, tokenizer_file: Path, *, threads: int):
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1  # parallelism comes from running texts side by side
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        self._session = ort.InferenceSession(str(model_file), options, providers=["CPUExecutionProvider"])
        self._inputs = [i.name for i in self._session.get_inputs()]
        self._tokenizer = Tokenizer.from_file(str(tokenizer_file))
        self.dimensions = int(self._session.get_outputs()[0].shape[-1])
        self.threads = max(1, threads)
        self._pool: ThreadPoolExecutor | None = None
        self._pool_pid = 0
        self._pool_lock = threading.Lock()

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Unit-length float32 rows, one per text."""
        if not texts:
            return np.empty((0, self.dimensions), dtype=np.float32)
        if self.threads == 1 or len(texts) == 1:
            rows = [self._one(text) for text in texts]
        else:
            rows = list(self._executor().map(self._one, texts))
        vectors = np.stack(rows).astype(np.float32, copy=False)
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return vectors / np.maximum(norms, np.float32(1e-12))

    def close(self) -> None:
        """Stop the worker threads (the session is freed with the object)."""
        with self._pool_lock:
            if self._pool is not None:
                self._pool.shutdown(wait=True)
                self._pool = None

    def _one(self, text: str) -> np.ndarray:
        encoding = self._tokenizer.encode(text)
        ids = np.asarray([encoding.ids], dtype=np.int64)
        feed = {"input_ids": ids, "attention_mask": np.ones_like(ids),
                "token_type_ids": np.asarray([encoding.type_ids], dtype=np.int64)}
        return self._session.run(None, {name: feed[name] for name in self._inputs})[0][0]

    def _executor(self) -> ThreadPoolExecutor:
        with self._pool_lock:
            if self._pool is None or self._pool_pid != os.getpid():  # a forked child has none of the threads
                self._pool = ThreadPoolExecutor(self.threads, thread_name_prefix="embedder")
                self._pool_pid = os.getpid()
            return self._pool
