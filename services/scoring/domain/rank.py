"""Ranking of units of one level in one month (SPEC §5)."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

# Scores and rates are unrounded floats: two units whose figures are mathematically equal can differ in the
# last bits depending on how the sums were formed. Comparing at this many decimals treats those as ties, so
# the documented tie-breakers decide instead of rounding noise.
_TIE_DECIMALS = 9


@dataclass(frozen=True, slots=True)
class RankEntry:
    unit_id: str
    score: float | None
    progress_rate: float | None


@dataclass(frozen=True, slots=True)
class RankedUnit:
    unit_id: str
    score: float | None
    progress_rate: float | None
    rank: int | None
    """1 is best; None when the score is null."""
    rank_of: int
    """Number of units of the level, ranked or not."""


def _checked(value: float | None, unit_id: str, what: str) -> float | None:
    if value is not None and not math.isfinite(value):
        raise ValueError(f"{what} của {unit_id} không hữu hạn / {what} of {unit_id} is not finite: {value}")
    return value


def rank_units(entries: Iterable[RankEntry | tuple[str, float | None, float | None]]) -> list[RankedUnit]:
    """Order by score desc, then progress_rate desc (null last), then unit_id asc; null scores come last.

    Units with a null score keep rank None and follow the ranked ones in unit_id order. Unit ids must be
    unique, so every ranked unit gets a distinct rank 1..k.
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

    scored = sorted((item for item in items if item.score is not None), key=ranked_key)
    unscored = sorted((item for item in items if item.score is None), key=lambda item: item.unit_id)
    total = len(items)
    result = [
        RankedUnit(item.unit_id, item.score, item.progress_rate, position, total)
        for position, item in enumerate(scored, start=1)
    ]
    result.extend(RankedUnit(item.unit_id, None, item.progress_rate, None, total) for item in unscored)
    return result
