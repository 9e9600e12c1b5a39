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
import csv
import io
import os
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from services.scoring.domain.profile import ScoreProfile
from services.scoring.domain.rank import RankedUnit
from services.scoring.domain.score import ScoreCard
from services.scoring.domain.timebase import month_label, parse_month
from shared.indicators import VIETNAM_TZ

if TYPE_CHECKING:
    from services.scoring.reading import Period, ScoringReader

ReportFormat = Literal["csv", "xlsx", "json"]
REPORT_LEVELS: tuple[str, ...] = ("department", "district", "commune")
LEVEL_NAMES_VI = {"department": "Sở, ban, ngành", "district": "Quận, huyện, thị xã", "commune": "Phường, xã, thị trấn"}
MEDIA_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "json": "application/json",
}


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
    group_points: Mapping[str, float]
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
    group_points: tuple[float, ...]
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


def figures_from_table(
    ranked: Sequence[RankedUnit],
    details: Mapping[str, tuple[Mapping[str, int], ScoreCard, Any]],
    names: Mapping[str, str],
    current: bool = False,
) -> list[UnitFigures]:
    """A level table of the scoring reader (rank order; counters, score card, live figures per unit) as report
    input. `current`: the month is the current one, so the live open-overdue count belongs to it."""
    out = []
    for entry in ranked:
        counters, card, live = details[entry.unit_id]
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
                    group_points=tuple(float(unit.group_points.get(g.key, 0.0)) for g in groups),
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


def headers(report: MonthlyReport) -> list[str]:
    """Vietnamese column headers, the same in CSV and XLSX."""
    return [
        "Cấp",
        "Mã đơn vị",
        "Tên đơn vị",
        "Xếp hạng",
        "Số đơn vị cùng cấp",
        "Điểm (/100)",
        f"Tăng/giảm điểm so với tháng {report.previous}",
        f"Tăng/giảm điểm so với tháng {report.before_previous}",
        f"Tăng/giảm hạng so với tháng {report.previous}",
        f"Tăng/giảm hạng so với tháng {report.before_previous}",
        *(f"{g.name_vi} (tối đa {g.max_points:g})" for g in report.groups),
        "Hồ sơ quá hạn (lũy kế)",
        "Tỷ lệ trên tổng hồ sơ quá hạn của Thành phố (%)",
        "Hồ sơ đang quá hạn tại thời điểm lập",
    ]


def _row_values(row: ReportRow) -> list[Any]:
    return [
        LEVEL_NAMES_VI[row.level],
        row.unit_id,
        row.name,
        row.rank,
        row.rank_of,
        row.score,
        row.score_change_1,
        row.score_change_2,
        row.rank_change_1,
        row.rank_change_2,
        *row.group_points,
        row.overdue,
        row.overdue_share,
        row.overdue_open,
    ]


def _csv_cell(value: Any, percent: bool = False) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        # A notice is read by people: two decimals, as the city's reports print them; the XLSX keeps full precision.
        return f"{value * 100:.2f}" if percent else f"{value:.2f}"
    return str(value)


def report_csv(report: MonthlyReport) -> bytes:
    """UTF-8 (no BOM), comma-separated, one header row; empty cell = no data (null)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(headers(report))
    for row in report.rows:
        values = _row_values(row)
        writer.writerow([_csv_cell(v, percent=i == len(values) - 2) for i, v in enumerate(values)])
    return buffer.getvalue().encode("utf-8")


def report_json(report: MonthlyReport) -> dict[str, Any]:
    return {
        "period": report.period,
        "previous": report.previous,
        "before_previous": report.before_previous,
        "profile": report.profile_name,
        "generated_at": report.generated_at.isoformat(),
        "city_overdue": report.city_overdue,
        "groups": [{"key": g.key, "name_vi": g.name_vi, "max": g.max_points} for g in report.groups],
        "items": [
            {
                "level": r.level,
                "unit_id": r.unit_id,
                "name": r.name,
                "rank": r.rank,
                "rank_of": r.rank_of,
                "score": r.score,
                "score_change_1": r.score_change_1,
                "score_change_2": r.score_change_2,
                "rank_change_1": r.rank_change_1,
                "rank_change_2": r.rank_change_2,
                "groups": {g.key: p for g, p in zip(report.groups, r.group_points, strict=True)},
                "overdue": r.overdue,
                "overdue_share": r.overdue_share,
                "overdue_open": r.overdue_open,
            }
            for r in report.rows
        ],
    }


def report_xlsx(report: MonthlyReport) -> bytes:
    """One sheet per level (frozen header row and name columns, filters, number formats) and an information sheet."""
    from openpyxl import Workbook  # imported here: only the XLSX path needs it
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter

    group_count = len(report.groups)
    formats = ["@", "@", "@", "0", "0", "0.00", "+0.00;-0.00;0.00", "+0.00;-0.00;0.00", "+0;-0;0", "+0;-0;0",
               *(["0.00"] * group_count), "#,##0", "0.0%", "#,##0"]  # fmt: skip
    widths = [20, 22, 38, 9, 11, 10, 16, 16, 14, 14, *([14] * group_count), 14, 18, 16]
    header_font = Font(bold=True, color="FFFFFF")
    header_fill = PatternFill("solid", fgColor="1F4E79")
    wrap = Alignment(wrap_text=True, vertical="center", horizontal="center")

    book = Workbook()
    info = book.active
    info.title = "Thông tin"
    info.append(["Thông báo kết quả Chỉ số phục vụ người dân, doanh nghiệp"])
    info["A1"].font = Font(bold=True, size=14)
    month = datetime.strptime(report.period, "%Y-%m")
    for label, value in (
        ("Kỳ (tháng)", f"{month:%m/%Y}"),
        ("Bộ chỉ số", report.profile_name),
        ("Thời điểm lập", report.generated_at.astimezone(VIETNAM_TZ).strftime("%d/%m/%Y %H:%M (UTC+07:00)")),
        ("Tổng hồ sơ quá hạn của Thành phố (lũy kế)", report.city_overdue),
        ("Ghi chú", "Điểm chưa làm tròn; hồ sơ quá hạn = hồ sơ trong kỳ không đúng hạn tại thời điểm đánh giá."),
    ):
        info.append([label, value])
    info.column_dimensions["A"].width = 44
    info.column_dimensions["B"].width = 60

    for level in REPORT_LEVELS:
        sheet = book.create_sheet(LEVEL_NAMES_VI[level])
        sheet.append(headers(report))
        for cell in sheet[1]:
            cell.font, cell.fill, cell.alignment = header_font, header_fill, wrap
        sheet.row_dimensions[1].height = 48
        for row in (r for r in report.rows if r.level == level):
            sheet.append(_row_values(row))
        for index, (number_format, width) in enumerate(zip(formats, widths, strict=True), start=1):
            letter = get_column_letter(index)
            sheet.column_dimensions[letter].width = width
            for (cell,) in sheet.iter_rows(min_row=2, min_col=index, max_col=index):
                cell.number_format = number_format
        sheet.freeze_panes = "D2"  # header row and level/code/name stay in view
        sheet.auto_filter.ref = sheet.dimensions
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def render(report: MonthlyReport, fmt: ReportFormat) -> bytes:
    if fmt == "csv":
        return report_csv(report)
    if fmt == "xlsx":
        return report_xlsx(report)
    import orjson

    return orjson.dumps(report_json(report))


def file_name(period: str, fmt: ReportFormat) -> str:
    return f"tthc-pulse-xep-hang-{period}.{fmt}"


async def load_report(reader: ScoringReader, period: Period) -> MonthlyReport:
    """Read the three months of every level from the scoring reader (or anything with the same four members)."""
    from services.scoring.reading import resolve_period

    now = reader.clock()
    months = [period, *(resolve_period(month_label(period.month - k), now) for k in (1, 2))]
    names = {u.unit_id: u.name for u in reader.directory.registry}
    levels: dict[str, tuple[list[UnitFigures], list[UnitFigures], list[UnitFigures]]] = {}
    for level in REPORT_LEVELS:
        tables = [await reader.level_table(level, month) for month in months]
        figures = [figures_from_table(ranked, details, names, month.is_current)
                   for month, (ranked, details) in zip(months, tables, strict=True)]  # fmt: skip
        levels[level] = (figures[0], figures[1], figures[2])
    _, city_details = await reader.level_table("city", period)
    city_overdue = sum(overdue_of(counters) for counters, _card, _live in city_details.values())
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
