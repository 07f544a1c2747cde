"""Probabilistic patient matching (Fellegi–Sunter with EM), incremental and explainable; pure Python + numpy.

Records are normalised once (folded names, parsed dates, canonical phones/e-mails), blocked under several
keys, compared field by field at several levels, weighed with m/u probabilities learned from the data
(term-frequency adjusted for names), and decided with two thresholds. See README.md in this folder.
"""

from __future__ import annotations

from engine.identity.clustering import clusters
from engine.identity.model import MatchModel
from engine.identity.index import MatchIndex
from engine.identity.records import PersonRecord, person_from_patient
from engine.identity.scoring import FieldEvidence, ScoredPair
from engine.identity.settings import MatchSettings

__all__ = [
    "FieldEvidence",
    "MatchIndex",
    "MatchModel",
    "MatchSettings",
    "PersonRecord",
    "ScoredPair",
    "clusters",
    "person_from_patient",
]
