"""Response models of the scoring API (SPEC §6), documented field by field for OpenAPI."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from shared.indicators import Counters, Rates


class Live(BaseModel):
    open: int = Field(description="Dossiers received and not ended (đang giải quyết)")
    overdue_open: int = Field(description="Open, not on hold, past their effective due (quá hạn)")
    due_soon: int = Field(description="Open, not on hold, due within 24 h (sắp đến hạn)")
    as_of: datetime = Field(description="Instant these live counters were computed")


class GroupPoints(BaseModel):
    points: float = Field(description="Points earned in the group (unrounded)")
    max: float = Field(description="Maximum points of the group in the profile")


class Indicators(BaseModel):
    unit_id: str = Field(description="Unit identifier")
    name: str = Field(description="Unit name (Vietnamese)")
    level: str = Field(description="city, department, district or commune")
    period: str = Field(description="Month, YYYY-MM in Vietnam time")
    counters: Counters = Field(description="Monthly counters of the unit and its subtree (SPEC §4)")
    live: Live = Field(description="Live counters as of `live.as_of`")
    rates: Rates = Field(description="Nine rates (SPEC §5); null when the denominator is 0")
    groups: dict[str, GroupPoints] = Field(description="Points per index group (publicity, progress, …)")
    points: dict[str, float | None] = Field(description="Points per indicator of the profile")
    score: float | None = Field(description="Score out of 100; null when every rate is null")
    rank: int | None = Field(description="Rank among the units of the same level for the period; 1 is best")
    rank_of: int = Field(description="Number of units of that level")


class RankingItem(BaseModel):
    rank: int | None = Field(description="1 is best; null when the score is null (listed last)")
    unit_id: str = Field(description="Unit identifier")
    name: str = Field(description="Unit name")
    score: float | None = Field(description="Score out of 100")
    rates: Rates = Field(description="The unit's rates")
    groups: dict[str, GroupPoints] = Field(description="Points per group")
    overdue_open: int | None = Field(description="Open overdue dossiers now (current period only)")


class Rankings(BaseModel):
    level: str = Field(description="Level ranked")
    period: str = Field(description="Month, YYYY-MM")
    rank_of: int = Field(description="Number of units of that level")
    items: list[RankingItem] = Field(description="Units in rank order")


class UnitNode(BaseModel):
    unit_id: str = Field(description="Unit identifier")
    name: str = Field(description="Unit name")
    level: str = Field(description="Level")
    parent_id: str | None = Field(description="Parent unit, null for the city")
    children: list[str] = Field(description="Child unit ids")


class UnitList(BaseModel):
    items: list[UnitNode] = Field(description="Every unit of the registry")


class DossierItem(BaseModel):
    dossier_id: str = Field(description="Dossier identifier (mã hồ sơ)")
    procedure_id: str | None = Field(description="Procedure code (mã TTHC)")
    unit_id: str = Field(description="Home unit (where it was received)")
    due_at: datetime = Field(description="Effective due (hạn trả kết quả)")
    received_at: datetime = Field(description="When it was received")
    days_late: float = Field(description="Days past due at `as_of` (negative: days left)")


class DossierPage(BaseModel):
    unit_id: str = Field(description="Unit asked for")
    state: str = Field(description="overdue or due_soon")
    as_of: datetime = Field(description="Instant of the query")
    items: list[DossierItem] = Field(description="Dossiers ordered by due, then id")
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null at the end")


class HistoryMonth(BaseModel):
    period: str = Field(description="Month, YYYY-MM")
    counters: Counters = Field(description="Monthly counters")
    rates: Rates = Field(description="Rates")
    score: float | None = Field(description="Score out of 100")
    groups: dict[str, GroupPoints] = Field(description="Points per group")


class History(BaseModel):
    unit_id: str = Field(description="Unit identifier")
    name: str = Field(description="Unit name")
    months: list[HistoryMonth] = Field(description="Oldest first, ending with the current month")


class Dashboard(BaseModel):
    received_today: int = Field(description="Dossiers received today (Vietnam time)")
    received_this_month: int = Field(description="Dossiers received in the period")
    in_progress: int = Field(description="Open dossiers now")
    resolved_this_month: int = Field(description="Dossiers resolved in the period")
    overdue: int = Field(description="Open overdue dossiers now (cumulative, lũy kế)")
    due_soon: int = Field(description="Open dossiers due within 24 h")


class Summary(Indicators):
    dashboard: Dashboard = Field(description="The counts a live dashboard shows")


class DeadLetter(BaseModel):
    id: int = Field(description="Row id (use as `before` to page)")
    topic: str = Field(description="Source topic")
    partition: int = Field(description="Source partition")
    offset: int = Field(description="Source offset")
    record_key: str | None = Field(description="Record key")
    record_value: str | None = Field(description="Record value as text")
    event_id: str | None = Field(description="event_id when it could be read")
    error: str = Field(description="Rejection code")
    detail: str = Field(description="Why it was rejected")
    dead_at: datetime = Field(description="When it was dead-lettered")


class DeadLetters(BaseModel):
    total: int = Field(description="Dead-lettered records in all")
    items: list[DeadLetter] = Field(description="Newest first")
