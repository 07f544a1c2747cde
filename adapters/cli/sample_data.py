"""The small sample data shipped inside the package (Synthea bundles) and Synthea-shaped copies of it."""
from __future__ import annotations

import gzip
import re
import uuid
from importlib import resources as package_files
from typing import Any

import orjson

_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")


def sample_bundles() -> list[dict[str, Any]]:
    """The bundled Synthea transaction Bundles."""
    folder = package_files.files("adapters.cli").joinpath("sample_data")
    bundles = []
    for item in sorted(folder.iterdir(), key=lambda p: p.name):
        if item.name.endswith(".json.gz"):
            bundles.append(orjson.loads(gzip.decompress(item.read_bytes())))
    return bundles


def synthea_shaped(count: int, seed: int = 7) -> list[bytes]:
    """`count` distinct transaction Bundles (serialized) made from the samples with fresh ids and identifiers."""
    templates = [orjson.dumps(b).decode() for b in sample_bundles()]
    rng = uuid.UUID(int=seed)
    out = []
    for index in range(count):
        text = templates[index % len(templates)]
        mapping: dict[str, str] = {}

        def fresh(match: re.Match[str]) -> str:
            key = match.group(0)
            if key not in mapping:
                mapping[key] = str(uuid.uuid5(rng, f"{index}:{key}"))
            return mapping[key]

        out.append(_UUID.sub(fresh, text).encode())
    return out
