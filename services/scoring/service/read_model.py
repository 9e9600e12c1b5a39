"""The typed read model: what the read API answers and what the `unit-indicators` message carries.

One model per concept. The monthly counters, the rates and the live counters are the message's own models
(shared/indicators.py: Counters, Rates, LiveCounters), so the API and the message say the same thing with the same
names; `Indicators` is a unit's figures as the API shows them, and the publisher builds the message from it
(service/publisher.py). Models are built once per version of the read tables they come from (the read bodies are
cached by those tables, entrypoints/read_bodies.py), never per request.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated

from pydantic import BaseModel, Field

from shared.indicators import Counters, LiveCounters, Rates


class NamedUnit(BaseModel):
    """The unit a body is about, as the bodies that start with it name it."""

    unit_id: str = Field(description="Unit identifier")
    name: str = Field(description="Unit name")


NextCursor = Annotated[str | None, Field(description="Pass as `cursor` for the next page; null on the last page")]
"""The last field of a paged list (the to-do and open-dossier pages)."""


class DossierRef(BaseModel):
    """A dossier as the dossier lists start each item: which one, its procedure, its home unit."""

    dossier_id: str = Field(description="Dossier identifier (mã hồ sơ)")
    procedure_id: str | None = Field(description="Procedure code (mã TTHC)")
    unit_id: str = Field(description="Home unit (where it was received)")


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
    live: LiveCounters = Field(description="Live counters as of `live.as_of`")
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
    progress_total: int = Field(0, description="Dossiers in play in the period (tiến độ: tổng số hồ sơ)")
    unranked_reason: str | None = Field(
        None, description="no_data or too_few_dossiers when rank is null; null for a ranked unit"
    )
    overdue_open: int | None = Field(description="Open overdue dossiers now (current period only)")


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


class UnitNode(NamedUnit):
    level: str = Field(description="Level")
    parent_id: str | None = Field(description="Parent unit, null for the city")
    children: list[str] = Field(description="Child unit ids")
    valid_from: date | None = Field(None, description="First day the unit exists (null: since always)")
    valid_to: date | None = Field(None, description="First day it no longer exists (null: it exists)")
    successor_id: str | None = Field(None, description="The unit it was merged into (retired units)")
    predecessors: list[str] = Field(default_factory=list, description="Units merged into this one")


class UnitTree(BaseModel):
    """The unit registry as a tree (children, predecessors) — the scoring API's /v1/units."""

    items: list[UnitNode] = Field(description="Every unit of the registry")


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


class History(NamedUnit):
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
