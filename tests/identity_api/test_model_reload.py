"""A model retrained by another process (`tessera link --retrain`) is picked up by a running service."""
from __future__ import annotations

from pathlib import Path

import pytest

from engine.security.caller import Caller
from engine.settings import Settings
from adapters.bootstrap import build_container
from adapters.cli.synth import generate, patient_resource


@pytest.fixture
def second(store_url: str, tmp_path: Path):
    """Another process's services on the same database (as `tessera link` would build them)."""
    built = build_container(Settings(database_url=store_url, data_dir=tmp_path / "other", db_pool_size=2,
                                     jobs_inline=True), migrate=False)
    yield built
    built.close()


def _counting_loads(service) -> list[int]:
    calls: list[int] = []
    original = service.repo.load_model

    def load_model():
        calls.append(1)
        return original()

    service.repo.load_model = load_model
    return calls


def test_a_running_service_reloads_a_model_retrained_elsewhere_before_matching(container, second):
    registrations, _ = generate(institutions=2, patients=40, seed=11)
    rows = [(institution, mrn, person) for institution, people in registrations.items() for mrn, person in people]
    for institution, mrn, person in rows[:-1]:
        body = patient_resource(person, institution, mrn)
        container.resources.update("Patient", body["id"], body, caller=Caller.institution_only(institution))
    running = container.identity
    assert running.index is not None and running.model_stamp is None  # default priors: nothing stored yet
    default_u = running.index.model.to_dict()
    loads = _counting_loads(running)
    running.sync()
    running.sync()
    assert loads == []  # the check is a stamp, not a read of the model

    stats = second.identity.link_all(retrain=True)
    assert stats["trained"] is True
    stamp = second.identity.repo.model_stamp()
    assert stamp is not None

    institution, mrn, person = rows[-1]
    body = patient_resource(person, institution, mrn)
    container.resources.update("Patient", body["id"], body, caller=Caller.institution_only(institution))
    assert loads == [1]  # reloaded once, before matching the new Patient
    assert running.model_stamp == stamp
    assert running.index.model.to_dict() == second.identity.index.model.to_dict() != default_u
    assert body["id"] in running.index and len(running.index) == len(rows)
    assert body["id"] in running.repo.links()
    running.sync()
    assert loads == [1]
