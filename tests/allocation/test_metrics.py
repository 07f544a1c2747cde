"""Fairness metrics on vectors whose values are known by hand."""
from __future__ import annotations

import pytest

from engine.allocation.metrics import gini, ratio, spread, summary


@pytest.mark.parametrize(("values", "expected"), [
    ([], 0.0),
    ([0, 0, 0], 0.0),
    ([5, 5, 5, 5], 0.0),
    ([0, 0, 0, 1], 0.75),       # sum|xi-xj| = 6, 2 n^2 mean = 8
    ([1, 2, 3, 4], 0.25),       # sum|xi-xj| = 20, 2 * 16 * 2.5 = 80
    ([0, 1], 0.5),
    ([1, 3], 0.25),             # 2 * 2 / (2 * 4 * 2)
])
def test_gini_of_known_vectors(values, expected):
    assert gini(values) == pytest.approx(expected)


def test_gini_does_not_depend_on_order_or_scale():
    assert gini([3, 1, 2]) == pytest.approx(gini([1, 2, 3])) == pytest.approx(gini([10, 20, 30]))


def test_spread_ratio_and_summary():
    assert spread([4, 1, 3]) == 3
    assert spread([]) == 0
    assert ratio(1, 4) == 0.25 and ratio(0, 0) == 1.0
    s = summary([0, 0, 0, 1])
    assert s == {"min": 0.0, "max": 1.0, "mean": 0.25, "spread": 1.0, "gini": pytest.approx(0.75)}
