"""Estimating m and u: u from random record pairs, m (and the match rate) by EM on blocked candidate pairs."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from engine.identity.comparisons import FIELDS, compare
from engine.identity.features import FeatureStore

CHUNK = 200_000


@dataclass
class EMResult:
    """What EM estimated on the candidate pairs."""

    m: list[np.ndarray]
    u: list[np.ndarray]
    match_share: float  # proportion of candidate pairs that match
    expected_matches: float
    iterations: int
    converged: bool


def compare_chunked(store: FeatureStore, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """`compare` in chunks, to bound memory on millions of pairs."""
    parts = [compare(store, left[s:s + CHUNK], right[s:s + CHUNK]) for s in range(0, left.size, CHUNK)]
    return np.concatenate(parts) if parts else np.zeros((0, len(FIELDS)), dtype=np.int8)


def level_counts(levels: np.ndarray) -> list[np.ndarray]:
    """How often each level of each field occurs."""
    return [np.bincount(levels[:, k], minlength=len(spec.levels)) for k, spec in enumerate(FIELDS)]


def u_from_random_pairs(levels: np.ndarray, *, min_observed: int = 100) -> list[np.ndarray | None]:
    """u per level from comparisons of random pairs (nearly all non-matches); None where too few values."""
    out: list[np.ndarray | None] = []
    for counts in level_counts(levels):
        observed = counts[1:].sum()
        if observed < min_observed:
            out.append(None)
            continue
        u = np.zeros(counts.size)
        # a level never seen among `observed` random pairs is taken as half a sighting
        u[1:] = np.maximum(counts[1:], 0.5) / observed
        u[1:] /= u[1:].sum()
        out.append(u)
    return out


def patterns(levels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct comparison vectors and how often each occurs."""
    if levels.shape[0] == 0:
        return levels, np.zeros(0, dtype=np.float64)
    unique, counts = np.unique(levels, axis=0, return_counts=True)
    return unique, counts.astype(np.float64)


def expectation_maximisation(levels: np.ndarray, m0: list[np.ndarray], u0: list[np.ndarray], *,
                             share0: float = 0.1, max_iterations: int = 30, tolerance: float = 1e-5,
                             min_observed: int = 20) -> EMResult:
    """Two-class EM (match / non-match) under conditional independence; null levels carry no information.

    Fields with fewer than `min_observed` non-null comparisons keep m0/u0.
    """
    rows, counts = patterns(levels)
    m = [np.asarray(x, dtype=np.float64).copy() for x in m0]
    u = [np.asarray(x, dtype=np.float64).copy() for x in u0]
    share = share0
    total = counts.sum()
    if total == 0:
        return EMResult(m, u, share, 0.0, 0, True)
    learn = [(counts * (rows[:, k] > 0)).sum() >= min_observed for k in range(len(FIELDS))]
    iterations, converged = 0, False
    posterior = np.zeros(rows.shape[0])
    for iterations in range(1, max_iterations + 1):
        log_m = np.zeros(rows.shape[0])
        log_u = np.zeros(rows.shape[0])
        for k in range(len(FIELDS)):
            column = rows[:, k]
            known = column > 0
            log_m[known] += np.log(m[k][column[known]])
            log_u[known] += np.log(u[k][column[known]])
        odds = np.log(share) - np.log1p(-share) + log_m - log_u
        posterior = 1.0 / (1.0 + np.exp(-np.clip(odds, -700, 700)))
        weighted_m, weighted_u = counts * posterior, counts * (1.0 - posterior)
        new_share = float(np.clip(weighted_m.sum() / total, 1e-9, 1 - 1e-9))
        change = abs(new_share - share)
        for k, spec in enumerate(FIELDS):
            if not learn[k]:
                continue
            size = len(spec.levels)
            for target, weights, prior in ((m, weighted_m, m0), (u, weighted_u, u0)):
                mass = np.bincount(rows[:, k], weights=weights, minlength=size)
                mass[0] = 0.0
                # one pseudo-pair spread by the prior keeps unseen levels above zero
                estimate = (mass + np.asarray(prior[k])) / (mass.sum() + 1.0)
                estimate[0] = 0.0
                estimate[1:] /= estimate[1:].sum()
                change = max(change, float(np.abs(estimate - target[k]).max()))
                target[k] = estimate
        share = new_share
        if change < tolerance:
            converged = True
            break
    return EMResult(m, u, share, float((counts * posterior).sum()), iterations, converged)


def random_pairs(sources: np.ndarray, count: int, *, within_source: bool,
                 rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """About `count` random distinct pairs of rows (of different sources unless `within_source`)."""
    n = sources.size
    if n < 2 or count <= 0:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty
    left = rng.integers(0, n, size=count * 2)
    right = rng.integers(0, n, size=count * 2)
    keep = left != right
    if not within_source:
        keep &= sources[left] != sources[right]
    left, right = left[keep][:count], right[keep][:count]
    return left, right
