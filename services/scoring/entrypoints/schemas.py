"""Response models of the scoring API (SPEC §6), documented field by field for OpenAPI."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

from pydantic import BaseModel, Field, StrictInt

from shared.http import PG_BIGINT_MAX
from shared.indicators import Counters, Rates

# A dead-letter row id: an integer (true/false or "1" are refused), within PostgreSQL's bigint.
RowId = Annotated[StrictInt, Field(ge=1, le=PG_BIGINT_MAX)]


class Live(BaseModel):
    open: int = Field(description="Dossiers received and not ended (đang giải quyết)")
    overdue_open: int = Field(description="Open, not on hold, past their effective due (quá hạn)")
    due_soon: int = Field(description="Open, not on hold, due within 24 h (sắp đến hạn)")
    as_of: datetime = Field(description="Instant these live counters were computed")


class GroupPoints(BaseModel):
    points: float | None = Field(
        description="Points earned in the group (unrounded); null when none of its indicators has a rate (no data: "
        "shown as '—', never 0 — the score is re-weighted without the group)"
    )
    max: float = Field(description="Maximum points of the group in the profile")


class Indicators(BaseModel):
    unit_id: str = Field(description="Unit identifier")
    name: str = Field(description="Unit name (Vietnamese)")
    level: str = Field(description="city, department, district or commune")
    period: str = Field(description="Month, YYYY-MM in Vietnam time")
    counters: Counters = Field(
        description="Monthly counters of the unit, its subtree and the units retired into it (SPEC §1, §4)"
    )
    live: Live = Field(description="Live counters as of `live.as_of`")
    rates: Rates = Field(description="Nine rates (SPEC §5); null when the denominator is 0")
    groups: dict[str, GroupPoints] = Field(description="Points per index group (publicity, progress, …)")
    points: dict[str, float | None] = Field(description="Points per indicator of the profile")
    score: float | None = Field(description="Score out of 100; null when every rate is null")
    rank: int | None = Field(description="Rank among the units of the same level for the period; 1 is best")
    rank_of: int = Field(description="Number of ranked units of that level in the period")
    unranked_reason: str | None = Field(
        None,
        description="Why rank is null: no_data (score null), too_few_dossiers (fewer than the profile's "
        "min_dossiers in play), not_in_period (the unit did not exist in the period)",
    )
    exists_in_period: bool = Field(True, description="Whether the unit existed at some time in the period")


class RankingItem(BaseModel):
    rank: int | None = Field(description="1 is best; null when not ranked (listed after the ranked units)")
    unit_id: str = Field(description="Unit identifier")
    name: str = Field(description="Unit name")
    score: float | None = Field(description="Score out of 100")
    rates: Rates = Field(description="The unit's rates")
    groups: dict[str, GroupPoints] = Field(description="Points per group")
    overdue_open: int | None = Field(description="Open overdue dossiers now (current period only)")
    progress_total: int = Field(0, description="Dossiers in play in the period (tiến độ: tổng số hồ sơ)")
    unranked_reason: str | None = Field(
        None, description="no_data or too_few_dossiers when rank is null; null for a ranked unit"
    )


class Rankings(BaseModel):
    level: str = Field(description="Level ranked")
    period: str = Field(description="Month, YYYY-MM")
    rank_of: int = Field(description="Number of ranked units (the units that existed in the period)")
    min_dossiers: int = Field(20, description="Fewer dossiers in play than this leaves a unit unranked")
    items: list[RankingItem] = Field(
        description="The units of the level that existed in the period: ranked ones in rank order, then the "
        "unranked ones in unit_id order"
    )
    next_cursor: str | None = Field(
        None, description="With `limit`: pass as `cursor` for the next page; null on the last page, and for all units"
    )


class UnitNode(BaseModel):
    unit_id: str = Field(description="Unit identifier")
    name: str = Field(description="Unit name")
    level: str = Field(description="Level")
    parent_id: str | None = Field(description="Parent unit, null for the city")
    children: list[str] = Field(description="Child unit ids")
    valid_from: date | None = Field(None, description="First day the unit exists (null: since always)")
    valid_to: date | None = Field(None, description="First day it no longer exists (null: it exists)")
    successor_id: str | None = Field(None, description="The unit it was merged into (retired units)")
    predecessors: list[str] = Field(default_factory=list, description="Units merged into this one")


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
    exists: bool = Field(
        True,
        description="Whether the unit existed in that month; false for the months before a new unit, whose "
        "figures are then those of its predecessors' facts only if they count for it (SPEC §1)",
    )


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
    status: str = Field(
        "dead",
        description="dead (broke the contract), pending (named a unit not yet registered: applied automatically "
        "once it is), applied (re-applied), discarded (by an operator)",
    )
    unit_id: str | None = Field(None, description="The unit a pending record waits for")
    resolved_at: datetime | None = Field(None, description="When it was applied or discarded")
    attempts: int = Field(0, description="How many times it was tried again")


class DeadLetters(BaseModel):
    total: int = Field(description="Dead-lettered records matching the filter")
    by_status: dict[str, int] = Field(default_factory=dict, description="Count of every record per status")
    items: list[DeadLetter] = Field(description="Newest first")


class RedriveRequest(BaseModel):
    ids: list[RowId] = Field(
        min_length=1, max_length=5000, description="Dead letters (pending or dead) to apply again, by row id"
    )


class DiscardRequest(BaseModel):
    ids: list[RowId] = Field(min_length=1, max_length=5000, description="Dead letters to mark discarded, by row id")
    reason: str = Field(min_length=1, max_length=500, description="Why (kept in the row's detail)")


class RedriveResult(BaseModel):
    applied: int = Field(description="Records applied (their events counted, or found already counted)")
    still_rejected: int = Field(description="Records still rejected; their rows keep the new reason")
    duplicates: int = Field(description="Events among those that were already counted")


class DiscardResult(BaseModel):
    discarded: int = Field(description="Rows marked discarded (only pending or dead rows can be)")
