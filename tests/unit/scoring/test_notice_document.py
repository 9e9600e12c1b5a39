"""The city's written notice: wording (periods, Vietnamese numbers, summary) and both renderings read back
(python-docx for the DOCX; the PDF's text through pdftotext when poppler-utils is installed)."""

from __future__ import annotations

import io
import shutil
import subprocess
from datetime import UTC, datetime

import docx

from services.scoring.adapters.notice_render import notice_docx, notice_pdf
from services.scoring.domain import notice as nd
from services.scoring.domain.report import GroupColumn, UnitFigures, build_report

NOW = datetime(2026, 10, 20, 3, 0, tzinfo=UTC)
GROUPS = (GroupColumn("publicity", "Công khai, minh bạch", 18),)


def unit(unit_id: str, name: str, score: float | None, rank: int | None, late: int, of: int = 4) -> UnitFigures:
    return UnitFigures(unit_id, name, score, rank, of, {"publicity": score}, late)


def a_notice(annex: bool = True) -> nd.Notice:
    now = [unit("S1", "Sở Tư pháp", 81.25, 1, 12), unit("S2", "Sở Nội vụ", 70.5, 2, 3),
           unit("S3", "Sở Y tế", 60.0, 3, 0), unit("S4", "Sở Xây dựng", 55.25, 4, 40),
           unit("S5", "Ban Dân tộc", None, None, 0)]  # fmt: skip
    before = [unit("S1", "", 80.0, 2, 0), unit("S2", "", 75.0, 1, 0), unit("S3", "", 60.0, 3, 0),
              unit("S4", "", 50.0, 4, 0)]  # fmt: skip
    communes = [unit("X1", "Phường Hoàn Kiếm", 90.0, 1, 1234, of=1)]
    report = build_report(
        (2026 * 12 + 9), GROUPS, {"department": (now, before, []), "commune": (communes, [], [])}, 1289, "p", NOW
    )
    overdue = nd.OverdueUnit(
        "S4", "Sở Xây dựng", "department", 40,
        (nd.OverdueDossier("HS-0001", "1.001", datetime(2026, 9, 1, tzinfo=UTC), datetime(2026, 9, 10, tzinfo=UTC),
                           40.125),),
    )  # fmt: skip
    city = nd.CityFigures("Thành phố Hà Nội", 72.345, 71.0, 1289, 57)
    return nd.build_notice(
        report, city, [overdue, nd.OverdueUnit("S3", "Sở Y tế", "department", 0, ())] if annex else []
    )


def test_periods_and_numbers_are_written_one_way() -> None:
    assert nd.period_words("2026-10") == "tháng 10 năm 2026"
    assert nd.period_words("2025-07") == "tháng 7 năm 2025"
    assert nd.vn_number(72.345) == "72,35" or nd.vn_number(72.345) == "72,34"  # float rounding of a ...5
    assert nd.vn_number(1234.5, 1) == "1.234,5"
    assert nd.vn_count(53828) == "53.828"


def test_summary_gives_score_change_both_overdue_figures_movement_and_bottom_units() -> None:
    notice = a_notice()
    first, departments, communes = nd.summary_paragraphs(notice)
    assert (
        "Trong tháng 10 năm 2026" in first and "72,3" in first and "tăng 1,3" in first and "tháng 9 năm 2026" in first
    )
    assert f"{nd.LATE_LABEL} toàn Thành phố: 1.289 hồ sơ" in first
    assert "hồ sơ đang quá hạn tại thời điểm lập thông báo: 57 hồ sơ" in first
    assert "1 đơn vị tăng hạng, 1 đơn vị giảm hạng, 2 đơn vị giữ nguyên hạng" in departments
    assert "tăng nhiều nhất: Sở Tư pháp (tăng 1 bậc, xếp hạng 1/4)" in departments
    assert "giảm nhiều nhất: Sở Nội vụ (giảm 1 bậc, xếp hạng 2/4)" in departments
    assert "thấp nhất: Sở Xây dựng (hạng 4/4, 55,25 điểm); Sở Y tế (hạng 3/4" in departments
    assert "Ban Dân tộc" not in departments  # unranked units are not "at the bottom"
    assert "tăng hạng" not in communes  # no previous month to compare with


def test_level_tables_rank_order_with_unranked_last_and_no_jargon() -> None:
    tables = nd.level_tables(a_notice().report)
    assert [level for level, *_ in tables] == ["department", "commune"]
    _, title, header, rows = tables[0]
    assert title == "Bảng xếp hạng khối sở, ban, ngành tháng 10 năm 2026"
    assert header[-1] == nd.LATE_LABEL
    assert rows[0] == ("1", "Sở Tư pháp", "81,25", "+1", "+1,25", "12")
    assert rows[1][3:5] == ("−1", "−4,50")
    assert rows[-1][:3] == ("—", "Ban Dân tộc", "—")
    assert tables[1][3][0][-1] == "1.234"


def test_annex_keeps_units_with_overdue_dossiers_in_report_order() -> None:
    notice = a_notice()
    assert [u.unit_id for u in notice.annex] == ["S4"]
    assert nd.annex_heading(notice.annex[0]) == "Sở Xây dựng: 40 hồ sơ đang quá hạn, liệt kê 1 hồ sơ quá hạn lâu nhất"
    assert nd.annex_rows(notice.annex[0]) == [("1", "HS-0001", "1.001", "01/09/2026", "10/09/2026", "40,1")]


def test_docx_reads_back_with_python_docx_and_follows_the_form() -> None:
    document = docx.Document(io.BytesIO(notice_docx(a_notice())))
    text = "\n".join(p.text for p in document.paragraphs)
    head = [c.text for c in document.tables[0].rows[0].cells]
    for line in (*nd.AUTHORITY, nd.NUMBER_LINE):
        assert line in head[0]
    for line in (*nd.MOTTO, nd.PLACE_DATE_LINE):
        assert line in head[1]
    assert "THÔNG BÁO" in text and "tháng 10 năm 2026" in text and "766/QĐ-TTg" in text and "Phụ lục II" in text
    assert "default" not in text and "2026-10" not in text
    assert nd.LATE_HINT[1:] in text and nd.OPEN_OVERDUE_HINT[1:] in text  # one definition, as the dashboard's tooltips
    signature = document.tables[3].rows[0].cells  # tables: head, 2 levels, foot, the annex
    assert "Nơi nhận:" in signature[0].text
    assert all(line in signature[1].text for line in nd.SIGNATURE)
    departments = document.tables[1]
    assert [c.text for c in departments.rows[1].cells] == ["1", "Sở Tư pháp", "81,25", "+1", "+1,25", "12"]
    assert document.tables[-1].rows[1].cells[1].text == "HS-0001"


def test_pdf_text_has_the_form_and_the_vietnamese_glyphs() -> None:
    # `make test` installs poppler-utils (infra/notice_tools.sh): a missing pdftotext fails, it never skips.
    assert shutil.which("pdftotext"), "poppler-utils is missing: run `sudo bash infra/notice_tools.sh`"
    pdf = notice_pdf(a_notice())
    assert pdf.startswith(b"%PDF")
    text = subprocess.run(
        ["pdftotext", "-layout", "-", "-"], input=pdf, capture_output=True, check=True
    ).stdout.decode()
    for line in (*nd.AUTHORITY, *nd.MOTTO, nd.NUMBER_LINE, nd.PLACE_DATE_LINE, *nd.SIGNATURE, "Nơi nhận:", "THÔNG BÁO",
                 "Sở Tư pháp", "Phường Hoàn Kiếm", "HS-0001", "Phụ lục II"):  # fmt: skip
        assert line in text, line
