"""The monthly publication's table (thông báo kết quả xếp hạng hằng tháng), pure: every ranked level, every unit.

For each level (departments, districts, communes) and every unit of it, in rank order: score, rank, the change of
score and rank against the previous month and the one before, the points of each profile group, the unit's overdue
dossiers and its share of the city's overdue total ("Sở Tư pháp: 24,130 of 53,828, 44.8 %").

"Overdue" here is the month's cumulative late count of SPEC §4, progress_total − progress_on_time: dossiers in play
in the month that were not on time at its evaluation instant (open past their due, or ended late in the month). It
exists for every month and is final once the month has ended, which a notice about a past month needs; the live
`overdue_open` only exists "now". docs/dashboard.md explains the choice.

The table is read by service/reports.py and rendered by adapters/report_formats.py (CSV, XLSX, JSON) and, as the
city's written notice, by domain/notice.py and adapters/notice_render.py (DOCX, PDF).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from services.scoring.domain.profile import ScoreProfile
from services.scoring.domain.timebase import month_label

ReportFormat = Literal["csv", "xlsx", "json"]
REPORT_LEVELS: tuple[str, ...] = ("department", "district", "commune")
LEVEL_NAMES_VI = {"department": "Sở, ban, ngành", "district": "Quận, huyện, thị xã", "commune": "Phường, xã, thị trấn"}


@dataclass(frozen=True, slots=True)
class GroupColumn:
    key: str
    name_vi: str
    max_points: float


@dataclass(frozen=True, slots=True)
class UnitFigures:
    """One unit's ranked figures for one month."""

    unit_id: str
    name: str
    score: float | None
    rank: int | None
    rank_of: int
    group_points: Mapping[str, float | None]
    overdue: int
    overdue_open: int | None = None
    """Open overdue dossiers at the moment of the report; only for the current month."""


@dataclass(frozen=True, slots=True)
class ReportRow:
    level: str
    unit_id: str
    name: str
    rank: int | None
    rank_of: int
    score: float | None
    score_change_1: float | None
    """score − score of the previous month; None when either is null."""
    score_change_2: float | None
    """score − score of the month before the previous one."""
    rank_change_1: int | None
    """previous rank − rank: positive means the unit moved up."""
    rank_change_2: int | None
    group_points: tuple[float | None, ...]
    """In the order of `MonthlyReport.groups`."""
    overdue: int
    overdue_share: float | None
    """overdue / the city's overdue total, a fraction; None when the city has none."""
    overdue_open: int | None


@dataclass(frozen=True, slots=True)
class MonthlyReport:
    period: str
    previous: str
    before_previous: str
    profile_name: str
    generated_at: datetime
    groups: tuple[GroupColumn, ...]
    city_overdue: int
    rows: tuple[ReportRow, ...]


def group_columns(profile: ScoreProfile) -> tuple[GroupColumn, ...]:
    return tuple(GroupColumn(g.key, g.name_vi, g.max_points) for g in profile.groups)


def overdue_of(counters: Mapping[str, int]) -> int:
    """The month's cumulative late dossiers: in play and not on time at the evaluation instant (SPEC §4)."""
    return int(counters.get("progress_total", 0)) - int(counters.get("progress_on_time", 0))


def _difference(now: float | None, then: float | None) -> float | None:
    return None if now is None or then is None else now - then


def _rank_change(now: int | None, then: int | None) -> int | None:
    return None if now is None or then is None else then - now


def build_report(
    period: int,
    groups: Sequence[GroupColumn],
    levels: Mapping[str, tuple[Sequence[UnitFigures], Sequence[UnitFigures], Sequence[UnitFigures]]],
    city_overdue: int,
    profile_name: str,
    generated_at: datetime,
) -> MonthlyReport:
    """`levels[level]` = (figures of the month in rank order, of the previous month, of the month before)."""
    rows: list[ReportRow] = []
    for level in REPORT_LEVELS:
        if level not in levels:
            continue
        current, previous, before = levels[level]
        by_id_1 = {f.unit_id: f for f in previous}
        by_id_2 = {f.unit_id: f for f in before}
        for unit in current:
            one, two = by_id_1.get(unit.unit_id), by_id_2.get(unit.unit_id)
            rows.append(
                ReportRow(
                    level=level,
                    unit_id=unit.unit_id,
                    name=unit.name,
                    rank=unit.rank,
                    rank_of=unit.rank_of,
                    score=unit.score,
                    score_change_1=_difference(unit.score, one.score if one else None),
                    score_change_2=_difference(unit.score, two.score if two else None),
                    rank_change_1=_rank_change(unit.rank, one.rank if one else None),
                    rank_change_2=_rank_change(unit.rank, two.rank if two else None),
                    group_points=tuple(unit.group_points.get(g.key) for g in groups),
                    overdue=unit.overdue,
                    overdue_share=unit.overdue / city_overdue if city_overdue > 0 else None,
                    overdue_open=unit.overdue_open,
                )
            )
    return MonthlyReport(
        period=month_label(period),
        previous=month_label(period - 1),
        before_previous=month_label(period - 2),
        profile_name=profile_name,
        generated_at=generated_at,
        groups=tuple(groups),
        city_overdue=city_overdue,
        rows=tuple(rows),
    )
