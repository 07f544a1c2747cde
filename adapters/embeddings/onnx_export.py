"""Converts a local sentence-transformers model into ONNX graphs (float32 and int8), once, into a cache.

The conversion reads only local files: the model is exported from its weights, checked against
sentence-transformers on a few probe texts, then quantized; nothing is downloaded.
"""
from __future__ import annotations

import atexit
import contextlib
import hashlib
import json
import logging
import shutil
import sys
import tempfile
import time
import uuid
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from adapters.embeddings.models import model_fingerprint
from engine.errors import TesseraError

log = logging.getLogger(__name__)

RECIPE = "st-full-graph/opset17/int8-per-channel-matmul/v1"  # part of the cache key: change it to re-convert
FP32_FILE = "model-fp32.onnx"
INT8_FILE = "model-int8.onnx"
TOKENIZER_FILE = "tokenizer.json"
META_FILE = "meta.json"
PARITY_TOLERANCE = 1e-4  # largest difference from sentence-transformers allowed for the float32 graph
PROBES = (
    "heart attack", "myocardial infarction", "fractured ankle", "Hypertension",
    "Diabetes mellitus type 2 (disorder)", "Body mass index (BMI) [Ratio]", "Influenza, seasonal, injectable",
    "Hemoglobin A1c/Hemoglobin.total in Blood", "Patient reports chest pain radiating to the left arm.",
    "Amoxicillin 250 MG / Clavulanate 125 MG Oral Tablet", "  leading and trailing spaces  ", "",
    "Überweisung: Kardiologie", "Allergy to peanuts; anaphylaxis after exposure in 2019",
    " ".join(["Chronic obstructive pulmonary disease with acute exacerbation"] * 60),  # beyond 256 tokens
)


class ModelConversionFailed(TesseraError):
    """The model could not be turned into an ONNX graph that matches sentence-transformers."""

    issue_code = "exception"
    status = 500


@dataclass(frozen=True)
class ConvertedModel:
    """A converted model's folder: both graphs, the tokenizer and what the conversion measured."""

    folder: Path
    dimensions: int
    int8_mean_cosine: float
    int8_min_cosine: float

    @property
    def fp32_file(self) -> Path:
        """The float32 graph (same vectors as sentence-transformers)."""
        return self.folder / FP32_FILE

    @property
    def int8_file(self) -> Path:
        """The graph with int8 weights (per output channel) on every matrix multiplication."""
        return self.folder / INT8_FILE

    @property
    def tokenizer_file(self) -> Path:
        """The model's tokenizer with its truncation length and without padding."""
        return self.folder / TOKENIZER_FILE


def default_cache_dir() -> Path | None:
    """The virtual environment's own cache folder (shared by every process using it); None outside one."""
    if sys.prefix == sys.base_prefix:
        return None
    return Path(sys.prefix) / "share" / "tessera" / "models"


def private_cache_dir() -> Path:
    """A fresh temporary folder for processes that have no shared cache (removed when the process ends)."""
    folder = Path(tempfile.mkdtemp(prefix="tessera-models-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    return folder


def converted_model(model_dir: Path, cache_dir: Path) -> ConvertedModel:
    """The cached conversion of `model_dir`, converting first if needed (processes wait for each other)."""
    folder = cache_dir / f"{_slug(model_dir)}-{model_fingerprint(model_dir)}-{_recipe_key()}"
    found = _read(folder)
    if found is not None:
        return found
    cache_dir.mkdir(parents=True, exist_ok=True)
    with _exclusive(cache_dir / ".convert.lock"):
        found = _read(folder)
        if found is not None:
            return found
        staging = cache_dir / f".staging-{uuid.uuid4().hex}"
        try:
            _convert(model_dir, staging)
            shutil.rmtree(folder, ignore_errors=True)  # an incomplete folder left by hand
            staging.replace(folder)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    converted = _read(folder)
    if converted is None:
        raise ModelConversionFailed(f"converted model missing from {folder}")
    return converted


def _read(folder: Path) -> ConvertedModel | None:
    try:
        meta = json.loads((folder / META_FILE).read_text())
    except (OSError, ValueError):
        return None
    return ConvertedModel(folder, int(meta["dimensions"]), float(meta["int8_mean_cosine"]),
                          float(meta["int8_min_cosine"]))


def _convert(model_dir: Path, out: Path) -> None:
    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from sentence_transformers import SentenceTransformer
    from tokenizers import Tokenizer

    from adapters.embeddings.onnx_runner import OnnxSentenceEncoder

    started = time.perf_counter()
    log.info("converting embedding model %s to ONNX (one time, into %s)", model_dir, out.parent)
    out.mkdir(parents=True)
    model = SentenceTransformer(str(model_dir), device="cpu", local_files_only=True).eval()
    backend_tokenizer = getattr(getattr(model, "tokenizer", None), "backend_tokenizer", None)
    if backend_tokenizer is None or model.max_seq_length is None:
        raise ModelConversionFailed(f"{model_dir}: no fast tokenizer with a maximum length; "
                                    "use backend 'torch'")
    tokenizer = Tokenizer.from_str(backend_tokenizer.to_str())
    tokenizer.enable_truncation(model.max_seq_length)
    tokenizer.no_padding()
    tokenizer.save(str(out / TOKENIZER_FILE))

    features = model.preprocess(["a short text", "a somewhat longer text than the first"])
    names = [n for n in ("input_ids", "attention_mask", "token_type_ids")
             if isinstance(features.get(n), torch.Tensor)]
    graph = _sentence_graph(model, names)
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        torch.onnx.export(graph, tuple(features[n] for n in names), str(out / FP32_FILE), input_names=names,
                          output_names=["sentence_embedding"], opset_version=17, dynamo=False,
                          dynamic_axes={**{n: {0: "batch", 1: "tokens"} for n in names},
                                        "sentence_embedding": {0: "batch"}})
    reference = model.encode(list(PROBES), normalize_embeddings=True, convert_to_numpy=True,
                             show_progress_bar=False).astype(np.float32)
    fp32 = OnnxSentenceEncoder(out / FP32_FILE, out / TOKENIZER_FILE, threads=1).encode(PROBES)
    difference = float(np.abs(fp32 - reference).max())
    if difference > PARITY_TOLERANCE:
        raise ModelConversionFailed(f"{model_dir}: the ONNX graph differs from sentence-transformers by "
                                    f"{difference:.2g}; use backend 'torch' for this model")

    with _quiet_root_logger():
        quantize_dynamic(out / FP32_FILE, out / INT8_FILE, op_types_to_quantize=["MatMul"], per_channel=True,
                         weight_type=QuantType.QInt8)
    int8 = OnnxSentenceEncoder(out / INT8_FILE, out / TOKENIZER_FILE, threads=1).encode(PROBES)
    cosines = (int8 * reference).sum(axis=1)
    meta = {"source": str(model_dir), "recipe": RECIPE, "dimensions": int(reference.shape[1]),
            "fp32_max_difference": difference, "int8_mean_cosine": float(cosines.mean()),
            "int8_min_cosine": float(cosines.min()), "seconds": round(time.perf_counter() - started, 1)}
    (out / META_FILE).write_text(json.dumps(meta, indent=2))
    log.info("converted embedding model %s in %.1f s (int8 mean cosine to float32: %.4f)",
             model_dir, meta["seconds"], meta["int8_mean_cosine"])


def _sentence_graph(model, names: list[str]):
    import torch

    class SentenceGraph(torch.nn.Module):
        """Positional tensors in, the model's `sentence_embedding` out: the shape tracing needs."""

        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, *tensors: torch.Tensor) -> torch.Tensor:
            return self.model(dict(zip(names, tensors)))["sentence_embedding"]

    return SentenceGraph()


def _slug(model_dir: Path) -> str:
    name = f"{model_dir.parent.name}-{model_dir.name}" if model_dir.name == "model" else model_dir.name
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name)[:48] or "model"


def _recipe_key() -> str:
    return hashlib.sha256(RECIPE.encode()).hexdigest()[:8]


@contextlib.contextmanager
def _quiet_root_logger() -> Iterator[None]:
    """Drop the quantizer's per-tensor chatter, which it logs straight on the root logger."""
    root = logging.getLogger()

    def drop(record: logging.LogRecord) -> bool:
        return "onnxruntime" not in record.pathname

    root.addFilter(drop)
    try:
        yield
    finally:
        root.removeFilter(drop)


@contextlib.contextmanager
def _exclusive(lock_file: Path) -> Iterator[None]:
    try:
        import fcntl
    except ImportError:  # no advisory locks here: concurrent conversions only waste work
        yield
        return
    with open(lock_file, "a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
