"""The monthly publication's renderings: CSV (UTF-8 with BOM for Excel), XLSX and JSON.

The table (domain/report.py) is read by service/reports.py; these turn it into the bytes of a file.
"""

from __future__ import annotations

import csv
import io
from datetime import datetime
from typing import Any

from services.scoring.domain.report import LEVEL_NAMES_VI, REPORT_LEVELS, MonthlyReport, ReportFormat, ReportRow
from shared.indicators import VIETNAM_TZ

MEDIA_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "json": "application/json",
}


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
        "Hồ sơ trễ hạn trong tháng (lũy kế)",
        "Tỷ lệ trên tổng hồ sơ trễ hạn trong tháng của Thành phố (%)",
        "Hồ sơ đang quá hạn (tại thời điểm lập)",
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
        ("Tổng hồ sơ trễ hạn trong tháng của Thành phố (lũy kế)", report.city_overdue),
        ("Ghi chú", "Điểm chưa làm tròn; hồ sơ trễ hạn trong tháng = hồ sơ trong kỳ không đúng hạn khi đánh giá."),
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
