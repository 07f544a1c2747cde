"""The official HL7 FHIR R4 examples PUT one by one (transaction Bundles POSTed) on the real server."""
from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import shared_data
from tests.e2e.conftest import FHIR_JSON, ServerURL, running_server

MIN_ACCEPTED = 0.97


@dataclass
class Example:
    path: Path
    resource: dict[str, Any]
    status: int = 0
    answer: Any = None

    @property
    def url(self) -> str:
        return f"{self.resource['resourceType']}/{self.resource['id']}"

    @property
    def accepted(self) -> bool:
        return self.status in (200, 201)


def example_files() -> list[Path]:
    return sorted(shared_data("fhir-r4", "hl7-r4-examples").glob("*.json"))


@pytest.fixture(scope="module")
def examples_server(sqlite_factory: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerURL]:
    """A real server on SQLite that accepts references to resources it does not hold."""
    folder = tmp_path_factory.mktemp("e2e-examples")
    database_url = sqlite_factory.create(folder)
    with running_server(database_url, folder, "sqlite", TESSERA_REFERENTIAL_INTEGRITY="false") as url:
        yield url


@pytest.fixture(scope="module")
def fhir(examples_server: ServerURL) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=examples_server + "/", headers=examples_server.headers, timeout=120) as client:
        yield client


def _answer(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return response.text


@pytest.fixture(scope="module")
def stored(fhir: httpx.Client) -> list[Example]:
    """Every non-Bundle example PUT to /fhir/{Type}/{id}, as named by its file `Type-id.json`."""
    examples = []
    for path in example_files():
        resource = json.loads(path.read_bytes())
        if resource.get("resourceType") == "Bundle":
            continue
        resource_type, _, resource_id = path.stem.partition("-")
        assert (resource.get("resourceType"), resource.get("id")) == (resource_type, resource_id), path.name
        response = fhir.put(f"{resource_type}/{resource_id}", content=path.read_bytes(), headers=FHIR_JSON)
        examples.append(Example(path, resource, response.status_code, _answer(response)))
    return examples


def _reason(example: Example) -> str:
    answer = example.answer
    if isinstance(answer, dict) and answer.get("resourceType") == "OperationOutcome":
        return "; ".join(f"{i.get('expression')} {i.get('diagnostics')}" for i in answer.get("issue", []))
    return str(answer)[:300]


def test_at_least_97_percent_of_official_examples_are_accepted(stored: list[Example]) -> None:
    assert len(stored) == len([p for p in example_files() if not p.name.startswith("Bundle-")]) > 200
    rejected = [e for e in stored if not e.accepted]
    report = "\n".join(f"  {e.path.name}: HTTP {e.status}: {_reason(e)}" for e in rejected)
    accepted = len(stored) - len(rejected)
    print(f"\n{accepted} of {len(stored)} official examples accepted; rejected:\n{report or '  none'}")
    assert all(e.status == 201 for e in stored if e.accepted), "a first PUT creates (201)"
    assert accepted / len(stored) >= MIN_ACCEPTED, f"rejected:\n{report}"


def test_every_rejected_example_gets_a_4xx_operation_outcome_naming_the_problem(stored: list[Example]) -> None:
    problems = []
    for example in (e for e in stored if not e.accepted):
        answer = example.answer
        issues = answer.get("issue", []) if isinstance(answer, dict) else []
        if not 400 <= example.status < 500:
            problems.append(f"{example.path.name}: HTTP {example.status} (expected 4xx): {_reason(example)}")
        elif not (isinstance(answer, dict) and answer.get("resourceType") == "OperationOutcome"):
            problems.append(f"{example.path.name}: HTTP {example.status} without an OperationOutcome: {answer!s:.200}")
        elif not any(i.get("expression") or i.get("diagnostics") for i in issues):
            problems.append(f"{example.path.name}: OperationOutcome names no expression or diagnostics: {answer}")
    assert not problems, "\n".join(problems)


def test_stored_examples_read_back_unchanged(stored: list[Example], fhir: httpx.Client) -> None:
    differences = []
    for example in (e for e in stored if e.accepted):
        response = fhir.get(example.url)
        assert response.status_code == 200, f"GET {example.url}: {response.status_code} {response.text[:300]}"
        body = response.json()
        meta = body.get("meta", {})
        assert meta.get("versionId") == "1" and meta.get("lastUpdated"), (example.url, meta)
        for key in ("profile", "tag", "security"):
            if key in example.resource.get("meta", {}):
                assert meta.get(key) == example.resource["meta"][key], (example.url, key)
        original = {k: v for k, v in example.resource.items() if k != "meta"}
        if {k: v for k, v in body.items() if k != "meta"} != original:
            differences.append(example.path.name)
    assert not differences, f"read back differently: {differences}"


@pytest.mark.parametrize(("name", "path", "expected"), [
    ("Patient-example.json", ["name", 0, "family"], "Chalmers"),
    ("Patient-example.json", ["birthDate"], "1974-12-25"),
    ("Observation-example.json", ["code", "coding", 0, "code"], "29463-7"),
    ("Observation-example.json", ["valueQuantity", "value"], 185),
    ("Condition-example.json", ["code", "coding", 0, "code"], "39065001"),
    ("Medication-med0301.json", ["code", "coding", 0, "code"], "0069-2587-10"),
])
def test_key_fields_of_stored_examples_match_the_files(stored: list[Example], fhir: httpx.Client, name: str,
                                                       path: list[Any], expected: Any) -> None:
    example = next(e for e in stored if e.path.name == name)
    from_file, from_server = example.resource, fhir.get(example.url).json()
    for step in path:
        from_file, from_server = from_file[step], from_server[step]
    assert from_file == expected, "the expectation is read from the file"
    assert from_server == expected


@pytest.mark.xfail(strict=True, reason="known gap (README, 'Known gaps'): decimals are stored as IEEE doubles, "
                   "so trailing zeros and digits beyond 17 significant ones are not kept")
def test_stored_examples_keep_decimal_precision(stored: list[Example], fhir: httpx.Client) -> None:
    """FHIR decimals carry their precision (1.00 is not 1.0); the official Observation-decimal example tests it."""
    def exact(text: str) -> Any:
        return json.loads(text, parse_float=lambda s: Decimal(s).as_tuple(), parse_int=lambda s: Decimal(s).as_tuple())

    def diff(a: Any, b: Any, where: str) -> list[str]:
        if isinstance(a, dict) and isinstance(b, dict):
            return [d for k in a if k != "meta" for d in diff(a[k], b.get(k), f"{where}.{k}")]
        if isinstance(a, list) and isinstance(b, list):
            return [d for i, (x, y) in enumerate(zip(a, b)) for d in diff(x, y, f"{where}[{i}]")]
        return [] if a == b else [f"{where}: {_number(a)} came back as {_number(b)}"]

    changed = []
    for example in (e for e in stored if e.accepted):
        changed += diff(exact(example.path.read_text()), exact(fhir.get(example.url).text), example.url)
    assert not changed, "decimal precision lost:\n" + "\n".join(changed)


def _number(value: Any) -> str:
    return str(Decimal(value)) if hasattr(value, "exponent") else repr(value)


# --------------------------------------------------------------------------- example Bundles


def _conformant_transaction(bundle: dict[str, Any]) -> bool:
    """Whether every entry uses a relative request.url and a query-only ifNoneExist, as R4 requires."""
    for entry in bundle.get("entry", []):
        request = entry.get("request", {})
        if "://" in request.get("url", "") or "?" in request.get("ifNoneExist", ""):
            return False
    return True


def test_example_transaction_and_batch_bundles_are_processed_or_rejected_cleanly(
        examples_server: ServerURL, fhir: httpx.Client) -> None:
    posted, lines = 0, []
    for path in example_files():
        bundle = json.loads(path.read_bytes())
        if bundle.get("resourceType") != "Bundle" or bundle.get("type") not in ("transaction", "batch"):
            continue
        posted += 1
        response = fhir.post(str(examples_server), content=path.read_bytes(), headers=FHIR_JSON)
        answer = _answer(response)
        lines.append(f"  {path.name} ({bundle['type']}, conformant={_conformant_transaction(bundle)}): "
                     f"HTTP {response.status_code}")
        assert response.status_code < 500, f"{path.name}: {response.status_code} {answer}"
        if _conformant_transaction(bundle):
            assert response.status_code == 200, f"{path.name}: {response.status_code} {answer}"
        if response.status_code == 200:
            statuses = [e["response"]["status"] for e in answer["entry"]]
            assert len(statuses) == len(bundle["entry"]), path.name
            assert all(s.startswith(("200", "201")) for s in statuses), (path.name, statuses)
            _check_transaction_references(fhir, bundle, answer)
        else:
            assert isinstance(answer, dict) and answer.get("resourceType") == "OperationOutcome", (path.name, answer)
            assert any(i.get("expression") for i in answer["issue"]), (path.name, answer)
            lines[-1] += f" {_reason(Example(path, bundle, response.status_code, answer))}"
    print("\nexample transaction/batch Bundles:\n" + "\n".join(lines))
    assert posted >= 1


def _check_transaction_references(fhir: httpx.Client, bundle: dict[str, Any], answer: dict[str, Any]) -> None:
    """Every stored entry's references to other entries (by fullUrl) now point at the new resources."""
    located = {}
    for entry, result in zip(bundle["entry"], answer["entry"]):
        kind, new_id = result["response"]["location"].split("/")[:2]
        located[entry.get("fullUrl")] = f"{kind}/{new_id}"
    for entry, result in zip(bundle["entry"], answer["entry"]):
        stored = fhir.get("/".join(result["response"]["location"].split("/")[:2])).json()
        original_text, stored_text = json.dumps(entry["resource"]), json.dumps(stored)
        for full_url, new_reference in located.items():
            if full_url and f'"{full_url}"' in original_text:
                assert f'"{full_url}"' not in stored_text and f'"{new_reference}"' in stored_text, (full_url, stored)


def test_transaction_resolves_relative_references_against_absolute_full_urls(
        examples_server: ServerURL, fhir: httpx.Client) -> None:
    """Bundle-xds names its entries by absolute fullUrls and refers to them as `Patient/a2` (R4 bundle.html
    "Resolving references in Bundles"); POSTed entries get new ids, so those references must follow them.

    The example's ifNoneExist carries a `Patient?` prefix that R4 does not allow; only that is corrected here.
    """
    bundle = json.loads(shared_data("fhir-r4", "hl7-r4-examples", "Bundle-xds.json").read_bytes())
    condition = bundle["entry"][1]["request"]["ifNoneExist"]
    assert condition.startswith("Patient?")
    bundle["entry"][1]["request"]["ifNoneExist"] = condition.removeprefix("Patient?")
    full_urls = {e["fullUrl"]: i for i, e in enumerate(bundle["entry"])}
    response = fhir.post(str(examples_server), json=bundle, headers=FHIR_JSON)
    assert response.status_code == 200, response.text[:1000]
    answer = response.json()
    located = ["/".join(e["response"]["location"].split("/")[:2]) for e in answer["entry"]]
    document = fhir.get(located[0]).json()
    base = "http://localhost:9556/svc/fhir/"
    expected_subject = located[full_urls[base + bundle["entry"][0]["resource"]["subject"]["reference"]]]
    expected_authors = [located[full_urls[base + a["reference"]]] for a in bundle["entry"][0]["resource"]["author"]]
    assert document["subject"]["reference"] == expected_subject, (
        f"DocumentReference.subject stayed {document['subject']['reference']!r}; the Patient entry was stored as "
        f"{expected_subject}")
    assert [a["reference"] for a in document["author"]] == expected_authors
