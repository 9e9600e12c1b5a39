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
    # SPEC §5 (revised): rank_of is the number of RANKED units.
    assert [(item.unit_id, item.rank, item.rank_of, item.unranked_reason) for item in ranked] == [
        ("y", 1, 2, None),
        ("w", 2, 2, None),
        ("x", None, 2, "no_data"),
        ("z", None, 2, "no_data"),
    ]


def test_units_with_too_few_dossiers_are_listed_unranked_after_the_ranked_ones() -> None:
    entries = [
        RankEntry("a", 99.0, 1.0, in_play=2),  # tops the scores with two dossiers: not ranked
        RankEntry("b", 80.0, 0.9, in_play=20),
        RankEntry("c", 70.0, 0.8, in_play=500),
        RankEntry("d", None, None, in_play=0),
        RankEntry("e", 60.0, 0.5, in_play=None),  # not checked
    ]
    ranked = rank_units(entries, min_dossiers=20)
    assert [(r.unit_id, r.rank, r.rank_of, r.unranked_reason) for r in ranked] == [
        ("b", 1, 3, None),
        ("c", 2, 3, None),
        ("e", 3, 3, None),
        ("a", None, 3, "too_few_dossiers"),
        ("d", None, 3, "no_data"),
    ]
    assert ranked[3].score == 99.0  # an unranked unit keeps its score for display


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
