"""Response models of the action routes: month-end forecast, today's to-do, open dossiers, one dossier."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, Field

from services.scoring.service.read_model import DossierRef, NamedUnit, NextCursor
from shared.indicators import Counters

Bucket = Literal["due_today", "due_tomorrow", "due_this_month", "overdue"]


class ForecastScenario(BaseModel):
    score: float | None = Field(description="Score out of 100 at the month's end in this scenario (null: no data)")
    progress_rate: float | None = Field(description="progress_on_time / progress_total at the month's end")
    rank: int | None = Field(description="Rank among the units of the level, all in the same scenario; 1 is best")
    rank_of: int = Field(description="Number of ranked units of the level in this scenario")
    unranked_reason: str | None = Field(
        description="no_data, too_few_dossiers or not_in_period when rank is null; null when ranked"
    )
    counters: Counters = Field(description="The month's counters in this scenario (SPEC §4)")


class Assumptions(BaseModel):
    vi: str = Field(description="The forecast's assumptions, in Vietnamese")
    en: str = Field(description="The same in English")


class UnitForecastFigures(NamedUnit):
    """A unit's forecast without the assumptions (the single-unit route adds them; the level route gives them once)."""

    level: str = Field(description="Level; ranks are forecast among the units of this level")
    period: str = Field(description="The current month, YYYY-MM (Vietnam time)")
    as_of: datetime = Field(description="Instant of the figures the forecast starts from")
    month_end: datetime = Field(description="End of the month (first instant of the next month)")
    due_this_month: int = Field(
        description="Open dossiers not on hold, not overdue, due before the month's end: late in the worst case, "
        "resolved on time in the best case"
    )
    overdue_open: int = Field(description="Open dossiers already overdue now: late this month in every scenario")
    current: ForecastScenario = Field(description="Today's figures (as /v1/units/{unit_id}/indicators)")
    worst: ForecastScenario = Field(description="Month end if nothing more is done (nếu không xử lý thêm)")
    best: ForecastScenario = Field(
        description="Month end if every open dossier due this month is resolved on time (xử lý đúng hạn toàn bộ)"
    )


class Forecast(UnitForecastFigures):
    assumptions: Assumptions = Field(description="What the scenarios assume (docs/dashboard.md)")


class LevelForecastItem(UnitForecastFigures):
    """One unit of `GET /v1/forecasts`."""

    ancestors: list[str] = Field(description="Parent, grandparent, … up to the city")


class LevelForecasts(BaseModel):
    level: str = Field(description="The level asked for; ranks are forecast among its units")
    period: str = Field(description="The current month, YYYY-MM (Vietnam time)")
    as_of: datetime = Field(description="Instant of the figures the forecasts start from")
    month_end: datetime = Field(description="End of the month (first instant of the next month)")
    items: list[LevelForecastItem] = Field(description="Every unit of the level that exists this month, by unit_id")
    assumptions: Assumptions = Field(description="What the scenarios assume (docs/dashboard.md)")


class TodoTotals(BaseModel):
    due_today: int = Field(description="Open, not on hold, due from now until midnight tonight (Vietnam time)")
    due_tomorrow: int = Field(description="Open, not on hold, due tomorrow (Vietnam calendar day)")
    due_this_month: int = Field(description="Open, not on hold, due after tomorrow and before the month's end")
    overdue: int = Field(description="Open, not on hold, past their due: already late this month (listed apart)")


class ListedDossier(DossierRef):
    """An open dossier as the to-do and open-dossier lists show it (their own fields follow these)."""

    unit_name: str = Field(description="Home unit's name")
    received_at: datetime = Field(description="When it was received")
    due_at: datetime = Field(description="Effective due (hạn trả kết quả)")


class TodoItem(ListedDossier):
    bucket: Bucket = Field(description="due_today, due_tomorrow, due_this_month, or overdue")
    hours_left: float = Field(description="Hours from as_of to the due (negative: overdue)")
    progress_points: float = Field(
        description="Percentage points of the unit's month-end progress rate that finishing it on time protects "
        "(0 for overdue dossiers and those due after the month's end)"
    )
    score_gain: float | None = Field(
        description="Unit's month-end best-case score with this dossier finished on time minus without it; null "
        "for overdue dossiers (they cannot be on time) or when a score is null"
    )


class TodoPage(BaseModel):
    unit_id: str = Field(description="Unit asked for (its subtree and units retired into it included)")
    name: str = Field(description="Unit name")
    period: str = Field(description="The current month, YYYY-MM")
    as_of: datetime = Field(description="Instant the buckets are evaluated at (kept across pages by the cursor)")
    today: date = Field(description="Today's date in Vietnam time")
    section: Literal["all", "upcoming", "overdue"] = Field(description="The part of the list asked for")
    totals: TodoTotals = Field(description="Dossiers in each bucket")
    total: int = Field(description="Dossiers in the section asked for (all pages)")
    progress_total: int = Field(description="The unit's dossiers in play this month (progress_total)")
    items: list[TodoItem] = Field(
        description="To-do first (due today, tomorrow, later this month, by due), then the overdue ones by due"
    )
    next_cursor: NextCursor


class OpenDossier(ListedDossier):
    on_hold: bool = Field(description="On hold now (supplement requested or paused)")
    status: Literal["on_hold", "overdue", "due_soon", "in_time"] = Field(
        description="on_hold; else overdue (past due), due_soon (within 24 h) or in_time"
    )
    hours_left: float = Field(description="Hours from as_of to the due (negative: overdue)")


class OpenDossierPage(BaseModel):
    unit_id: str = Field(description="Unit asked for (subtree and units retired into it included)")
    name: str = Field(description="Unit name")
    as_of: datetime = Field(description="Instant of the query")
    total: int = Field(description="Open dossiers (all pages) — the live counter `open`")
    on_hold: int = Field(description="Of which on hold now")
    items: list[OpenDossier] = Field(description="By effective due, then dossier_id")
    next_cursor: NextCursor


class UnitRef(BaseModel):
    unit_id: str = Field(description="Unit identifier")
    name: str | None = Field(description="Unit name; null when the registry does not know the unit")


class EventRef(BaseModel):
    """The event a part of the dossier's state comes from, and the unit named on it."""

    event_id: str = Field(description="The event (for receipt and resolution the earliest, for rating the latest)")
    unit_id: str = Field(description="Unit named on it (the home unit, for the receipt)")


class ReceiptView(EventRef):
    received_at: datetime = Field(description="Receipt time")
    channel: str = Field(description="online, direct or postal")
    digitized: bool = Field(description="Digitised at reception")
    reused_data: bool = Field(description="Data reused")


class ResolutionView(EventRef):
    resolved_at: datetime = Field(description="Resolution time")
    outcome: str = Field(description="approved or refused")
    e_result: bool = Field(description="Electronic result")
    on_time: bool = Field(description="Resolved at or before the effective due")


class WithdrawalView(EventRef):
    withdrawn_at: datetime = Field(description="Withdrawal time")


class HoldPeriod(BaseModel):
    start: datetime = Field(description="Start of a period on hold")
    end: datetime | None = Field(description="Its end (the release); null while it lasts")


class RatingView(EventRef):
    rated_at: datetime = Field(description="Its time")
    level: str = Field(description="very_satisfied, satisfied or dissatisfied")


class PaymentView(EventRef):
    paid_at: datetime = Field(description="Its time")
    method: str | None = Field(description="online or counter")
    amount: int | None = Field(description="VND")


class StoredEvent(BaseModel):
    """Every distinct event (the copy that counts), in SPEC order; fields of other types are absent."""

    model_config = {"extra": "allow"}
    event_id: str = Field(description="Event identifier")
    type: str = Field(description="Event type (SPEC §2)")
    unit_id: str = Field(description="Unit named on the event")
    occurred_at: datetime = Field(description="When it happened")
    ingested_at: datetime = Field(description="When it was ingested (the copy that counts)")


class CounterMembership(BaseModel):
    month: str = Field(description="YYYY-MM")
    named_unit: str = Field(description="Unit named on the fact (the home unit for progress counters)")
    counts_for: str = Field(
        description="Unit the fact counts for in that month (the named unit, or its successor once retired); its "
        "ancestors include it too"
    )
    counter: str = Field(description="Counter name (SPEC §4)")
    value: int = Field(description="What the dossier adds to it")


class CurrentMonth(BaseModel):
    month: str = Field(description="The current month")
    progress_correction: int = Field(
        description="The dossier's live correction to progress_on_time of the current month (+1: on time now, "
        "counted late in the stored month-end evaluation)"
    )


class DossierView(BaseModel):
    dossier_id: str = Field(description="Dossier identifier")
    procedure_id: str | None = Field(description="Procedure code")
    status: Literal["open", "resolved", "withdrawn", "no_receipt"] = Field(
        description="open, resolved, withdrawn (whichever ended it first), or no_receipt (no `received` yet)"
    )
    as_of: datetime = Field(description="Instant of the query")
    home_unit: UnitRef | None = Field(description="Unit of the receipt")
    counts_for_today: UnitRef | None = Field(
        description="Unit whose live figures count the dossier today (the home unit or, once retired, its successor)"
    )
    receipt: ReceiptView | None = Field(description="Tiếp nhận")
    effective_due: datetime | None = Field(description="Hạn trả kết quả: due_at of the latest event that carries one")
    resolution: ResolutionView | None = Field(description="Có kết quả")
    withdrawal: WithdrawalView | None = Field(description="Rút hồ sơ")
    holds: list[HoldPeriod] = Field(description="Periods on hold (supplement requested, paused)")
    on_hold_now: bool = Field(description="On hold at as_of")
    rating: RatingView | None = Field(description="The rating that counts (latest)")
    payments: list[PaymentView] = Field(description="Payments")
    live: dict[str, int] = Field(description="Its live counters now (open, overdue_open, due_soon: 0 or 1)")
    events: list[StoredEvent] = Field(description="Every stored event")
    counters: list[CounterMembership] = Field(description="The monthly counters it is in, by month then counter")
    current_month: CurrentMonth = Field(description="Its live correction to the current month's progress")
