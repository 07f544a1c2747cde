"""The small sample data shipped inside the package (Synthea bundles) and Synthea-shaped copies of it."""
from __future__ import annotations

import gzip
import random
import re
import uuid
from importlib import resources as package_files
from typing import Any

import orjson

from adapters.cli.synth_names import CITIES, FAMILY, GIVEN_F, GIVEN_M, STREETS

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
    """`count` distinct transaction Bundles (serialized) made from the samples with fresh ids, and each
    about a different person (name, birth date, address, telephone and identifiers drawn at random)."""
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

        bundle = orjson.loads(_UUID.sub(fresh, text))
        for entry in bundle.get("entry", []):
            if entry.get("resource", {}).get("resourceType") == "Patient":
                _another_person(entry["resource"], random.Random(f"{seed}:{index}"))  # noqa: S311 - test data
        out.append(orjson.dumps(bundle))
    return out


_IDENTIFIER_FORMATS = {"SS": "999-{:02d}-{:04d}", "DL": "S999{:02d}{:03d}", "PPN": "X{:04d}{:04d}X"}


def _another_person(patient: dict[str, Any], rng: random.Random) -> None:
    """Give a copied Patient its own demographics, so the copies are not one person seen many times."""
    given = rng.choice(GIVEN_F if patient.get("gender") == "female" else GIVEN_M)
    family = rng.choice(FAMILY)
    for name in patient.get("name", []):
        name["family"], name["given"] = family, [given]
    patient["birthDate"] = f"{rng.randint(1930, 2015)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
    city, zips = rng.choice(CITIES)
    for address in patient.get("address", []):
        address.update(line=[f"{rng.randint(1, 9999)} {rng.choice(STREETS)}"], city=city,
                       postalCode=rng.choice(zips))
    for telecom in patient.get("telecom", []):
        telecom["value"] = f"555-{rng.randint(100, 999)}-{rng.randint(1000, 9999)}"
    for identifier in patient.get("identifier", []):
        code = ((identifier.get("type") or {}).get("coding") or [{}])[0].get("code")
        if code in _IDENTIFIER_FORMATS:
            identifier["value"] = _IDENTIFIER_FORMATS[code].format(rng.randint(1, 99), rng.randint(1, 999))
