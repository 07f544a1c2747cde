"""The `tessera` command line as a user runs it: bench, load-sample and ingest in subprocesses."""
from __future__ import annotations

import gzip
import json
import re
import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import REPO, ServerURL, cli_env, running_server, tessera_command

SAMPLE_DATA = REPO / "adapters" / "cli" / "sample_data"


def run_cli(*args: str, env: dict[str, str], cwd: Path, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([tessera_command(), *args], env=env, cwd=cwd, capture_output=True, text=True,
                          timeout=timeout, stdin=subprocess.DEVNULL)


def sample_bundles() -> list[dict[str, Any]]:
    """The bundled sample bundles, read straight from the package's .json.gz files."""
    files = sorted(SAMPLE_DATA.glob("*.json.gz"))
    assert files, f"no sample bundles in {SAMPLE_DATA}"
    return [json.loads(gzip.decompress(path.read_bytes())) for path in files]


def served_total(url: ServerURL, resource_type: str) -> int:
    response = httpx.get(f"{url}/{resource_type}", params={"_summary": "count"}, headers=url.headers, timeout=60)
    assert response.status_code == 200, response.text[:300]
    return response.json()["total"]


def test_bench_ingest_prints_one_json_summary_line_last(tmp_path: Path) -> None:
    env = cli_env(tmp_path, None)
    done = run_cli("bench", "ingest", "--json", "--backend", "sqlite", "--bundles", "3", env=env, cwd=tmp_path,
                   timeout=300)
    assert done.returncode == 0, f"exit {done.returncode}\nstdout:\n{done.stdout}\nstderr:\n{done.stderr[-3000:]}"
    lines = done.stdout.strip().splitlines()
    assert lines, f"no output; stderr:\n{done.stderr[-2000:]}"
    summary = json.loads(lines[-1])
    assert isinstance(summary, dict) and summary["benchmark"] == "ingest"
    assert [r["backend"] for r in summary["results"]] == ["sqlite"]
    for result in summary["results"]:
        for key in ("resources", "resources_per_s", "validate_only_per_s", "ratio"):
            assert isinstance(result[key], (int, float)) and result[key] > 0, (key, result)
        assert result["ratio"] == pytest.approx(result["resources_per_s"] / result["validate_only_per_s"], rel=0.02)
        assert result["resources"] >= 3 * min(len(b["entry"]) for b in sample_bundles())


def test_load_sample_if_empty_loads_once(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    env = cli_env(data_dir, None)  # the embedded profile: SQLite inside TESSERA_DATA_DIR
    bundles = sample_bundles()
    entries = sum(len(b["entry"]) for b in bundles)
    patients = sum(1 for b in bundles for e in b["entry"] if e["resource"]["resourceType"] == "Patient")
    observations = sum(1 for b in bundles for e in b["entry"] if e["resource"]["resourceType"] == "Observation")

    first = run_cli("load-sample", "--if-empty", env=env, cwd=tmp_path)
    assert first.returncode == 0, first.stderr[-2000:]
    assert f"loaded {entries} resources from {len(bundles)} sample bundles" in first.stdout, first.stdout
    with running_server(None, data_dir) as url:
        after_first = served_total(url, "Patient"), served_total(url, "Observation")
    assert after_first == (patients, observations)

    second = run_cli("load-sample", "--if-empty", env=env, cwd=tmp_path)
    assert second.returncode == 0, second.stderr[-2000:]
    assert not re.search(r"loaded \d+ resources", second.stdout) and "already" in second.stdout, second.stdout
    with running_server(None, data_dir) as url:
        assert (served_total(url, "Patient"), served_total(url, "Observation")) == after_first
    assert (data_dir / "tessera.db").exists(), "the embedded store lives in TESSERA_DATA_DIR"


def test_ingest_reports_the_bad_ndjson_line_and_loads_the_rest(tmp_path: Path, store_url: str) -> None:
    folder = tmp_path / "feed"
    folder.mkdir()
    (folder / "good.json").write_text(json.dumps(
        {"resourceType": "Patient", "id": "cli-good-1", "name": [{"family": "Ingest", "given": ["Json"]}]}))
    ndjson = folder / "mixed.ndjson"
    ndjson.write_text("\n".join([
        json.dumps({"resourceType": "Patient", "name": [{"family": "Ingest", "given": ["Line", "One"]}]}),
        json.dumps({"resourceType": "Observation", "status": "final",
                    "code": {"coding": [{"system": "http://loinc.org", "code": "8302-2"}]},
                    "subject": {"reference": "Patient/cli-good-1"},
                    "valueQuantity": {"value": 171, "unit": "cm", "system": "http://unitsofmeasure.org",
                                      "code": "cm"}}),
        "this line is not JSON {",
    ]) + "\n")
    env = cli_env(tmp_path / "data", store_url)
    done = run_cli("ingest", str(folder), env=env, cwd=tmp_path)
    assert done.returncode != 0, f"a rejected record must fail the run\n{done.stdout}\n{done.stderr}"
    assert f"{ndjson}:3" in done.stderr, done.stderr
    assert f"{ndjson}:1" not in done.stderr and f"{ndjson}:2" not in done.stderr, done.stderr
    summary = done.stdout.strip().splitlines()[-1]
    accepted = re.search(r"(\d+) (?:resources |records )?accepted", summary)
    rejected = re.search(r"(\d+) (?:resources |records )?rejected", summary)
    assert accepted and rejected, f"no counts in the summary line {summary!r}"
    assert (int(accepted[1]), int(rejected[1])) == (3, 1), summary
    with running_server(store_url, tmp_path / "served") as url:
        assert served_total(url, "Patient") == 2 and served_total(url, "Observation") == 1
        patient = httpx.get(f"{url}/Patient/cli-good-1", headers=url.headers, timeout=30).json()
        assert patient["name"] == [{"family": "Ingest", "given": ["Json"]}]


def test_ingest_keeps_each_hl7_files_encoding_and_reports_what_is_not_hl7(tmp_path: Path, store_url: str) -> None:
    folder = tmp_path / "hl7"
    folder.mkdir()
    latin = ("MSH|^~\\&|LAB|GENHOSP|TESSERA|HUB|20260101120000||ADT^A04|LATIN1|P|2.5.1|||||||8859/1\r"
             "EVN|A04|20260101120000\rPID|1||MRNLATIN^^^GENHOSP^MR||Müller^Jörg||19700101|M\r")
    (folder / "latin.hl7").write_bytes(latin.encode("latin-1"))
    (folder / "junk.hl7").write_text("this is not hl7 at all\n")
    (folder / "lead.hl7").write_text("PID|1||X\n" + latin.replace("LATIN1", "LEAD1").replace("MRNLATIN", "MRNLEAD")
                                     .replace("ü", "u").replace("ö", "o"))
    env = cli_env(tmp_path / "data", store_url)
    done = run_cli("ingest", str(folder), env=env, cwd=tmp_path)
    assert done.returncode != 0, done.stderr
    assert f"{folder / 'junk.hl7'}: rejected: no HL7 v2 message" in done.stderr, done.stderr
    assert f"{folder / 'lead.hl7'}:1: rejected" in done.stderr, done.stderr
    with running_server(store_url, tmp_path / "served") as url:
        found = httpx.get(f"{url}/Patient", params={"identifier": "MRNLATIN"}, headers=url.headers, timeout=30).json()
        assert found["entry"][0]["resource"]["name"][0]["family"] == "Müller"


def test_ingest_rejects_a_file_it_cannot_read_and_loads_the_rest(tmp_path: Path, store_url: str) -> None:
    folder = tmp_path / "feed"
    folder.mkdir()
    (folder / "a.ndjson").write_text(json.dumps(
        {"resourceType": "Observation", "id": "cli-late-obs", "status": "final", "code": {"text": "weight"},
         "subject": {"reference": "Patient/cli-late"}}) + "\n")
    (folder / "b.hl7").symlink_to("/proc/self/mem")  # a regular file whose reading fails (EIO), even for root
    (folder / "c.ndjson").write_text(json.dumps({"resourceType": "Patient", "id": "cli-late"}) + "\n")
    message = ("MSH|^~\\&|ADT1|GENHOSP|TESSERA|HUB|20260101120000||ADT^A04|NOTED1|P|2.5.1\r"
               "EVN|A04|20260101120000\rPID|1||MRNNOTED^^^GENHOSP^MR||Noted^Ann||19700101|F\r"
               "OBX|1|TX|8251-1^Service comment^LN||Feels better\nthan yesterday||||||F\r")  # a bare line break
    (folder / "d.hl7").write_text(message)
    done = run_cli("ingest", str(folder), env=cli_env(tmp_path / "data", store_url), cwd=tmp_path)
    assert done.returncode != 0, done.stderr
    assert f"{folder / 'b.hl7'}: rejected: the file cannot be read (Input/output error)" in done.stderr, done.stderr
    assert f"{folder / 'd.hl7'}#message 1: accepted with warnings: OBX " in done.stderr, done.stderr
    assert "Traceback" not in done.stderr
    summary = done.stdout.strip().splitlines()[-1]
    assert summary.startswith("ingest: 3 accepted, 1 rejected"), summary
    with running_server(store_url, tmp_path / "served") as url:
        observation = httpx.get(f"{url}/Observation/cli-late-obs", headers=url.headers, timeout=30).json()
        assert observation["subject"]["reference"] == "Patient/cli-late"
        noted = httpx.get(f"{url}/Patient", params={"identifier": "MRNNOTED"}, headers=url.headers, timeout=30).json()
        assert noted["entry"][0]["resource"]["gender"] == "female"


def test_ingest_reads_gzip_and_utf16_files(tmp_path: Path, store_url: str) -> None:
    folder = tmp_path / "export"
    folder.mkdir()
    line = lambda pid, family: json.dumps({"resourceType": "Patient", "id": pid, "name": [{"family": family}]})  # noqa: E731
    (folder / "Patient.ndjson.gz").write_bytes(gzip.compress(f"{line('gz-a', 'Zipped')}\n".encode())
                                               + gzip.compress(f"{line('gz-b', 'Zipped')}\n".encode()))
    (folder / "wide.ndjson").write_bytes(f"{line('u16-a', 'Wïde')}\n{line('u16-b', 'Wïde')}\n".encode("utf-16"))
    (folder / "wide.json").write_bytes(line("u16-c", "Wïde").encode("utf-16"))
    (folder / "broken.ndjson.gz").write_bytes(gzip.compress(f"{line('gz-c', 'Zipped')}\n".encode())[:-12])
    done = run_cli("ingest", str(folder), env=cli_env(tmp_path / "data", store_url), cwd=tmp_path)
    assert f"{folder / 'broken.ndjson.gz'}: rejected: the file cannot be read" in done.stderr, done.stderr
    summary = done.stdout.strip().splitlines()[-1]
    assert summary.startswith("ingest: 5 accepted, 1 rejected") and "files skipped" not in summary, summary
    with running_server(store_url, tmp_path / "served") as url:
        assert httpx.get(f"{url}/Patient/u16-b", headers=url.headers, timeout=30).json()["name"][0]["family"] == "Wïde"
        assert httpx.get(f"{url}/Patient/gz-b", headers=url.headers, timeout=30).status_code == 200


def test_ingest_retries_bundles_follows_links_and_reports_duplicates_and_skipped_files(tmp_path: Path,
                                                                                         store_url: str) -> None:
    folder, elsewhere = tmp_path / "feed", tmp_path / "elsewhere"
    folder.mkdir()
    elsewhere.mkdir()
    (elsewhere / "linked.json").write_text(json.dumps({"resourceType": "Patient", "id": "cli-linked"}))
    (folder / "linked").symlink_to(elsewhere, target_is_directory=True)
    (folder / "loop").symlink_to(folder, target_is_directory=True)
    bom_patient = json.dumps({"resourceType": "Patient", "id": "cli-bom"}).encode()
    (folder / "bom.json").write_bytes(b"\xef\xbb\xbf" + bom_patient)
    (folder / "a_tx.json").write_text(json.dumps({"resourceType": "Bundle", "type": "transaction", "entry": [{
        "resource": {"resourceType": "Observation", "id": "cli-obs", "status": "final", "code": {"text": "pulse"},
                     "subject": {"reference": "Patient/cli-p2"}},
        "request": {"method": "PUT", "url": "Observation/cli-obs"}}]}))
    (folder / "b_pat.json").write_text(json.dumps({"resourceType": "Patient", "id": "cli-p2"}))
    message = ("MSH|^~\\&|LAB|GENHOSP|TESSERA|HUB|20260101120000||ADT^A04|DUP1|P|2.5.1\r"
               "EVN|A04|20260101120000\rPID|1||MRNDUP^^^GENHOSP^MR||Twice^Sent||19700101|M\r")
    resent = message.replace("20260101120000||", "20260101120500||", 1)  # sent again, with a new send time
    (folder / "dup.hl7").write_text(message + resent + message.replace("Twice", "Other"))
    (folder / "bad16.hl7").write_bytes(b"\xff\xfe" + message.encode("utf-16-le") + b"A")
    (folder / "notes.md").write_text("not data")
    done = run_cli("ingest", str(folder), env=cli_env(tmp_path / "data", store_url), cwd=tmp_path)
    assert done.returncode != 0, done.stderr
    assert f"{folder / 'bad16.hl7'}: rejected: the file starts with a UTF-16 byte order mark" in done.stderr
    assert f"{folder / 'dup.hl7'}#message 2: skipped: control id DUP1" in done.stderr, done.stderr
    reused = f"{folder / 'dup.hl7'}#message 3: accepted with warnings: MSH-10 control id DUP1 was used before"
    assert reused in done.stderr, done.stderr
    summary = done.stdout.strip().splitlines()[-1]
    assert summary.startswith("ingest: 6 accepted, 1 rejected"), summary
    assert "1 duplicate messages skipped" in summary and "1 files skipped" in summary, summary
    with running_server(store_url, tmp_path / "served") as url:
        for path in ("Patient/cli-linked", "Patient/cli-bom", "Observation/cli-obs"):
            assert httpx.get(f"{url}/{path}", headers=url.headers, timeout=30).status_code == 200, path


def test_bench_index_reads_synthea_files_and_reports_the_pipeline_efficiency(tmp_path: Path) -> None:
    from tests.conftest import shared_data

    source = shared_data("fhir-r4", "synthea", "fhir-data-pipes-2021")
    data = tmp_path / "synthea"
    data.mkdir()
    patient = sorted(p for p in source.glob("*.json") if "Information" not in p.name)[0]
    for path in [patient, *source.glob("*Information*.json")]:  # the patient sorts first: forward references
        (data / path.name).write_bytes(path.read_bytes())
    env = cli_env(tmp_path / "work", None)
    done = run_cli("bench", "index", "--json", "--index-backend", "embedded", "--data", str(data), env=env,
                   cwd=tmp_path, timeout=600)
    assert done.returncode == 0, f"exit {done.returncode}\nstdout:\n{done.stdout}\nstderr:\n{done.stderr[-3000:]}"
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    [row] = summary["results"]
    entries = sum(len(json.loads(p.read_text())["entry"]) for p in data.glob("*.json"))
    assert row["resources"] == row["indexed"] == entries + 1  # and the golden record of the one patient
    assert 0 < row["distinct_texts"] < row["resources"]
    efficiency = (row["distinct_texts"] / row["encode_only_texts_per_s"]) / row["seconds"]
    assert row["pipeline_efficiency"] == pytest.approx(efficiency, abs=0.002)
