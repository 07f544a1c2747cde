"""Reciprocal rank fusion of several rankings (Cormack, Clarke and Büttcher, SIGIR 2009)."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from engine.indexing.model import Hit

RRF_K = 60


@dataclass(frozen=True)
class FusedHit:
    """A document ranked by fused score, with the hit from each ranking that found it."""

    key: str
    score: float
    hits: dict[str, Hit]  # ranking name -> the hit it returned

    @property
    def any_hit(self) -> Hit:
        """One of the underlying hits (words first, whose snippet is highlighted)."""
        return self.hits.get("words") or next(iter(self.hits.values()))


def reciprocal_rank_fusion(rankings: dict[str, Sequence[Hit]], *, k: int = RRF_K,
                           weights: dict[str, float] | None = None) -> list[FusedHit]:
    """Fuse rankings: each document scores the sum of weight / (k + rank) over the rankings that list it."""
    scores: dict[str, float] = {}
    found: dict[str, dict[str, Hit]] = {}
    for name, hits in rankings.items():
        weight = (weights or {}).get(name, 1.0)
        for rank, hit in enumerate(hits, start=1):
            scores[hit.key] = scores.get(hit.key, 0.0) + weight / (k + rank)
            found.setdefault(hit.key, {})[name] = hit
    ordered = sorted(scores, key=lambda key: (-scores[key], key))
    return [FusedHit(key, scores[key], found[key]) for key in ordered]
