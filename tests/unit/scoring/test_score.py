"""Rates, points and score (SPEC §5), and the score profile file."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.scoring.domain.profile import ScoreProfile, parse_profile
from services.scoring.domain.rates import RATE_NAMES, compute_rates
from services.scoring.domain.score import indicator_points, score_counters

PROFILE_FILE = Path(__file__).resolve().parents[3] / "config" / "score_profile.yaml"


@pytest.fixture(scope="module")
def default_profile() -> ScoreProfile:
    return parse_profile(PROFILE_FILE.read_text(encoding="utf-8"))


def test_default_profile_matches_the_spec_table(default_profile: ScoreProfile) -> None:
    table = {
        indicator.name: (group.key, indicator.weight, indicator.target)
        for group in default_profile.groups
        for indicator in group.indicators
    }
    assert table == {
        "timely_sync_rate": ("publicity", 18, 1.0),
        "progress_rate": ("progress", 20, 1.0),
        "online_rate": ("online", 12, 0.5),
        "online_payment_rate": ("payment", 10, 0.8),
        "satisfaction_rate": ("satisfaction", 18, 0.9),
        "digitization_rate": ("digitization", 8, 1.0),
        "e_result_rate": ("digitization", 8, 1.0),
        "data_reuse_rate": ("digitization", 6, 0.8),
    }
    assert default_profile.total_weight == 100
    # The group maxima of Decision 766 as reported for Hanoi.
    assert {group.key: group.max_points for group in default_profile.groups} == {
        "publicity": 18,
        "progress": 20,
        "online": 12,
        "payment": 10,
        "satisfaction": 18,
        "digitization": 22,
    }
    assert [group.name_vi for group in default_profile.groups][1] == "Tiến độ giải quyết"


def test_rates_are_null_on_zero_denominators() -> None:
    rates = compute_rates({"received": 0, "received_online": 0, "events": 4, "events_timely": 3})
    assert list(rates) == list(RATE_NAMES)
    assert rates["timely_sync_rate"] == 0.75
    assert all(rates[name] is None for name in RATE_NAMES if name != "timely_sync_rate")


def test_points_follow_the_full_marks_from_target_rule() -> None:
    assert indicator_points(0.4, 12, 0.5) == pytest.approx(9.6)
    assert indicator_points(0.5, 12, 0.5) == 12
    assert indicator_points(0.9, 12, 0.5) == 12
    assert indicator_points(0.0, 12, 0.5) == 0
    assert indicator_points(None, 12, 0.5) is None


def test_no_data_gives_a_null_score_and_null_group_points(default_profile: ScoreProfile) -> None:
    card = score_counters({}, default_profile)
    assert card.score is None
    assert all(rate is None for rate in card.rates.values())
    assert card.groups["digitization"].points is None  # SPEC §6: "—", never 0
    assert card.groups["digitization"].max == 22
    assert card.groups["digitization"].rated_max == 0
    assert card.points["progress_rate"] is None


def test_score_uses_only_indicators_with_a_rate(default_profile: ScoreProfile) -> None:
    counters = {
        "received": 10,
        "received_online": 4,  # online 0.4 / 0.5 → 9.6 of 12
        "received_digitized": 10,  # digitization 1.0 → 8 of 8
        "received_reused": 2,  # reuse 0.2 / 0.8 → 1.5 of 6
        "events": 20,
        "events_timely": 19,  # sync 0.95 → 17.1 of 18
        "progress_total": 8,
        "progress_on_time": 6,  # progress 0.75 → 15 of 20
        "resolved_with_due": 5,
        "resolved_on_time": 5,  # reported, not scored by the default profile
    }
    card = score_counters(counters, default_profile)
    expected_points = 9.6 + 8 + 1.5 + 17.1 + 15
    assert card.score == pytest.approx(100 * expected_points / (12 + 8 + 6 + 18 + 20))
    assert card.rates["on_time_rate"] == 1.0
    assert card.points["online_payment_rate"] is None
    assert card.points["e_result_rate"] is None
    digitization = card.groups["digitization"]
    assert digitization.points == pytest.approx(9.5)
    assert (digitization.max, digitization.rated_max) == (22, 14)
    # SPEC §6 (revised): a group with no rated indicator has points null, never 0.
    assert card.groups["payment"].points is None and card.groups["payment"].rated_max == 0


def test_perfect_figures_score_100(default_profile: ScoreProfile) -> None:
    counters = {name: 3 for name in ("received", "received_online", "received_digitized", "received_reused")}
    counters |= {"resolved": 2, "resolved_e_result": 2, "payments": 5, "payments_online": 4}
    counters |= {"ratings": 10, "ratings_satisfied": 9, "events": 7, "events_timely": 7}
    counters |= {"progress_total": 4, "progress_on_time": 4}
    assert score_counters(counters, default_profile).score == pytest.approx(100)


PROFILE_HEAD = "name: p\ngroups:\n  - key: g\n    name_vi: Nhóm\n    name_en: Group\n    indicators:\n"


@pytest.mark.parametrize(
    ("indicators", "message"),
    [
        ("      - {name: online_rate, weight: 0, target: 0.5}\n", "greater than 0"),
        ("      - {name: online_rate, weight: -3, target: 0.5}\n", "greater than 0"),
        ("      - {name: online_rate, weight: true, target: 0.5}\n", "valid number"),
        ("      - {name: online_rate, weight: 5, target: 0}\n", "greater than 0"),
        ("      - {name: online_rate, weight: 5, target: 1.2}\n", "less than or equal to 1"),
        ("      - {name: speed_rate, weight: 5, target: 0.5}\n", "unknown indicator"),
        ("      - {name: online_rate, weight: 5, target: 0.5, bonus: 1}\n", "Extra inputs"),
        (
            "      - {name: online_rate, weight: 5, target: 0.5}\n      - {name: online_rate, weight: 1, target: 1}\n",
            "more than once",
        ),
        ("      []\n", "at least 1"),
    ],
)
def test_invalid_profiles_are_refused(indicators: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_profile(PROFILE_HEAD + indicators)


def test_profile_text_must_be_a_yaml_mapping() -> None:
    with pytest.raises(ValueError, match="YAML mapping"):
        parse_profile("- just a list\n")
    with pytest.raises(ValueError, match="not valid YAML"):
        parse_profile("name: [unclosed\n")


def test_total_weight_need_not_be_100() -> None:
    profile = parse_profile(PROFILE_HEAD + "      - {name: online_rate, weight: 2.5, target: 0.5}\n")
    assert profile.total_weight == 2.5
    card = score_counters({"received": 4, "received_online": 1}, profile)
    assert card.score == pytest.approx(50.0)
    assert card.groups["g"].points == pytest.approx(1.25)
