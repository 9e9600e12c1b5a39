"""Month-end forecast and today's to-do on a month worked out by hand (November 2026, now = 20 Nov 10:00 Hà Nội).

Commune X (the one we look at):
  A  received 02/11, due 10/11, open                       → overdue: late now and at the month's end
  B  received 15/11 online + digitised, due 25/11, open    → due this month: on time now, late at the end if
                                                             nothing is done, on time if finished
  C  received 03/11, due 12/11, supplement asked 05/11     → on hold: on time (holds stay as they are)
  D  received 18/11 online, due 05/12, open                → due next month: on time at the end anyway
  F  received 04/11, due 08/11, resolved 07/11 (no e-result) → ended on time
  7 events, all synced within a minute.
Commune Y: three dossiers (one online) each resolved on time the next day; 6 events synced. No open dossier.
Commune Z: nothing.

X counters: received 5, online 2, digitised 1, reused 0; resolved 1 (on time 1, e-result 0); events 7/7;
progress_total 5, progress_on_time stored at the end 3 (C, D, F) + live correction 1 (B) = 4 now.
Rated weight: publicity 18 + progress 20 + online 12 + digitisation 8 + e-result 8 + reuse 6 = 72 (no payments,
no ratings).
  current: 18 + 20×4/5 + 12×min(0.4/0.5, 1) + 8×1/5 + 0 + 0 = 18 + 16 + 9.6 + 1.6 = 45.2 → 62.777…
  worst:   progress 3/5 → 12                            = 41.2 → 57.222…
  best:    B resolved on time with an e-result, one more timely event: progress 4/5 → 16, e-result 1/2 → 4,
           events 8/8 → 18                              = 49.2 → 68.333…
Y: 18 + 20 + 12×(1/3)/0.5 = 8 → 46 → 63.888… in every scenario.
Ranks among communes: current X 2nd (62.78 < 63.89), worst 2nd, best 1st; Z unranked (no data).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from services.scoring.domain.counters import add_into, contribution, progress_correction
from services.scoring.domain.forecast import (
    FINISHED_ON_TIME_COUNTERS,
    ForecastInput,
    best_counters,
    current_counters,
    finish_on_time,
    forecast_level,
    worst_counters,
)
from services.scoring.domain.profile import ScoreProfile, parse_profile
from services.scoring.domain.rank import UNRANKED_NO_DATA, UNRANKED_TOO_FEW
from services.scoring.domain.state import DossierState
from services.scoring.domain.timebase import to_instant
from tests.unit.scoring.builders import fact, received, vn
from tests.unit.scoring.events import merge

PROFILE_FILE = Path(__file__).resolve().parents[3] / "config" / "score_profile.yaml"
NOW = to_instant(vn("2026-11-20 10:00"))


@pytest.fixture(scope="module")
def profile() -> ScoreProfile:
    return parse_profile(PROFILE_FILE.read_text(encoding="utf-8")).model_copy(update={"min_dossiers": 1})


def x_dossiers() -> list[DossierState]:
    return [
        merge([received("a1", "2026-11-02 09:00", "2026-11-10 17:00", unit="X", dossier="A")]),
        merge(
            [
                received(
                    "b1",
                    "2026-11-15 09:00",
                    "2026-11-25 17:00",
                    unit="X",
                    dossier="B",
                    channel="online",
                    digitized=True,
                )
            ]
        ),
        merge(
            [
                received("c1", "2026-11-03 09:00", "2026-11-12 17:00", unit="X", dossier="C"),
                fact("c2", "supplement_requested", "2026-11-05 09:00", unit="X", dossier="C"),
            ]
        ),
        merge([received("d1", "2026-11-18 09:00", "2026-12-05 17:00", unit="X", dossier="D", channel="online")]),
        merge(
            [
                received("f1", "2026-11-04 09:00", "2026-11-08 17:00", unit="X", dossier="F"),
                fact("f2", "resolved", "2026-11-07 10:00", unit="X", dossier="F", outcome="approved"),
            ]
        ),
    ]


def y_dossiers() -> list[DossierState]:
    out = []
    for i, channel in enumerate(("online", "direct", "direct")):
        day = 5 + i
        out.append(
            merge(
                [
                    received(
                        f"y{i}a",
                        f"2026-11-0{day} 09:00",
                        f"2026-11-0{day + 2} 17:00",
                        unit="Y",
                        dossier=f"Y{i}",
                        channel=channel,
                    ),
                    fact(
                        f"y{i}b", "resolved", f"2026-11-0{day + 1} 09:00", unit="Y", dossier=f"Y{i}", outcome="approved"
                    ),
                ]
            )
        )
    return out


def month_input(states: list[DossierState]) -> ForecastInput:
    """What the service reads: the stored month counters of the unit and its live correction."""
    table: dict = {}
    for state in states:
        add_into(table, contribution(state, NOW))
    stored = {counter: value for (_, month, counter), value in table.items() if month == "2026-11"}
    return ForecastInput(stored, sum(progress_correction(state, NOW) for state in states))


def test_the_hand_computed_counters() -> None:
    x = month_input(x_dossiers())
    assert x.due_this_month == 1  # B only: A is overdue, C on hold, D due next month, F resolved
    assert worst_counters(x)["progress_total"] == 5
    assert worst_counters(x)["progress_on_time"] == 3
    assert current_counters(x)["progress_on_time"] == 4
    best = best_counters(x)
    assert (best["progress_on_time"], best["resolved"], best["resolved_on_time"], best["resolved_e_result"]) == (
        4, 2, 2, 1)  # fmt: skip
    assert (best["events"], best["events_timely"]) == (8, 8)


def test_forecast_scores_and_ranks_of_the_hand_computed_month(profile: ScoreProfile) -> None:
    inputs = {"X": month_input(x_dossiers()), "Y": month_input(y_dossiers()), "Z": ForecastInput({}, 0)}
    result = forecast_level(inputs, {"X", "Y", "Z"}, profile)
    x = result["X"]
    assert x.current.card.score == pytest.approx(100 * 45.2 / 72)
    assert x.worst.card.score == pytest.approx(100 * 41.2 / 72)
    assert x.best.card.score == pytest.approx(100 * 49.2 / 72)
    assert (x.current.card.rates["progress_rate"], x.worst.card.rates["progress_rate"]) == (0.8, 0.6)
    assert x.best.card.rates["progress_rate"] == 0.8
    assert (x.current.ranked.rank, x.worst.ranked.rank, x.best.ranked.rank) == (2, 2, 1)
    assert x.best.ranked.rank_of == 2
    y = result["Y"]
    for scenario in (y.current, y.worst, y.best):
        assert scenario.card.score == pytest.approx(100 * 46 / 72)
    assert result["Z"].best.ranked.rank is None
    assert result["Z"].best.ranked.unranked_reason == UNRANKED_NO_DATA


def test_a_unit_that_does_not_exist_in_the_month_is_not_ranked(profile: ScoreProfile) -> None:
    inputs = {"X": month_input(x_dossiers()), "Y": month_input(y_dossiers())}
    result = forecast_level(inputs, {"Y"}, profile)
    assert result["X"].best.ranked is None
    assert result["Y"].worst.ranked.rank == 1


def test_min_dossiers_applies_in_every_scenario(profile: ScoreProfile) -> None:
    strict = profile.model_copy(update={"min_dossiers": 4})
    result = forecast_level({"X": month_input(x_dossiers()), "Y": month_input(y_dossiers())}, {"X", "Y"}, strict)
    for scenario in (result["Y"].current, result["Y"].worst, result["Y"].best):
        assert scenario.ranked.unranked_reason == UNRANKED_TOO_FEW  # 3 dossiers in play < 4
    assert result["X"].worst.ranked.rank == 1


def test_finish_on_time_adds_and_takes_away_resolutions() -> None:
    base = {"progress_total": 5, "progress_on_time": 3, "resolved": 1}
    more = finish_on_time(base, 2)
    assert more["progress_on_time"] == 5
    assert all(more[name] == base.get(name, 0) + 2 for name in FINISHED_ON_TIME_COUNTERS)
    later = finish_on_time(base, 1, due_before_end=False)
    assert later["progress_on_time"] == 3 and later["resolved"] == 2
    assert finish_on_time(base, -5)["resolved"] == 0  # never negative


def test_no_data_gives_null_scores(profile: ScoreProfile) -> None:
    result = forecast_level({"Z": ForecastInput({}, 0)}, {"Z"}, profile)["Z"]
    assert result.worst.card.score is None and result.best.card.score is None
    assert result.current.card.rates["progress_rate"] is None
