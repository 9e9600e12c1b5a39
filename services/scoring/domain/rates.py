"""Rates (SPEC §5): ratios of monthly counters; a zero denominator gives ``None`` (null), never 0 or 1."""

from __future__ import annotations

from collections.abc import Mapping

from shared.indicators import RATE_FRACTIONS

# The names are part of the message contract shared with alerts and the API (shared/indicators.py): one list.
RATE_DEFINITIONS: dict[str, tuple[str, str]] = RATE_FRACTIONS
"""rate name → (numerator counter, denominator counter), in SPEC order."""

RATE_NAMES: tuple[str, ...] = tuple(RATE_DEFINITIONS)


def compute_rate(numerator: int, denominator: int) -> float | None:
    return numerator / denominator if denominator else None


def compute_rates(counters: Mapping[str, int]) -> dict[str, float | None]:
    """All nine rates from one unit-month's counters (missing counters count as 0); unrounded."""
    return {
        name: compute_rate(counters.get(numerator, 0), counters.get(denominator, 0))
        for name, (numerator, denominator) in RATE_DEFINITIONS.items()
    }
