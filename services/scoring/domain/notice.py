"""The city's written notice (thông báo của UBND Thành phố): the monthly publication as the document the City People's
Committee office sends, in the administrative form of Decree 30/2020/NĐ-CP.

This module holds the notice's content and its wording, pure: `build_notice` turns the monthly table
(`services.scoring.domain.report.MonthlyReport`), the city's own figures and the overdue-dossier annex into a
`Notice`; `summary_paragraphs`, `level_tables`, … give the Vietnamese text both renderings print
(`services.scoring.adapters.notice_render`: DOCX with python-docx, PDF with reportlab). `load_notice`
(service/notice.py) reads it from the scoring reader.

Two overdue figures, one label each (docs/dashboard.md, "Hồ sơ quá hạn"):
- **Hồ sơ trễ hạn trong tháng (lũy kế)** — progress_total − progress_on_time of the month (SPEC §4);
- **Hồ sơ đang quá hạn** — open now, not on hold, past the effective due (`live.overdue_open`), as of the notice.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from services.scoring.domain.report import LEVEL_NAMES_VI, REPORT_LEVELS, MonthlyReport, ReportRow
from shared.indicators import VIETNAM_TZ

NOTICE_MEDIA_TYPES = {
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "pdf": "application/pdf",
}
LATE_LABEL = "Hồ sơ trễ hạn trong tháng (lũy kế)"
# The same words as the dashboard's tooltips (static/js/i18n.js: col_overdue_hint, d_overdue); a browser test checks it.
LATE_HINT = (
    "Hồ sơ trong kỳ (tiếp nhận trong tháng hoặc chuyển từ tháng trước) không đúng hạn tại thời điểm đánh giá: đã giải "
    "quyết trễ hạn trong tháng hoặc còn mở quá hạn; = hồ sơ trong kỳ − hồ sơ đúng hạn. Như thông báo tháng."
)
OPEN_OVERDUE_LABEL = "Hồ sơ đang quá hạn"
OPEN_OVERDUE_HINT = (
    "Hồ sơ đang giải quyết, không tạm dừng, đã quá hạn trả kết quả — tại thời điểm xem, lũy kế (kể cả hồ sơ quá hạn "
    "từ các tháng trước)"
)
ANNEX_LIMIT = 20
"""Overdue dossiers listed per unit in annex II (the most overdue first); the count says how many there are."""
BOTTOM_UNITS = 3
AUTHORITY = ("ỦY BAN NHÂN DÂN", "THÀNH PHỐ HÀ NỘI")
MOTTO = ("CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM", "Độc lập - Tự do - Hạnh phúc")
NUMBER_LINE = "Số: …/TB-UBND"
PLACE_DATE_LINE = "Hà Nội, ngày … tháng … năm …"
SIGNATURE = ("TM. ỦY BAN NHÂN DÂN", "KT. CHỦ TỊCH", "PHÓ CHỦ TỊCH")
RECIPIENTS = (
    "- Thường trực Thành ủy;",
    "- Thường trực HĐND Thành phố;",
    "- Chủ tịch, các Phó Chủ tịch UBND Thành phố;",
    "- Các sở, ban, ngành Thành phố;",
    "- UBND các phường, xã;",
    "- VPUBTP: CVP, các PCVP;",
    "- Lưu: VT, KSTTHC.",
)
LEGAL_BASIS = (
    "Căn cứ Quyết định số 766/QĐ-TTg ngày 23 tháng 6 năm 2022 của Thủ tướng Chính phủ phê duyệt Bộ chỉ số chỉ đạo, "
    "điều hành và đánh giá chất lượng phục vụ người dân, doanh nghiệp trong thực hiện thủ tục hành chính, dịch vụ "
    "công theo thời gian thực trên môi trường điện tử;",
    "Căn cứ Kế hoạch số …/KH-UBND ngày … tháng … năm … của Ủy ban nhân dân Thành phố về kiểm soát thủ tục hành "
    "chính, thực hiện cơ chế một cửa, một cửa liên thông và chuyển đổi số trong giải quyết thủ tục hành chính;",
)
TABLE_HEADER = ("Hạng", "Đơn vị", "Điểm (/100)", "Tăng/giảm hạng", "Tăng/giảm điểm", LATE_LABEL)
ANNEX_HEADER = ("STT", "Mã hồ sơ", "Mã TTHC", "Ngày tiếp nhận", "Hạn trả kết quả", "Số ngày quá hạn")


@dataclass(frozen=True, slots=True)
class CityFigures:
    name: str
    score: float | None
    score_previous: float | None
    late: int
    """The month's cumulative late count (progress_total − progress_on_time)."""
    overdue_open: int
    """Open overdue dossiers at the moment the notice is generated."""


@dataclass(frozen=True, slots=True)
class OverdueDossier:
    dossier_id: str
    procedure_id: str | None
    received_at: datetime
    due_at: datetime
    days_late: float


@dataclass(frozen=True, slots=True)
class OverdueUnit:
    unit_id: str
    name: str
    level: str
    count: int
    dossiers: tuple[OverdueDossier, ...]


@dataclass(frozen=True, slots=True)
class Notice:
    report: MonthlyReport
    city: CityFigures
    annex: tuple[OverdueUnit, ...]


def period_words(label: str) -> str:
    """'2026-10' → 'tháng 10 năm 2026': the one way a period is written in the notice."""
    year, month = label.split("-")
    return f"tháng {int(month)} năm {year}"


def vn_number(value: float, decimals: int = 2) -> str:
    """Vietnamese notation: '.' groups thousands, ',' marks decimals (72,35; 1.234)."""
    text = f"{value:,.{decimals}f}"
    return text.replace(",", "\0").replace(".", ",").replace("\0", ".")


def vn_count(value: int) -> str:
    return vn_number(value, 0)


def _signed(value: float | None, decimals: int) -> str:
    if value is None:
        return "—"
    if round(value, decimals) == 0:
        return vn_number(0, decimals)
    return ("+" if value > 0 else "−") + vn_number(abs(value), decimals)


def score_text(score: float | None) -> str:
    return "—" if score is None else vn_number(score)


def title_lines(report: MonthlyReport) -> tuple[str, str]:
    return (
        "THÔNG BÁO",
        "Kết quả đánh giá Chỉ số phục vụ người dân, doanh nghiệp trong thực hiện thủ tục hành chính, dịch vụ công "
        f"của các cơ quan, đơn vị trên địa bàn Thành phố {period_words(report.period)}",
    )


def _movement_sentence(rows: Sequence[ReportRow], previous: str) -> str | None:
    moved = [r for r in rows if r.rank_change_1 is not None]
    if not moved:
        return None
    up = [r for r in moved if r.rank_change_1 > 0]
    down = [r for r in moved if r.rank_change_1 < 0]
    text = (f"so với {period_words(previous)} có {len(up)} đơn vị tăng hạng, {len(down)} đơn vị giảm hạng, "
            f"{len(moved) - len(up) - len(down)} đơn vị giữ nguyên hạng")  # fmt: skip
    if up:
        best = max(up, key=lambda r: (r.rank_change_1, -(r.rank or 0)))
        text += f"; tăng nhiều nhất: {best.name} (tăng {best.rank_change_1} bậc, xếp hạng {best.rank}/{best.rank_of})"
    if down:
        worst = min(down, key=lambda r: (r.rank_change_1, r.rank or 0))
        text += (
            f"; giảm nhiều nhất: {worst.name} (giảm {-worst.rank_change_1} bậc, xếp hạng {worst.rank}/{worst.rank_of})"
        )
    return text


def _bottom_sentence(rows: Sequence[ReportRow]) -> str | None:
    ranked = [r for r in rows if r.rank is not None]
    if not ranked:
        return None
    bottom = sorted(ranked, key=lambda r: r.rank or 0)[-BOTTOM_UNITS:][::-1]
    units = "; ".join(f"{r.name} (hạng {r.rank}/{r.rank_of}, {score_text(r.score)} điểm)" for r in bottom)
    return f"các đơn vị có kết quả thấp nhất: {units}"


def summary_paragraphs(notice: Notice) -> list[str]:
    """The summary: the city's score and its change, the month's two overdue figures, then per level the rank
    movement and the units at the bottom."""
    report, city = notice.report, notice.city
    month, previous = period_words(report.period), period_words(report.previous)
    if city.score is None:
        first = f"Trong {month}, chưa có đủ dữ liệu để tính Chỉ số phục vụ người dân, doanh nghiệp của Thành phố."
    else:
        first = (
            f"Trong {month}, Chỉ số phục vụ người dân, doanh nghiệp của Thành phố đạt {score_text(city.score)}/100 điểm"
        )
        if city.score_previous is None:
            first += f" ({previous} chưa có dữ liệu để so sánh)."
        else:
            change = city.score - city.score_previous
            how = "tăng" if change > 0.005 else "giảm" if change < -0.005 else "không đổi,"
            first += (f", {how} {vn_number(abs(change))} điểm so với {previous} "
                      f"({score_text(city.score_previous)} điểm).")  # fmt: skip
    first += (f" {LATE_LABEL} toàn Thành phố: {vn_count(city.late)} hồ sơ; {OPEN_OVERDUE_LABEL.lower()} tại thời "
              f"điểm lập thông báo: {vn_count(city.overdue_open)} hồ sơ.")  # fmt: skip
    paragraphs = [first]
    for level in REPORT_LEVELS:
        rows = [r for r in report.rows if r.level == level]
        if not rows:
            continue
        parts = [p for p in (_movement_sentence(rows, report.previous), _bottom_sentence(rows)) if p]
        if parts:
            paragraphs.append(f"Khối {LEVEL_NAMES_VI[level].lower()}: " + "; ".join(parts) + ".")
    return paragraphs


def definitions_note() -> str:
    """Under the tables: the two overdue figures, defined in the dashboard's tooltip words."""
    late = LATE_HINT[0].lower() + LATE_HINT[1:]
    open_now = OPEN_OVERDUE_HINT[0].lower() + OPEN_OVERDUE_HINT[1:]
    return f"Ghi chú: {LATE_LABEL}: {late} {OPEN_OVERDUE_LABEL}: {open_now}."


def closing_paragraphs(notice: Notice) -> list[str]:
    return [
        "Ủy ban nhân dân Thành phố yêu cầu Thủ trưởng các cơ quan, đơn vị có hồ sơ quá hạn khẩn trương rà soát, giải "
        "quyết dứt điểm; thực hiện xin lỗi người dân, doanh nghiệp bằng văn bản (phiếu xin lỗi và hẹn lại ngày trả kết "
        "quả) theo quy định; các đơn vị có kết quả thấp nhất xác định nguyên nhân, có giải pháp khắc phục trong tháng "
        "tiếp theo.",
        f"Chi tiết số liệu theo từng nhóm chỉ số tại Phụ lục I (tệp bảng tính CSV/XLSX kèm theo); danh sách "
        f"{OPEN_OVERDUE_LABEL.lower()} của từng đơn vị tại Phụ lục II.",
        "Ủy ban nhân dân Thành phố thông báo để các cơ quan, đơn vị biết, thực hiện./.",
    ]


def level_title(level: str, report: MonthlyReport) -> str:
    return f"Bảng xếp hạng khối {LEVEL_NAMES_VI[level].lower()} {period_words(report.period)}"


def level_tables(report: MonthlyReport) -> list[tuple[str, str, tuple[str, ...], list[tuple[str, ...]]]]:
    """(level, title, header, rows) for each level that has units in the month, rows in rank order (unranked last).
    The current month adds the open overdue count now; a past month has none (it only exists "now")."""
    out = []
    for level in REPORT_LEVELS:
        rows = [r for r in report.rows if r.level == level]
        if not rows:
            continue
        live = any(r.overdue_open is not None for r in rows)
        header = (*TABLE_HEADER, OPEN_OVERDUE_LABEL) if live else TABLE_HEADER
        cells = [
            (str(r.rank) if r.rank is not None else "—", r.name, score_text(r.score), _signed(r.rank_change_1, 0),
             _signed(r.score_change_1, 2), vn_count(r.overdue),
             *((vn_count(r.overdue_open or 0),) if live else ()))
            for r in rows
        ]  # fmt: skip
        out.append((level, level_title(level, report), header, cells))
    return out


def _day(moment: datetime) -> str:
    return moment.astimezone(VIETNAM_TZ).strftime("%d/%m/%Y")


def annex_rows(unit: OverdueUnit) -> list[tuple[str, ...]]:
    return [
        (str(i), d.dossier_id, d.procedure_id or "—", _day(d.received_at), _day(d.due_at), vn_number(d.days_late, 1))
        for i, d in enumerate(unit.dossiers, start=1)
    ]


def annex_heading(unit: OverdueUnit) -> str:
    shown = f", liệt kê {len(unit.dossiers)} hồ sơ quá hạn lâu nhất" if len(unit.dossiers) < unit.count else ""
    return f"{unit.name}: {vn_count(unit.count)} hồ sơ đang quá hạn{shown}"


def generated_line(report: MonthlyReport) -> str:
    moment = report.generated_at.astimezone(VIETNAM_TZ)
    return f"Số liệu lập lúc {moment:%H:%M} ngày {moment:%d/%m/%Y} (giờ Việt Nam)."


def build_notice(report: MonthlyReport, city: CityFigures, annex: Sequence[OverdueUnit]) -> Notice:
    """Annex units in the order of the report (level, then rank), only those with overdue dossiers."""
    order = {(r.level, r.unit_id): i for i, r in enumerate(report.rows)}
    kept = sorted((u for u in annex if u.count > 0), key=lambda u: order.get((u.level, u.unit_id), len(order)))
    return Notice(report=report, city=city, annex=tuple(kept))
