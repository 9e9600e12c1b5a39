"""Month-end forecast (dự báo cuối tháng): where a unit's score, progress rate and rank land at the month's end.

Two scenarios for the current month M (end E), both from what is known now:

- **worst — "if nothing more is done"** (nếu không xử lý thêm): no new dossier, no new event. Open dossiers due
  before E that stay open become late; dossiers on hold stay on hold (on time); every other counter stays as it is.
  That is exactly the stored current-month counters: domain/counters.py evaluates every open dossier at E "as if
  the month had already ended".
- **best — every open dossier due this month finished on time** (xử lý đúng hạn toàn bộ): each open dossier not on
  hold now with now ≤ effective due < E — the ones the live ``progress_correction`` counts — is resolved before its
  due, by its home unit, with an electronic result, its status event synchronised within 24 h. So it adds one to
  ``progress_on_time`` and to ``resolved``, ``resolved_with_due``, ``resolved_on_time``, ``resolved_e_result``,
  ``events`` and ``events_timely``. Overdue dossiers cannot become on time; holds stay as they are.

The current figures (stored + live correction) add the same dossiers to ``progress_on_time`` only, so the best
case's progress rate equals today's and the worst case's is what is lost if they slip past their due.

Ranks are forecast within the level "computed the same way": every unit of the level in the worst case ranked
against the others' worst cases, and likewise for the best case (SPEC §5 order and ``min_dossiers``; the dossiers
in play do not change in either scenario, so neither does eligibility).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass

from services.scoring.domain.profile import ScoreProfile
from services.scoring.domain.rank import RankedUnit, RankEntry, rank_units
from services.scoring.domain.score import ScoreCard, score_counters
from shared.indicators import COUNTER_NAMES

FINISHED_ON_TIME_COUNTERS: tuple[str, ...] = (
    "resolved",
    "resolved_with_due",
    "resolved_on_time",
    "resolved_e_result",
    "events",
    "events_timely",
)
"""What one dossier resolved on time (best case) adds besides progress_on_time."""

SCENARIOS: tuple[str, ...] = ("current", "worst", "best")


@dataclass(frozen=True, slots=True)
class ForecastInput:
    """One unit's figures for the current month."""

    stored: Mapping[str, int]
    """Stored month counters, subtree and retired units included: open dossiers evaluated at the month's end."""
    due_this_month: int
    """Open dossiers counted for the unit, not on hold now, with now ≤ effective due < month end (the live
    ``progress_correction``)."""


@dataclass(frozen=True, slots=True)
class Scenario:
    counters: dict[str, int]
    card: ScoreCard
    ranked: RankedUnit | None
    """None when the unit is not among the units of the level that exist in the month."""


@dataclass(frozen=True, slots=True)
class UnitForecast:
    current: Scenario
    worst: Scenario
    best: Scenario
    due_this_month: int


def _full(counters: Mapping[str, int]) -> dict[str, int]:
    return {name: int(counters.get(name, 0)) for name in COUNTER_NAMES}


def current_counters(item: ForecastInput) -> dict[str, int]:
    """Today's figures: the stored counters plus the live correction (the dossiers still on time now)."""
    counters = _full(item.stored)
    counters["progress_on_time"] += item.due_this_month
    return counters


def worst_counters(item: ForecastInput) -> dict[str, int]:
    """Nothing more done: the stored counters as they are."""
    return _full(item.stored)


def finish_on_time(counters: Mapping[str, int], n: int, *, due_before_end: bool = True) -> dict[str, int]:
    """`counters` with `n` more open dossiers resolved on time (negative `n` takes such resolutions away).

    A dossier due before the month's end also turns from late to on time at the month's end (progress_on_time);
    one due later is on time at the month's end either way.
    """
    out = _full(counters)
    for name in FINISHED_ON_TIME_COUNTERS:
        out[name] = max(0, out[name] + n)
    if due_before_end:
        out["progress_on_time"] = max(0, out["progress_on_time"] + n)
    return out


def best_counters(item: ForecastInput) -> dict[str, int]:
    """Every open dossier due this month (not overdue, not on hold) finished on time."""
    return finish_on_time(item.stored, item.due_this_month)


_BUILDERS = {"current": current_counters, "worst": worst_counters, "best": best_counters}


def forecast_level(
    inputs: Mapping[str, ForecastInput], existing: Collection[str], profile: ScoreProfile
) -> dict[str, UnitForecast]:
    """Current, worst and best figures of every unit of one level, each scenario ranked on its own.

    `inputs`: every unit of the level (a unit absent from `inputs` has no figures); `existing`: those that exist at
    some time in the month and are therefore ranked (SPEC §5).
    """
    scenarios: dict[str, dict[str, tuple[dict[str, int], ScoreCard]]] = {}
    ranks: dict[str, dict[str, RankedUnit]] = {}
    for name, build in _BUILDERS.items():
        computed = {}
        for unit_id, item in inputs.items():
            counters = build(item)
            computed[unit_id] = (counters, score_counters(counters, profile))
        ranked = rank_units(
            (
                RankEntry(uid, card.score, card.rates.get("progress_rate"), counters["progress_total"])
                for uid, (counters, card) in computed.items()
                if uid in existing
            ),
            min_dossiers=profile.min_dossiers,
        )
        scenarios[name] = computed
        ranks[name] = {entry.unit_id: entry for entry in ranked}

    def scenario(name: str, unit_id: str) -> Scenario:
        counters, card = scenarios[name][unit_id]
        return Scenario(counters, card, ranks[name].get(unit_id))

    return {
        unit_id: UnitForecast(
            scenario("current", unit_id), scenario("worst", unit_id), scenario("best", unit_id), item.due_this_month
        )
        for unit_id, item in inputs.items()
    }


ASSUMPTIONS_VI = (
    "Dự báo cho tháng hiện tại, tính từ số liệu đã biết tại thời điểm truy vấn; không tính hồ sơ mới tiếp nhận, "
    "đánh giá hay thanh toán mới. Kịch bản xấu nhất (nếu không xử lý thêm): hồ sơ đang giải quyết có hạn trả trước "
    "cuối tháng mà vẫn chưa xong sẽ thành quá hạn; hồ sơ đang tạm dừng, chờ bổ sung giữ nguyên trạng thái (không "
    "tính quá hạn); hồ sơ đã quá hạn vẫn quá hạn. Kịch bản tốt nhất: mọi hồ sơ đang giải quyết, không tạm dừng, "
    "chưa quá hạn và có hạn trả trong tháng đều được giải quyết đúng hạn, do đơn vị tiếp nhận trả kết quả, có kết quả "
    "điện tử và được đồng bộ trong 24 giờ. Thứ hạng dự báo so với các đơn vị cùng cấp tính theo cùng kịch bản."
)
ASSUMPTIONS_EN = (
    "Forecast for the current month from what is known at the time of the query; no new dossiers, ratings or "
    "payments are assumed. Worst case (if nothing more is done): open dossiers due before the month's end that stay "
    "open become late; dossiers on hold (paused, waiting for a supplement) stay on hold and are not late; overdue "
    "dossiers stay late. Best case: every open dossier not on hold, not yet overdue and due this month is resolved "
    "on time by its home unit, with an electronic result, its status synchronised within 24 hours. Forecast ranks "
    "compare with the other units of the same level in the same scenario."
)
