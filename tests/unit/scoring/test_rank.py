"""Ranking within one level and month (SPEC §5)."""

from __future__ import annotations

import math

import pytest

from services.scoring.domain.rank import RankEntry, rank_units


def order(entries: list[tuple[str, float | None, float | None]]) -> list[tuple[str, int | None]]:
    return [(item.unit_id, item.rank) for item in rank_units(entries)]


def test_score_descending_then_progress_then_unit_id() -> None:
    entries = [
        ("d", 80.0, 0.5),
        ("c", 90.0, None),
        ("b", 90.0, 0.7),
        ("a", 90.0, None),
        ("e", 90.0, 0.9),
    ]
    assert order(entries) == [("e", 1), ("b", 2), ("a", 3), ("c", 4), ("d", 5)]


def test_null_scores_have_no_rank_and_come_last() -> None:
    ranked = rank_units([RankEntry("z", None, None), ("y", 12.5, None), RankEntry("x", None, 1.0), ("w", 3.0, 0.1)])
    assert [(item.unit_id, item.rank, item.rank_of) for item in ranked] == [
        ("y", 1, 4),
        ("w", 2, 4),
        ("x", None, 4),
        ("z", None, 4),
    ]


def test_float_noise_does_not_break_a_tie() -> None:
    noisy = 100 * (0.1 + 0.2) / 0.3  # 100.00000000000001
    assert noisy != 100.0
    assert order([("a", noisy, 0.5), ("b", 100.0, 0.9)]) == [("b", 1), ("a", 2)]


def test_empty_and_invalid_input() -> None:
    assert rank_units([]) == []
    with pytest.raises(ValueError, match="duplicate"):
        rank_units([("a", 1.0, None), ("a", 2.0, None)])
    with pytest.raises(ValueError, match="not finite"):
        rank_units([("a", math.nan, None)])
