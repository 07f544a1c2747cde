"""Fairness and summary metrics shared by the models."""
from __future__ import annotations

from collections.abc import Iterable, Sequence


def gini(values: Iterable[float]) -> float:
    """Population Gini coefficient: sum |xi - xj| / (2 n^2 mean); 0 for empty, all-zero or equal values."""
    xs = sorted(float(v) for v in values)
    n = len(xs)
    total = sum(xs)
    if n == 0 or total <= 0:
        return 0.0
    # sum_i sum_j |xi - xj| = 2 * sum_i (2i - n + 1) x_(i) for sorted x, i from 0
    weighted = sum((2 * i - n + 1) * x for i, x in enumerate(xs))
    return max(0.0, 2 * weighted / (2 * n * total))


def spread(values: Sequence[float]) -> float:
    """max - min (0 for an empty sequence)."""
    return float(max(values) - min(values)) if values else 0.0


def mean(values: Sequence[float]) -> float:
    """Arithmetic mean (0 for an empty sequence)."""
    return float(sum(values) / len(values)) if values else 0.0


def ratio(part: float, whole: float, *, empty: float = 1.0) -> float:
    """part / whole, or `empty` when whole is 0."""
    return float(part) / float(whole) if whole else empty


def summary(values: Sequence[float]) -> dict[str, float]:
    """min, max, mean, spread (max - min) and Gini of a vector."""
    vals = [float(v) for v in values]
    return {"min": min(vals) if vals else 0.0, "max": max(vals) if vals else 0.0, "mean": mean(vals),
            "spread": spread(vals), "gini": gini(vals)}
