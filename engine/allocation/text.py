"""Small formatting helpers shared by the renderers."""
from __future__ import annotations


def num(value: float | None) -> str:
    """A number with thousands separators and 2 decimals, '-' for None."""
    return "-" if value is None else f"{value:,.2f}"


def pct(value: float | None) -> str:
    """A fraction as a percentage, '-' for None."""
    return "-" if value is None else f"{100 * value:.2f}%"
