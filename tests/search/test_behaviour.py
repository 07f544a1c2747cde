"""Clinician search behaviour, the same on both profiles: embedded (SQLite FTS5 + vectors, in-process
indexing) and production (Celery worker over Redis, Elasticsearch)."""
from __future__ import annotations

import time

import pytest

from engine.indexing.model import IndexedDocument
from tests.search import records
from tests.search.conftest import wait_for


@pytest.fixture(scope="module")
def charted(stack):
    """One patient with a small chart, indexed (the first indexing also loads the model)."""
    patient = stack.post(records.patient())
    created = [stack.post(body) for body in records.chart(patient["id"])]
    stack.settle(timeout_s=180)
    return patient["id"], created


def _keys(response: dict) -> list[str]:
    return [f"{r['resourceType']}/{r['id']}" for r in response["results"]]


def test_a_created_resource_is_searchable_within_two_seconds(stack, charted):
    patient_id, _ = charted
    started = time.monotonic()
    created = stack.post(records.condition(patient_id, "195662009", "Acute viral pharyngitis (disorder)"))
    key = f"Condition/{created['id']}"

    def found() -> bool:
        return key in _keys(stack.search(q="pharyngitis", patient=patient_id, mode="words"))

    wait_for(found, timeout_s=2.0, interval_s=0.05)
    assert time.monotonic() - started < 2.0


def test_indexing_makes_what_it_indexed_searchable_without_waiting_for_a_periodic_refresh(stack, charted):
    patient_id, _ = charted
    index = stack.container.search_index
    periodic = stack.production is not None  # Elasticsearch refreshes every second unless told otherwise
    if periodic:
        index.client.indices.put_settings(index=index.index_name, settings={"index.refresh_interval": "-1"})
    try:
        created = stack.post(records.condition(patient_id, "232353008", "Perennial allergic rhinitis (disorder)"))
        key = f"Condition/{created['id']}"
        wait_for(lambda: key in _keys(stack.search(q="rhinitis", patient=patient_id, mode="words")),
                 timeout_s=20, interval_s=0.1)
    finally:
        if periodic:
            index.client.indices.put_settings(index=index.index_name, settings={"index.refresh_interval": None})


def test_words_meaning_and_hybrid_find_the_heart_attack(stack, charted):
    patient_id, created = charted
    infarction = f"Condition/{created[0]['id']}"
    for mode in ("words", "meaning", "hybrid"):
        response = stack.search(q="heart attack", patient=patient_id, mode=mode)
        assert _keys(response)[0] == infarction, (mode, response)
    best = stack.search(q="myocardial infarction", patient=patient_id)["results"][0]
    assert best["matched"] == "both"
    assert "<em>" in best["snippet"]
    assert best["patient"] == f"Patient/{patient_id}"
    assert best["date"].startswith("2018-06-01")
    meaning_only = stack.search(q="cardiac problem", patient=patient_id, mode="meaning")["results"][0]
    assert meaning_only["matched"] == "meaning"


def test_abbreviations_and_lay_words(stack, charted):
    patient_id, created = charted
    by_display = {body.get("code", body.get("vaccineCode", {})).get("coding", [{}])[0].get("display"): body
                  for body in created}
    expectations = {"MI": "Myocardial infarction (disorder)", "HTN": "Hypertensive disorder, systemic arterial (disorder)",
                    "DM2": "Diabetes mellitus type 2 (disorder)", "last A1c": "Hemoglobin A1c/Hemoglobin.total in Blood",
                    "flu shot": "Influenza, seasonal, injectable, preservative free"}
    for query, display in expectations.items():
        body = by_display[display]
        top = _keys(stack.search(q=query, patient=patient_id, mode="words"))[:1]
        assert top == [f"{body['resourceType']}/{body['id']}"], (query, top)


def test_filters_apply_inside_every_ranking(stack, charted):
    patient_id, created = charted
    other = stack.post(records.patient("Elsewhere"))
    stack.post(records.condition(other["id"], "22298006", "Myocardial infarction (disorder)"))
    stack.settle()
    for mode in ("words", "meaning", "hybrid"):
        response = stack.search(q="myocardial infarction", patient=patient_id, mode=mode, limit=50)
        assert response["results"], mode
        assert {r["patient"] for r in response["results"]} == {f"Patient/{patient_id}"}, mode
        typed = stack.search(q="influenza infarction", patient=patient_id, mode=mode, type="Immunization")
        assert [r["resourceType"] for r in typed["results"]] == ["Immunization"], mode
        dated = stack.search(q="disorder", patient=patient_id, mode=mode, since="2016-01-01", until="2019-01-01")
        assert sorted(r["date"][:10] for r in dated["results"]) == ["2016-09-01", "2018-06-01"], mode
        sourced = stack.search(q="disorder", patient=patient_id, mode=mode, source="urn:nowhere")
        assert sourced["results"] == [] and sourced["total"] == 0, mode


def test_paging_is_stable_and_totals_count(stack, charted):
    patient_id, _ = charted
    everything = stack.search(q="disorder", patient=patient_id, mode="hybrid", limit=100)
    first = stack.search(q="disorder", patient=patient_id, mode="hybrid", limit=3)
    second = stack.search(q="disorder", patient=patient_id, mode="hybrid", limit=3, offset=3)
    assert _keys(first) + _keys(second) == _keys(everything)[:6]
    assert first["total"] == everything["total"] >= len(everything["results"])


def test_updates_and_deletes_are_reflected(stack, charted):
    patient_id, _ = charted
    created = stack.post(records.condition(patient_id, "233604007", "Pneumonia (disorder)"))
    stack.settle()
    assert f"Condition/{created['id']}" in _keys(stack.search(q="pneumonia", patient=patient_id, mode="words"))
    changed = records.condition(patient_id, "10509002", "Acute bronchitis (disorder)")
    changed["id"] = created["id"]
    response = stack.client.put(f"/fhir/Condition/{created['id']}", json=changed,
                                headers={"content-type": "application/fhir+json"})
    assert response.status_code == 200, response.text
    stack.settle()
    assert f"Condition/{created['id']}" not in _keys(stack.search(q="pneumonia", patient=patient_id, mode="words"))
    assert f"Condition/{created['id']}" in _keys(stack.search(q="bronchitis", patient=patient_id, mode="words"))
    assert stack.client.delete(f"/fhir/Condition/{created['id']}").status_code in (200, 204)
    stack.settle()
    for mode in ("words", "meaning", "hybrid"):
        assert f"Condition/{created['id']}" not in _keys(stack.search(q="bronchitis", patient=patient_id, mode=mode))
    assert stack.container.indexing.verify().clean


def test_an_old_version_arriving_late_does_not_win(stack, charted):
    patient_id, _ = charted
    created = stack.post(records.condition(patient_id, "36971009", "Sinusitis (disorder)"))
    changed = records.condition(patient_id, "68496003", "Polyp of colon (disorder)")
    changed["id"] = created["id"]
    stack.client.put(f"/fhir/Condition/{created['id']}", json=changed, headers={"content-type": "application/fhir+json"})
    stack.settle()
    service = stack.container.indexing
    [old_body] = [created]  # version 1, as a late replay would deliver it
    old = service.documents([_source(old_body, 1)])[0]
    report = stack.container.search_index.apply(
        [IndexedDocument(old, service.embedder.embed([old.embed_text])[0])], [])
    assert report.stale == 1 and report.indexed == 0
    stack.container.search_index.refresh()
    assert f"Condition/{created['id']}" not in _keys(stack.search(q="sinusitis", patient=patient_id, mode="words"))
    assert f"Condition/{created['id']}" in _keys(stack.search(q="polyp colon", patient=patient_id, mode="words"))


def test_verify_reports_documents_newer_than_the_store(stack, charted):
    patient_id, _ = charted
    created = stack.post(records.condition(patient_id, "40055000", "Chronic sinusitis (disorder)"))
    stack.settle()
    service = stack.container.indexing
    future = service.documents([_source(created, 7)])[0]  # as if the store had been restored to an older backup
    stack.container.search_index.apply([IndexedDocument(future, service.embedder.embed([future.embed_text])[0])], [])
    result = service.verify("Condition")
    assert result.ahead == [f"Condition/{created['id']}"] and not result.clean
    service.reindex("Condition", clear=True)
    assert service.verify("Condition").clean


def _source(body: dict, version: int):
    from engine.indexing.model import SourceVersion

    return SourceVersion(body["resourceType"], body["id"], version, False, body, "general-hospital")


def test_fhir_text_and_content_use_the_index(stack, charted):
    patient_id, created = charted
    infarction = created[0]["id"]
    content = stack.client.get("/fhir/Condition", params={"_content": "infarction", "patient": patient_id})
    assert content.status_code == 200, content.text
    assert [e["resource"]["id"] for e in content.json().get("entry", []) if e["search"]["mode"] == "match"] == [infarction]
    text = stack.client.get("/fhir/Condition", params={"_text": "heart attack", "patient": patient_id, "_count": 1})
    assert text.status_code == 200, text.text
    assert text.json()["entry"][0]["resource"]["id"] == infarction
    nothing = stack.client.get("/fhir/Condition", params={"_content": "xylophonist", "patient": patient_id})
    assert nothing.json()["total"] == 0


def test_fhir_content_ranks_inside_the_named_patient(stack, charted, crowded, monkeypatch):
    from engine.services import search

    monkeypatch.setattr(search, "RELEVANCE_DEPTH", 1)  # one of the two holds no global first place
    patient_id, created = charted
    for params in ({"patient": patient_id}, {"subject": f"Patient/{patient_id}"}, {"patient": crowded}):
        found = stack.client.get("/fhir/Condition", params={"_content": "infarction", **params})
        assert found.status_code == 200, found.text
        ids = [e["resource"]["id"] for e in found.json().get("entry", []) if e["search"]["mode"] == "match"]
        assert len(ids) == 1, params
        if crowded not in params.values():
            assert ids == [created[0]["id"]], params


def test_a_patient_context_token_sees_only_its_patient(stack, charted):
    from tests.integration.conftest import token_for

    patient_id, _ = charted
    other = stack.post(records.patient("Private"))
    stack.post(records.condition(other["id"], "22298006", "Myocardial infarction (disorder)"))
    stack.settle()
    token = token_for(stack.container, scope="patient/*.rs", patient=patient_id)
    response = stack.client.get("/api/search", params={"q": "myocardial infarction", "limit": 100},
                                headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200, response.text
    assert {r["patient"] for r in response.json()["results"]} == {f"Patient/{patient_id}"}


@pytest.fixture(scope="module")
def crowded(stack):
    """Another patient with sixty heart attacks: more matches than the first page's rankings hold."""
    patient = stack.post(records.patient("Crowded"))
    for day in range(60):
        stack.post(records.condition(patient["id"], "22298006", "Myocardial infarction (disorder)",
                                     f"2010-01-{1 + day % 28:02d}"))
    stack.settle(timeout_s=120)
    return patient["id"]


def test_a_patient_context_token_finds_its_records_when_others_crowd_the_rankings(stack, charted, crowded):
    from tests.integration.conftest import token_for

    patient_id, created = charted
    token = token_for(stack.container, scope="patient/*.rs", patient=patient_id)
    for mode in ("words", "meaning", "hybrid"):
        response = stack.client.get("/api/search", params={"q": "myocardial infarction", "mode": mode, "limit": 5},
                                    headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 200, response.text
        found = response.json()
        assert f"Condition/{created[0]['id']}" in _keys(found), mode
        assert {r["patient"] for r in found["results"]} == {f"Patient/{patient_id}"}, mode
        mine = stack.search(q="myocardial infarction", mode=mode, patient=patient_id, limit=5)
        assert found["total"] == mine["total"], mode
    elsewhere = stack.client.get("/api/search", params={"q": "myocardial infarction", "patient": crowded},
                                 headers={"Authorization": f"Bearer {token}"})
    assert elsewhere.status_code == 200 and elsewhere.json() == {"results": [], "total": 0}


def test_scopes_narrow_the_rankings_to_the_types_they_read(stack, charted, crowded):
    from tests.integration.conftest import token_for

    patient_id, _ = charted
    token = token_for(stack.container, scope="user/Immunization.rs")
    response = stack.client.get("/api/search", params={"q": "myocardial infarction influenza", "limit": 5},
                                headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200, response.text
    assert [r["resourceType"] for r in response.json()["results"]][:1] == ["Immunization"]
    assert {r["resourceType"] for r in response.json()["results"]} == {"Immunization"}


def test_search_needs_the_search_permission_not_only_read(stack, charted):
    from tests.integration.conftest import token_for

    for scope in ("user/*.r", "user/Condition.r user/Immunization.s", "user/*.s"):
        token = token_for(stack.container, scope=scope)
        response = stack.client.get("/api/search", params={"q": "myocardial infarction"},
                                    headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 403, (scope, response.text)
    token = token_for(stack.container, scope="user/*.r user/Immunization.s")
    response = stack.client.get("/api/search", params={"q": "myocardial infarction influenza"},
                                headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200, response.text
    assert {r["resourceType"] for r in response.json()["results"]} == {"Immunization"}


def test_the_total_does_not_depend_on_the_page(stack, crowded):
    for mode in ("words", "meaning", "hybrid"):
        totals = {stack.search(q="myocardial infarction", patient=crowded, mode=mode, limit=10,
                               offset=offset)["total"] for offset in (0, 20, 50, 60)}
        assert len(totals) == 1, (mode, totals)
        assert totals.pop() == (60 if mode == "words" else 61), mode  # every record ranks by meaning


def test_until_includes_its_last_instant_and_far_dates_are_no_error(stack, charted):
    patient_id, _ = charted
    late = records.condition(patient_id, "271737000", "Anemia (disorder)")
    late["onsetDateTime"] = "2019-03-03T23:59:59.9999999Z"
    late = stack.post(late)
    stack.settle()
    key = f"Condition/{late['id']}"
    assert key in _keys(stack.search(q="anemia", patient=patient_id, until="2019-03-03"))
    assert key in _keys(stack.search(q="anemia", patient=patient_id, since="2019-03-03T23:59:59.999999Z",
                                     until="2019-03-03T23:59:59.999999Z"))
    assert key not in _keys(stack.search(q="anemia", patient=patient_id, until="2019-03-02"))
    for far in ({"since": "9999-12-31T23:59:59-05:00"}, {"until": "0001-01-01T00:00:00+05:00"}):
        assert stack.search(q="anemia", patient=patient_id, **far)["results"] == [], far


def test_an_absolute_patient_reference_files_the_record_under_its_patient(stack, charted):
    patient_id, _ = charted
    absolute = records.condition(patient_id, "195967001", "Asthma (disorder)")
    absolute["subject"] = {"reference": f"http://testserver/fhir/Patient/{patient_id}"}
    absolute = stack.post(absolute)
    stack.settle()
    found = stack.search(q="asthma", patient=patient_id, mode="words")
    assert f"Condition/{absolute['id']}" in _keys(found)
    assert {r["patient"] for r in found["results"]} == {f"Patient/{patient_id}"}


def test_golden_records_are_not_results(stack):
    patient = stack.post(records.patient("Goldwasser"))
    stack.settle()
    found = stack.search(q="Goldwasser", type="Patient", mode="words")
    assert _keys(found) == [f"Patient/{patient['id']}"] and found["total"] >= 1


@pytest.mark.parametrize("params, parameter", [
    ({"q": ""}, "q"), ({"q": "x" * 10_000}, "q"), ({"q": "flu", "type": "Flu"}, "type"),
    ({"q": "flu", "since": "2020-13-45"}, "since"), ({"q": "flu", "limit": "0"}, "limit"),
    ({"q": "flu", "limit": "101"}, "limit"), ({"q": "flu", "offset": "-1"}, "offset"),
    ({"q": "flu", "mode": "psychic"}, "mode"), ({"q": "flu", "until": "yesterday"}, "until"),
    ({}, "q"), ({"q": "flu", "colour": "red"}, "colour"), ({"q": "flu", "offset": "950", "limit": "100"}, "offset"),
    ({"q": "flu", "offset": "90", "limit": "20"}, "offset"),  # hybrid pages reach 100 deep
    ({"q": "flu", "since": "2020-01-01T10:00:00+25:00"}, "since"), ({"q": "flu", "until": "2020-01-01T10:00"}, "until"),
])
def test_bad_parameters_answer_422_naming_the_parameter(stack, params, parameter):
    response = stack.client.get("/api/search", params=params)
    assert response.status_code == 422, response.text
    issue = response.json()["issue"][0]
    assert parameter in (issue.get("expression") or [""])[0] or parameter in issue["diagnostics"]


def test_search_needs_authentication(stack):
    response = stack.client.get("/api/search", params={"q": "flu"}, headers={"Authorization": ""})
    assert response.status_code == 401


def test_hybrid_pages_neither_repeat_nor_skip(stack, crowded):
    whole = _keys(stack.search(q="myocardial infarction", limit=100))
    paged = [key for offset in range(0, 100, 10)
             for key in _keys(stack.search(q="myocardial infarction", limit=10, offset=offset))]
    assert paged == whole and len(set(paged)) == len(paged)


def test_a_patient_hidden_by_consent_is_not_counted(stack, crowded):
    from tests.integration.conftest import token_for

    deny = {"type": "permit", "provision": [{"type": "deny", "actor": [{
        "role": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ParticipationType",
                             "code": "IRCP"}]},
        "reference": {"identifier": {"value": "elsewhere-clinic"}}}]}]}
    stack.post({"resourceType": "Consent", "status": "active",
                "scope": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/consentscope",
                                      "code": "patient-privacy"}]},
                "category": [{"coding": [{"system": "http://loinc.org", "code": "59284-0"}]}],
                "patient": {"reference": f"Patient/{crowded}"}, "provision": deny})
    stack.settle()
    token = token_for(stack.container, institution="elsewhere-clinic", scope="user/*.rs")
    for mode in ("words", "meaning", "hybrid"):
        response = stack.client.get("/api/search", params={"q": "myocardial infarction", "patient": crowded,
                                                           "mode": mode, "limit": 5},
                                    headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 200, response.text
        assert response.json() == {"results": [], "total": 0}, mode
