"""The real packaged all-MiniLM-L6-v2 model on each backend, loaded from local files only."""
from __future__ import annotations

import socket
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from adapters.embeddings.models import ModelNotInstalled, resolve_model_dir
from adapters.embeddings.onnx_export import converted_model
from adapters.embeddings.sentence_embedder import SentenceTransformerEmbedder

TEXTS = ["heart attack", "myocardial infarction", "fractured ankle", "Diabetes mellitus type 2 (disorder)",
         "Body mass index (BMI) [Ratio]", "Hemoglobin A1c/Hemoglobin.total in Blood", "",
         "Patient reports chest pain radiating to the left arm after climbing two flights of stairs.",
         "Amoxicillin 250 MG / Clavulanate 125 MG Oral Tablet", "Allergy to peanuts"]
BACKENDS = ["onnx-int8", "onnx", "torch"]


@pytest.fixture(scope="module")
def no_network():
    """Every socket connection attempt fails while the models load: nothing may be downloaded."""
    attempts: list[object] = []

    def refuse(*args, **kwargs):
        attempts.append(args)
        raise OSError("network access attempted during a model load")

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(socket.socket, "connect", refuse)
        patch.setattr(socket.socket, "connect_ex", refuse)
        patch.setattr(socket, "create_connection", refuse)
        yield attempts
    assert attempts == []


@pytest.fixture(scope="module")
def embedders(no_network) -> dict[str, SentenceTransformerEmbedder]:
    loaded = {backend: SentenceTransformerEmbedder(backend=backend) for backend in BACKENDS}
    for embedder in loaded.values():
        embedder.load()
    return loaded


@pytest.mark.parametrize("backend", BACKENDS)
def test_unit_length_float32_rows_of_384(embedders, backend):
    embedder = embedders[backend]
    vectors = embedder.embed(TEXTS)
    assert embedder.dimensions == 384
    assert vectors.shape == (len(TEXTS), 384) and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert embedder.embed([]).shape == (0, 384)


@pytest.mark.parametrize("backend", BACKENDS)
def test_meaning_heart_attack_is_nearer_myocardial_infarction_than_a_fractured_ankle(embedders, backend):
    attack, infarction, ankle = embedders[backend].embed(["heart attack", "myocardial infarction",
                                                           "fractured ankle"])
    assert attack @ infarction > attack @ ankle + 0.15


@pytest.mark.parametrize("backend", BACKENDS)
def test_the_same_text_gets_the_same_vector_alone_or_in_any_batch(embedders, backend):
    embedder = embedders[backend]
    batch = embedder.embed(TEXTS)
    singles = np.stack([embedder.embed([text])[0] for text in TEXTS])
    np.testing.assert_allclose(batch, singles, atol=1e-5)
    reordered = embedder.embed(list(reversed(TEXTS)) + ["heart attack"])
    np.testing.assert_allclose(reordered[::-1][1:], batch, atol=1e-5)
    np.testing.assert_array_equal(embedder.embed(["heart attack"]), embedder.embed(["heart attack"]))


def test_onnx_float32_matches_sentence_transformers_and_int8_stays_close(embedders):
    reference = embedders["torch"].embed(TEXTS)
    np.testing.assert_allclose(embedders["onnx"].embed(TEXTS), reference, atol=1e-4)
    cosines = (embedders["onnx-int8"].embed(TEXTS) * reference).sum(axis=1)
    assert cosines.mean() > 0.98 and cosines.min() > 0.95


def test_concurrent_callers_get_the_same_vectors(embedders):
    embedder = embedders["onnx-int8"]
    expected = embedder.embed(TEXTS)
    results: list[np.ndarray] = []

    def worker() -> None:
        results.append(embedder.embed(TEXTS))

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 4
    for result in results:
        np.testing.assert_array_equal(result, expected)


def test_encode_only_reports_texts_per_second(embedders):
    assert embedders["onnx-int8"].encode_only(TEXTS * 3) > 0


@pytest.mark.parametrize("name", ["all-MiniLM-L6-v2", "sentence-transformers/all-MiniLM-L6-v2"])
def test_packaged_model_names_resolve_to_the_packaged_folder(name):
    folder = resolve_model_dir(name)
    assert (folder / "model.safetensors").is_file()


def test_a_model_folder_path_is_accepted(embedders):
    folder = resolve_model_dir("all-MiniLM-L6-v2")
    by_path = SentenceTransformerEmbedder(str(folder), backend="onnx")
    np.testing.assert_array_equal(by_path.embed(TEXTS[:3]), embedders["onnx"].embed(TEXTS[:3]))


@pytest.mark.parametrize("name", ["sentence-transformers/all-mpnet-base-v2", "no-such-model",
                                  "/no/such/folder"])
def test_an_unknown_model_is_refused_clearly_without_downloading(no_network, name):
    with pytest.raises(ModelNotInstalled, match="not installed locally"):
        SentenceTransformerEmbedder(name)


def test_an_unknown_backend_is_refused():
    with pytest.raises(ValueError, match="onnx-int8"):
        SentenceTransformerEmbedder(backend="tensorflow")


def test_conversion_into_an_empty_cache_runs_once_and_offline(no_network, tmp_path: Path):
    model_dir = resolve_model_dir("all-MiniLM-L6-v2")
    first = converted_model(model_dir, tmp_path)
    assert first.dimensions == 384 and first.int8_mean_cosine > 0.98
    assert first.fp32_file.is_file() and first.int8_file.is_file() and first.tokenizer_file.is_file()
    started = time.perf_counter()
    again = converted_model(model_dir, tmp_path)
    assert again == first and time.perf_counter() - started < 1.0
    embedder = SentenceTransformerEmbedder(backend="onnx-int8", cache_dir=tmp_path)
    assert embedder.embed(["heart attack"]).shape == (1, 384)
    assert [p.name for p in tmp_path.iterdir() if not p.name.startswith(".")] == [first.folder.name]
