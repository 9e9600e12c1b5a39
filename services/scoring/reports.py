"""The monthly publication (thông báo kết quả xếp hạng hằng tháng): every ranked level, every unit, CSV or XLSX.

For each level (departments, districts, communes) and every unit of it, in rank order: score, rank, the change of
score and rank against the previous month and the one before, the points of each profile group, the unit's overdue
dossiers and its share of the city's overdue total ("Sở Tư pháp: 24,130 of 53,828, 44.8 %").

"Overdue" here is the month's cumulative late count of SPEC §4, progress_total − progress_on_time: dossiers in play
in the month that were not on time at its evaluation instant (open past their due, or ended late in the month). It
exists for every month and is final once the month has ended, which a notice about a past month needs; the live
`overdue_open` only exists "now". docs/dashboard.md explains the choice.

Building the table (`build_report`, `figures_from_table`) and rendering it (`report_csv`, `report_xlsx`,
`report_json`) are pure; `load_report` reads the scoring reader; `main` is the CLI:

    python -m services.scoring.reports --period 2026-10 --format xlsx --out thong-bao-2026-10.xlsx
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from services.scoring.domain.profile import ScoreProfile
from services.scoring.domain.rank import RankedUnit
from services.scoring.domain.timebase import month_label, parse_month
from services.scoring.report_formats import (
    LEVEL_NAMES_VI,
    MEDIA_TYPES,
    REPORT_LEVELS,
    GroupColumn,
    MonthlyReport,
    ReportFormat,
    ReportRow,
    UnitFigures,
    file_name,
    headers,
    render,
    report_csv,
    report_json,
    report_xlsx,
)

if TYPE_CHECKING:
    from services.scoring.reading import Period, ScoringReader

__all__ = [
    "LEVEL_NAMES_VI",
    "MEDIA_TYPES",
    "REPORT_LEVELS",
    "GroupColumn",
    "MonthlyReport",
    "ReportFormat",
    "ReportRow",
    "UnitFigures",
    "build_report",
    "figures_from_table",
    "file_name",
    "group_columns",
    "headers",
    "load_report",
    "main",
    "overdue_of",
    "render",
    "report_csv",
    "report_json",
    "report_xlsx",
]


def group_columns(profile: ScoreProfile) -> tuple[GroupColumn, ...]:
    return tuple(GroupColumn(g.key, g.name_vi, g.max_points) for g in profile.groups)


def overdue_of(counters: Mapping[str, int]) -> int:
    """The month's cumulative late dossiers: in play and not on time at the evaluation instant (SPEC §4)."""
    return int(counters.get("progress_total", 0)) - int(counters.get("progress_on_time", 0))


def figures_from_table(
    ranked: Sequence[RankedUnit],
    details: Mapping[str, Any],
    names: Mapping[str, str],
    current: bool = False,
) -> list[UnitFigures]:
    """A level table of the scoring reader (rank order; counters, score card, live figures per unit) as report
    input. `current`: the month is the current one, so the live open-overdue count belongs to it."""
    out = []
    for entry in ranked:
        figures = details[entry.unit_id]
        counters, card, live = figures.counters, figures.card, figures.live
        out.append(
            UnitFigures(
                unit_id=entry.unit_id,
                name=names.get(entry.unit_id, entry.unit_id),
                score=card.score,
                rank=entry.rank,
                rank_of=entry.rank_of,
                group_points={key: group.points for key, group in card.groups.items()},
                overdue=overdue_of(counters),
                overdue_open=int(getattr(live, "overdue_open", 0)) if current else None,
            )
        )
    return out


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


async def load_report(reader: ScoringReader, period: Period) -> MonthlyReport:
    """Read the three months of every level from the scoring reader (or anything with the same members)."""
    from services.scoring.reading import resolve_period

    now = reader.clock()
    months = [period, *(resolve_period(month_label(period.month - k), now) for k in (1, 2))]
    names = {u.unit_id: u.name for u in reader.directory.registry}
    levels: dict[str, tuple[list[UnitFigures], list[UnitFigures], list[UnitFigures]]] = {}
    # Fresh tables (not the API's read cache), all with one live snapshot: a notice is a document, exact as of the
    # moment it is generated.
    snapshot = await reader.live_snapshot(fresh=True)
    for level in REPORT_LEVELS:
        tables = [await reader.level_table(level, month, fresh=True, live=snapshot) for month in months]
        figures = [figures_from_table(ranked, details, names, month.is_current)
                   for month, (ranked, details) in zip(months, tables, strict=True)]  # fmt: skip
        levels[level] = (figures[0], figures[1], figures[2])
    _, city_details = await reader.level_table("city", period, fresh=True, live=snapshot)
    city_overdue = sum(overdue_of(figures.counters) for figures in city_details.values())
    profile = reader.profiles.current()
    return build_report(period.month, group_columns(profile), levels, city_overdue, profile.name, now)


async def _load_from_database(database_url: str, period_label: str | None, profile_path: Path) -> MonthlyReport:
    from services.scoring.adapters.units import UnitDirectory
    from services.scoring.reading import ProfileStore, ScoringReader, resolve_period
    from shared.db import create_pool

    pool = await create_pool(database_url, max_size=2)
    try:
        directory = UnitDirectory(pool)
        await directory.load()
        reader = ScoringReader(pool, directory, ProfileStore(profile_path))
        return await load_report(reader, resolve_period(period_label, reader.clock()))
    finally:
        await pool.close()


def main(argv: Iterable[str] | None = None) -> int:
    from services.scoring.settings import REPO_ROOT

    parser = argparse.ArgumentParser(
        prog="python -m services.scoring.reports",
        description="Xuất thông báo xếp hạng hằng tháng / export the monthly ranking notice (CSV or XLSX).",
    )
    parser.add_argument("--period", help="tháng YYYY-MM (giờ Việt Nam); mặc định: tháng hiện tại")
    parser.add_argument("--format", choices=["csv", "xlsx", "json"], default="xlsx")
    parser.add_argument("--out", type=Path, help="tệp kết quả; mặc định: tthc-pulse-xep-hang-<kỳ>.<định dạng>")
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL"))
    default_profile = os.environ.get("PROFILE_PATH", str(REPO_ROOT / "config" / "score_profile.yaml"))
    parser.add_argument("--profile", type=Path, default=Path(default_profile), help="score profile YAML")
    args = parser.parse_args(list(argv) if argv is not None else None)
    if not args.database_url:
        print("DATABASE_URL chưa đặt / DATABASE_URL is not set", file=sys.stderr)
        return 2
    if args.period is not None:
        try:
            parse_month(args.period)
        except ValueError:
            print(f"Kỳ không hợp lệ, cần YYYY-MM / malformed period: {args.period!r}", file=sys.stderr)
            return 2
    report = asyncio.run(_load_from_database(args.database_url, args.period, args.profile))
    out: Path = args.out or Path(file_name(report.period, args.format))
    out.write_bytes(render(report, args.format))
    units = len(report.rows)
    print(f"{out}: {units} đơn vị / units, kỳ / period {report.period}, quá hạn toàn TP / city overdue "
          f"{report.city_overdue}")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
