"""Estimating m and u: u from random record pairs, m (and the match rate) by EM on blocked candidate pairs."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from engine.identity.comparisons import FIELDS, compare
from engine.identity.features import FeatureStore

CHUNK = 200_000
_BIRTH = [spec.name for spec in FIELDS].index("birth_date")


@dataclass
class EMResult:
    """What EM estimated on the candidate pairs."""

    m: list[np.ndarray]
    u: list[np.ndarray]
    match_share: float  # proportion of candidate pairs that match (0 when fitted per session)
    expected_matches: float  # summed over sessions (a pair found by two rules counts twice)
    iterations: int
    converged: bool


def compare_chunked(store: FeatureStore, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """`compare` in chunks, to bound memory on millions of pairs."""
    parts = [compare(store, left[s : s + CHUNK], right[s : s + CHUNK]) for s in range(0, left.size, CHUNK)]
    return np.concatenate(parts) if parts else np.zeros((0, len(FIELDS)), dtype=np.int8)


def level_counts(levels: np.ndarray, weights: np.ndarray | None = None) -> list[np.ndarray]:
    """How often (or how much weight) each level of each field occurs."""
    return [
        np.bincount(levels[:, k], weights=weights, minlength=len(spec.levels))
        for k, spec in enumerate(FIELDS)
    ]


def u_from_random_pairs(
    levels: np.ndarray, *, weights: np.ndarray | None = None, min_observed: int = 100
) -> list[np.ndarray | None]:
    """u per level from comparisons of random pairs (nearly all non-matches); None where too few values.

    `weights` (each pair's probability of being a non-match) takes out the few matches random pairs hold.
    """
    out: list[np.ndarray | None] = []
    seen = level_counts(levels)
    for counts, raw in zip(level_counts(levels, weights), seen):
        observed = raw[1:].sum()
        if observed < min_observed:
            out.append(None)
            continue
        mass = counts[1:].sum()
        u = np.zeros(counts.size)
        # a level never seen among the random pairs is taken as half a sighting
        u[1:] = np.maximum(counts[1:], 0.5) / mass
        u[1:] /= u[1:].sum()
        out.append(u)
    return out


def date_u(
    years: np.ndarray, months: np.ndarray, days: np.ndarray, u: np.ndarray, *, min_dates: int = 100
) -> np.ndarray:
    """u of the exact and transposed birth-date levels from the year, month and day frequencies.

    Random pairs see an exact or a transposed date a handful of times in 200,000, and the few true matches
    among them inflate the count; taking year, month and day as independent in two different people gives
    both without that noise. The other levels keep their random-pair rates (`u`), scaled so all sum to 1.
    Arrays hold one entry per record (0 = unknown).
    """
    known = years > 0
    full = known & (months > 0) & (days > 0)
    n_full = int(full.sum())
    if n_full < min_dates:
        return u
    py = np.bincount(years[full].astype(np.int64)) / n_full
    pm = np.bincount(months[full].astype(np.int64), minlength=32) / n_full
    pd = np.bincount(days[full].astype(np.int64), minlength=32) / n_full
    same_y, same_m, same_d = float(py @ py), float(pm @ pm), float(pd @ pd)
    crossed = float(pm @ pd) ** 2 - float((pm * pd) @ (pm * pd))  # a/b against b/a with a != b
    both_full = (n_full / int(known.sum())) ** 2
    names = FIELDS[_BIRTH].levels
    fixed = {names.index("exact"): same_y * same_m * same_d * both_full,
             names.index("transposed"): same_y * crossed * both_full}
    out = np.asarray(u, dtype=np.float64).copy()
    rest = [k for k in range(1, out.size) if k not in fixed]
    share = out[rest].sum()
    if share <= 0:
        return u
    out[rest] *= (1.0 - sum(fixed.values())) / share
    for k, value in fixed.items():
        out[k] = max(value, 1e-9)
    return out


def patterns(levels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct comparison vectors and how often each occurs."""
    if levels.shape[0] == 0:
        return levels, np.zeros(0, dtype=np.float64)
    unique, counts = np.unique(levels, axis=0, return_counts=True)
    return unique, counts.astype(np.float64)


@dataclass
class Session:
    """Candidate pairs of one blocking rule, as distinct comparison vectors with counts.

    Fields the rule blocks on are blanked (null): those pairs agree on them by construction, so they say
    nothing about how often matches agree there.
    """

    name: str
    rows: np.ndarray
    counts: np.ndarray
    share: float = 0.1  # proportion of the session's pairs that match


def session(name: str, levels: np.ndarray, blocked_fields: list[int]) -> Session:
    """A Session of `levels` with `blocked_fields` blanked."""
    levels = levels.copy()
    levels[:, blocked_fields] = 0
    rows, counts = patterns(levels)
    return Session(name, rows, counts)


def fit_m(
    sessions: list[Session],
    m0: list[np.ndarray],
    u: list[np.ndarray],
    *,
    max_iterations: int = 30,
    tolerance: float = 1e-5,
    min_observed: float = 20.0,
) -> EMResult:
    """EM for m (shared by all sessions) and each session's match share, u held at its random-pair values.

    Holding u fixed and blanking the blocked fields is what keeps EM on the "same person" split rather than
    on "agrees on the blocking key" (the approach Splink takes). Each level keeps one pseudo-pair spread
    by m0, so a level matches never showed stays above zero. Fields observed fewer than `min_observed`
    times (as matches) keep m0.
    """
    m = [np.asarray(x, dtype=np.float64).copy() for x in m0]
    log_u = [np.log(np.maximum(np.asarray(x, dtype=np.float64), 1e-300)) for x in u]
    sessions = [s for s in sessions if s.counts.sum() > 0]
    iterations, converged = 0, not sessions
    expected = 0.0
    for iterations in range(1, max_iterations + 1):
        mass = [np.zeros(len(spec.levels)) for spec in FIELDS]
        change = 0.0
        expected = 0.0
        log_m = [np.log(np.maximum(x, 1e-300)) for x in m]
        for s in sessions:
            odds = np.full(s.rows.shape[0], np.log(s.share) - np.log1p(-s.share))
            for k in range(len(FIELDS)):
                column = s.rows[:, k]
                known = column > 0
                if known.any():
                    odds[known] += log_m[k][column[known]] - log_u[k][column[known]]
            posterior = 1.0 / (1.0 + np.exp(-np.clip(odds, -700, 700)))
            weighted = s.counts * posterior
            share = float(np.clip(weighted.sum() / s.counts.sum(), 1e-9, 1 - 1e-9))
            change = max(change, abs(share - s.share))
            s.share = share
            expected += float(weighted.sum())
            for k in range(len(FIELDS)):
                mass[k] += np.bincount(s.rows[:, k], weights=weighted, minlength=len(mass[k]))
        for k in range(len(FIELDS)):
            observed = mass[k][1:].sum()
            if observed < min_observed:
                continue
            estimate = np.zeros_like(m[k])
            estimate[1:] = (mass[k][1:] + m0[k][1:]) / (observed + m0[k][1:].sum())
            change = max(change, float(np.abs(estimate - m[k]).max()))
            m[k] = estimate
        if change < tolerance:
            converged = True
            break
    return EMResult(m, [np.asarray(x, dtype=np.float64) for x in u], 0.0, expected, iterations, converged)


def match_rate(log2_factors: np.ndarray, total_pairs: float, *, iterations: int = 200) -> float:
    """The prior match probability λ for which the candidates' expected matches equal λ × all pairs.

    Fixed point of λ = Σ P(match | pair, λ) / total_pairs over the candidate pairs, whose Bayes factors
    (log2) are given; pairs that were never candidates are taken as non-matches.
    """
    if log2_factors.size == 0 or total_pairs <= 0:
        return 1e-9
    factors = np.exp2(np.clip(log2_factors, -1000, 1000))
    rate = min(0.5, log2_factors.size / total_pairs)
    for _ in range(iterations):
        odds = rate / (1.0 - rate) * factors
        new = float(np.clip((odds / (1.0 + odds)).sum() / total_pairs, 1e-12, 0.5))
        if abs(new - rate) <= 1e-9 * rate:
            rate = new
            break
        rate = new
    return rate


def random_pairs(
    sources: np.ndarray, count: int, *, within_source: bool, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
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
