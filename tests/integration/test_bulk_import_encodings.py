"""`POST /fhir/$import` bodies sent gzip-compressed (`Content-Encoding: gzip`), on SQLite and PostgreSQL."""
from __future__ import annotations

import gzip
import json

NDJSON = {"Content-Type": "application/fhir+ndjson"}


def _lines(*ids: str) -> bytes:
    return b"".join(json.dumps({"resourceType": "Patient", "id": pid, "name": [{"family": "Zipped"}]}).encode()
                    + b"\n" for pid in ids)


def _diagnostics(response) -> list[str]:
    return [issue["diagnostics"] for issue in response.json()["issue"]]


def test_a_gzip_upload_is_inflated_as_it_streams_member_after_member(api):
    body = gzip.compress(_lines("gz-1", "gz-2")) + gzip.compress(_lines("gz-3"))  # as `cat a.gz b.gz` makes it
    response = api.post("/fhir/$import", content=body, headers={**NDJSON, "Content-Encoding": "gzip"})
    assert response.status_code == 200, response.text
    assert _diagnostics(response) == ["3 resources stored, 0 records rejected"]
    assert api.get("/fhir/Patient/gz-3").json()["name"][0]["family"] == "Zipped"


def test_a_corrupt_or_cut_off_gzip_upload_keeps_what_came_before_and_says_where_it_broke(api):
    whole = gzip.compress(_lines(*(f"cut-{n}" for n in range(200))), compresslevel=1)
    cut = api.post("/fhir/$import", content=whole[:len(whole) // 2], headers={**NDJSON, "Content-Encoding": "gzip"})
    issues = _diagnostics(cut)
    assert cut.status_code == 200 and any("ended before its end-of-stream marker" in text for text in issues), issues
    stored, rejected = int(issues[0].split()[0]), int(issues[0].split()[3])
    assert 0 < stored < 200 and rejected == 1 and api.get("/fhir/Patient/cut-0").status_code == 200
    corrupt = whole[:200] + bytes(b ^ 0x55 for b in whole[200:400]) + whole[400:]
    broken = api.post("/fhir/$import", content=corrupt, headers={**NDJSON, "Content-Encoding": "gzip"})
    assert broken.status_code == 200
    assert any("gzip upload is corrupt" in text for text in _diagnostics(broken)), _diagnostics(broken)


def test_an_encoding_other_than_gzip_is_unsupported_media(api):
    response = api.post("/fhir/$import", content=_lines("br-1"), headers={**NDJSON, "Content-Encoding": "br"})
    assert response.status_code == 415
    assert "Content-Encoding br" in response.json()["issue"][0]["diagnostics"]
    assert api.get("/fhir/Patient/br-1").status_code == 404


def test_zero_padding_after_the_last_member_is_ignored(api):
    body = gzip.compress(_lines("pad-1")) + b"\x00" * 512  # as some tape and block writers leave it
    response = api.post("/fhir/$import", content=body, headers={**NDJSON, "Content-Encoding": "gzip"})
    assert _diagnostics(response) == ["1 resources stored, 0 records rejected"]


def test_a_compression_bomb_is_cut_off(api):
    body = gzip.compress(_lines("bomb-1") + b"\n" * 40_000_000, compresslevel=9)  # 40 MB of blank lines
    response = api.post("/fhir/$import", content=body, headers={**NDJSON, "Content-Encoding": "gzip"})
    issues = _diagnostics(response)
    assert issues[0] == "1 resources stored, 1 records rejected", issues
    assert "inflates more than 200 times" in issues[1]
