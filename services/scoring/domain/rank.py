"""Ranking of units of one level in one month (SPEC §5)."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

# Scores and rates are unrounded floats: two units whose figures are mathematically equal can differ in the
# last bits depending on how the sums were formed. Comparing at this many decimals treats those as ties, so
# the documented tie-breakers decide instead of rounding noise.
_TIE_DECIMALS = 9


UNRANKED_NO_DATA = "no_data"
UNRANKED_TOO_FEW = "too_few_dossiers"


@dataclass(frozen=True, slots=True)
class RankEntry:
    unit_id: str
    score: float | None
    progress_rate: float | None
    in_play: int | None = None
    """progress_total of the unit in the month: fewer than `min_dossiers` leaves it unranked (None: not checked)."""


@dataclass(frozen=True, slots=True)
class RankedUnit:
    unit_id: str
    score: float | None
    progress_rate: float | None
    rank: int | None
    """1 is best; None when the unit is not ranked (see `unranked_reason`)."""
    rank_of: int
    """Number of ranked units of the level in the month (SPEC §5)."""
    unranked_reason: str | None = None
    """`no_data` (score null) or `too_few_dossiers` (fewer than min_dossiers in play); None when ranked."""


def _checked(value: float | None, unit_id: str, what: str) -> float | None:
    if value is not None and not math.isfinite(value):
        raise ValueError(f"{what} của {unit_id} không hữu hạn / {what} of {unit_id} is not finite: {value}")
    return value


def _unranked_reason(item: RankEntry, min_dossiers: int) -> str | None:
    if item.score is None:
        return UNRANKED_NO_DATA
    if item.in_play is not None and item.in_play < min_dossiers:
        return UNRANKED_TOO_FEW
    return None


def rank_units(
    entries: Iterable[RankEntry | tuple[str, float | None, float | None]], min_dossiers: int = 0
) -> list[RankedUnit]:
    """Order by score desc, then progress_rate desc (null last), then unit_id asc (SPEC §5).

    A unit whose score is null, or with fewer than `min_dossiers` dossiers in play, is not ranked: rank None,
    listed after the ranked ones in unit_id order with its reason. Unit ids must be unique, so every ranked unit
    gets a distinct rank 1..k, and k is every entry's `rank_of`.
    """
    items = [entry if isinstance(entry, RankEntry) else RankEntry(*entry) for entry in entries]
    ids = [item.unit_id for item in items]
    if len(set(ids)) != len(ids):
        raise ValueError("đơn vị trùng trong bảng xếp hạng / duplicate unit_id in ranking input")
    for item in items:
        _checked(item.score, item.unit_id, "score")
        _checked(item.progress_rate, item.unit_id, "progress_rate")

    def ranked_key(item: RankEntry) -> tuple[float, int, float, str]:
        assert item.score is not None
        progress = item.progress_rate
        return (
            -round(item.score, _TIE_DECIMALS),
            progress is None,
            -round(progress, _TIE_DECIMALS) if progress is not None else 0.0,
            item.unit_id,
        )

    reasons = {item.unit_id: _unranked_reason(item, min_dossiers) for item in items}
    scored = sorted((item for item in items if reasons[item.unit_id] is None), key=ranked_key)
    unscored = sorted((item for item in items if reasons[item.unit_id] is not None), key=lambda item: item.unit_id)
    total = len(scored)
    result = [
        RankedUnit(item.unit_id, item.score, item.progress_rate, position, total)
        for position, item in enumerate(scored, start=1)
    ]
    result.extend(
        RankedUnit(item.unit_id, item.score, item.progress_rate, None, total, reasons[item.unit_id])
        for item in unscored
    )
    return result
