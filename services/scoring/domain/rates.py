"""Rates (SPEC §5): ratios of monthly counters; a zero denominator gives ``None`` (null), never 0 or 1."""

from __future__ import annotations

from collections.abc import Mapping

RATE_DEFINITIONS: dict[str, tuple[str, str]] = {
    "progress_rate": ("progress_on_time", "progress_total"),
    "on_time_rate": ("resolved_on_time", "resolved_with_due"),
    "online_rate": ("received_online", "received"),
    "digitization_rate": ("received_digitized", "received"),
    "data_reuse_rate": ("received_reused", "received"),
    "e_result_rate": ("resolved_e_result", "resolved"),
    "online_payment_rate": ("payments_online", "payments"),
    "satisfaction_rate": ("ratings_satisfied", "ratings"),
    "timely_sync_rate": ("events_timely", "events"),
}
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
