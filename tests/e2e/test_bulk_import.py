"""`POST /fhir/$import` against a running server, the body streamed in small chunks as a real client sends it."""
from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

from tests.e2e.conftest import running_server

MAX_LINE = 2000


def _chunks(body: bytes, size: int = 700) -> Iterator[bytes]:
    for start in range(0, len(body), size):
        yield body[start:start + size]
        time.sleep(0.01)


def test_import_rejects_each_bad_line_on_its_own_and_loads_lines_referring_forward(tmp_path: Path,
                                                                                     store_url: str) -> None:
    lines = [json.dumps({"resourceType": "Patient", "id": "imp-1"}),
             "{bad",
             json.dumps({"resourceType": "Patient", "id": "imp-huge", "text": {"status": "generated",
                                                                           "div": "x" * (3 * MAX_LINE)}}),
             json.dumps({"resourceType": "Observation", "id": "imp-obs", "status": "final", "code": {"text": "pulse"},
                         "subject": {"reference": "Patient/imp-late"}}),
             json.dumps({"resourceType": "Patient", "id": "imp-late"}),
             json.dumps({"resourceType": "Bundle", "type": "transaction", "entry": [{
                 "resource": {"resourceType": "Patient", "id": "imp-tx"},
                 "request": {"method": "PUT", "url": "Patient/imp-tx"}}]}),
             *["not json"] * 101]
    body = ("\n".join(lines) + "\n").encode()
    with running_server(store_url, tmp_path / "served", TESSERA_MAX_REQUEST_BYTES=str(MAX_LINE)) as url:
        headers = {**url.headers, "Content-Type": "application/fhir+ndjson"}
        response = httpx.post(f"{url}/$import", content=_chunks(body), headers=headers, timeout=60)
        assert response.status_code == 200, response.text[:2000]
        issues = response.json()["issue"]
        diagnostics = [issue["diagnostics"] for issue in issues]
        assert diagnostics[0] == "4 resources stored, 103 records rejected", diagnostics[:3]
        assert diagnostics[1] == "only the first 100 rejections are listed"
        assert diagnostics[2].startswith("line 2: not valid JSON"), diagnostics[2]
        assert diagnostics[3] == f"line 3: longer than {MAX_LINE} bytes"
        assert diagnostics[4].startswith("line 7: not valid JSON") and len(issues) == 102
        for path in ("Patient/imp-1", "Observation/imp-obs", "Patient/imp-late", "Patient/imp-tx"):
            assert httpx.get(f"{url}/{path}", headers=url.headers, timeout=30).status_code == 200, path
        assert httpx.get(f"{url}/Patient/imp-huge", headers=url.headers, timeout=30).status_code == 404
