"""Shared fixtures: a model trained on a synthetic population (the matcher needs m/u and a prior)."""

from __future__ import annotations

import pytest

from engine.identity import MatchModel
from tests.identity.synthetic import population


@pytest.fixture(scope="session")
def trained_model() -> MatchModel:
    """A model fitted on 20,000 synthetic records (20% duplicates)."""
    records, _ = population(20_000, seed=11)
    return MatchModel.train(records)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "scale: timing test on 100,000 synthetic records (about a minute)")
