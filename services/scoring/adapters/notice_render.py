"""The city's written notice rendered: DOCX (python-docx; offices edit it in Word) and PDF (reportlab).

Layout after Decree 30/2020/NĐ-CP: A4, margins 20/20/30/15 mm; issuing authority left and national motto right on
top, number and place-date lines under them; title; legal basis; body; ranking tables; "Nơi nhận" left and the
signature block right; annex II (open overdue dossiers per unit) on a new page. Word documents use Times New Roman;
the PDF embeds DejaVu Serif (Debian `fonts-dejavu-core`), a TrueType face with every Vietnamese glyph — the PDF core
fonts have none. Both are pure functions of a `Notice` (services.scoring.service.notice_document).
"""

from __future__ import annotations

import io
from pathlib import Path

from services.scoring.domain import notice as nd

FONT_DIR = Path("/usr/share/fonts/truetype/dejavu")
PDF_FONT, PDF_FONT_BOLD = "DejaVuSerif", "DejaVuSerif-Bold"


def file_name(period: str, fmt: str) -> str:
    return f"thong-bao-chi-so-phuc-vu-{period}.{fmt}"


# --- DOCX -------------------------------------------------------------------------------------------------------


def notice_docx(notice: nd.Notice) -> bytes:
    from docx import Document
    from docx.enum.section import WD_ORIENT
    from docx.enum.table import WD_TABLE_ALIGNMENT
    from docx.enum.text import WD_ALIGN_PARAGRAPH, WD_BREAK
    from docx.shared import Mm, Pt

    report = notice.report
    doc = Document()
    section = doc.sections[0]
    section.orientation = WD_ORIENT.PORTRAIT
    section.page_width, section.page_height = Mm(210), Mm(297)
    section.top_margin, section.bottom_margin, section.left_margin, section.right_margin = (
        Mm(20),
        Mm(20),
        Mm(30),
        Mm(15),
    )
    normal = doc.styles["Normal"]
    normal.font.name, normal.font.size = "Times New Roman", Pt(14)
    normal.paragraph_format.space_after = Pt(6)

    def para(cell_or_doc, text: str, *, bold=False, italic=False, size=None, align=None, indent=False):
        paragraph = cell_or_doc.add_paragraph()
        run = paragraph.add_run(text)
        run.bold, run.italic = bold, italic
        if size:
            run.font.size = Pt(size)
        if align is not None:
            paragraph.alignment = align
        if indent:
            paragraph.paragraph_format.first_line_indent = Mm(10)
        return paragraph

    center, justify = WD_ALIGN_PARAGRAPH.CENTER, WD_ALIGN_PARAGRAPH.JUSTIFY

    head = doc.add_table(rows=1, cols=2)
    head.alignment = WD_TABLE_ALIGNMENT.CENTER
    left, right = head.rows[0].cells
    left.width, right.width = Mm(65), Mm(100)
    left.paragraphs[0].add_run(nd.AUTHORITY[0]).font.size = Pt(13)
    left.paragraphs[0].alignment = center
    para(left, nd.AUTHORITY[1], bold=True, size=13, align=center)
    para(left, nd.NUMBER_LINE, size=13, align=center)
    motto = right.paragraphs[0].add_run(nd.MOTTO[0])
    motto.bold, motto.font.size = True, Pt(13)
    right.paragraphs[0].alignment = center
    para(right, nd.MOTTO[1], bold=True, size=14, align=center)
    para(right, nd.PLACE_DATE_LINE, italic=True, size=14, align=center)

    title, subject = nd.title_lines(report)
    para(doc, title, bold=True, size=14, align=center).paragraph_format.space_before = Pt(12)
    para(doc, subject, bold=True, size=14, align=center)
    for text in nd.LEGAL_BASIS:
        para(doc, text, italic=True, align=justify, indent=True)
    for text in nd.summary_paragraphs(notice):
        para(doc, text, align=justify, indent=True)
    for _, heading, header, rows in nd.level_tables(report):
        para(doc, heading, bold=True, size=13, align=center)
        _docx_table(doc, header, rows, Pt(11))
    para(doc, nd.definitions_note(), italic=True, size=11, align=justify)
    for text in nd.closing_paragraphs(notice):
        para(doc, text, align=justify, indent=True)
    para(doc, nd.generated_line(report), italic=True, size=11)

    foot = doc.add_table(rows=1, cols=2)
    left, right = foot.rows[0].cells
    left.width, right.width = Mm(80), Mm(85)
    received = left.paragraphs[0].add_run("Nơi nhận:")
    received.bold, received.italic, received.font.size = True, True, Pt(12)
    for line in nd.RECIPIENTS:
        para(left, line, size=11).paragraph_format.space_after = Pt(0)
    right.paragraphs[0].alignment = center
    first = right.paragraphs[0].add_run(nd.SIGNATURE[0])
    first.bold, first.font.size = True, Pt(14)
    for line in nd.SIGNATURE[1:]:
        para(right, line, bold=True, size=14, align=center).paragraph_format.space_after = Pt(0)

    doc.add_paragraph().add_run().add_break(WD_BREAK.PAGE)
    for text in _annex_titles(report):
        para(doc, text, bold=True, align=center)
    para(doc, nd.OPEN_OVERDUE_HINT + f" ({nd.generated_line(report)[:-1].lower()}).", italic=True, size=12,
         align=center)  # fmt: skip
    if not notice.annex:
        para(doc, "Không có hồ sơ đang quá hạn.", align=center)
    for unit in notice.annex:
        para(doc, nd.annex_heading(unit), bold=True, size=12)
        _docx_table(doc, nd.ANNEX_HEADER, nd.annex_rows(unit), Pt(10))
    buffer = io.BytesIO()
    doc.save(buffer)
    return buffer.getvalue()


def _annex_titles(report) -> tuple[str, str]:
    return ("Phụ lục II", f"DANH SÁCH HỒ SƠ ĐANG QUÁ HẠN THEO ĐƠN VỊ — {nd.period_words(report.period).upper()}")


def _docx_table(doc, header, rows, size) -> None:
    table = doc.add_table(rows=1, cols=len(header))
    table.style = "Table Grid"
    for cell, text in zip(table.rows[0].cells, header, strict=True):
        run = cell.paragraphs[0].add_run(text)
        run.bold, run.font.size = True, size
    for values in rows:
        cells = table.add_row().cells
        for cell, text in zip(cells, values, strict=True):
            cell.paragraphs[0].add_run(text).font.size = size
    doc.add_paragraph()


# --- PDF --------------------------------------------------------------------------------------------------------


def _register_fonts() -> None:
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont

    if PDF_FONT in pdfmetrics.getRegisteredFontNames():
        return
    regular, bold = FONT_DIR / "DejaVuSerif.ttf", FONT_DIR / "DejaVuSerif-Bold.ttf"
    if not regular.is_file() or not bold.is_file():
        raise RuntimeError(f"{regular} is missing: install Debian's fonts-dejavu-core (bash infra/notice_tools.sh)")
    pdfmetrics.registerFont(TTFont(PDF_FONT, str(regular)))
    pdfmetrics.registerFont(TTFont(PDF_FONT_BOLD, str(bold)))
    pdfmetrics.registerFontFamily(
        PDF_FONT, normal=PDF_FONT, bold=PDF_FONT_BOLD, italic=PDF_FONT, boldItalic=PDF_FONT_BOLD
    )


def notice_pdf(notice: nd.Notice) -> bytes:
    from reportlab.lib import colors
    from reportlab.lib.enums import TA_CENTER, TA_JUSTIFY
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.lib.units import mm
    from reportlab.platypus import PageBreak, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

    _register_fonts()
    report = notice.report
    body = ParagraphStyle("body", fontName=PDF_FONT, fontSize=12, leading=16, alignment=TA_JUSTIFY,
                          firstLineIndent=10 * mm, spaceAfter=5)  # fmt: skip
    centered = ParagraphStyle("center", parent=body, alignment=TA_CENTER, firstLineIndent=0)
    bold_center = ParagraphStyle("bold_center", parent=centered, fontName=PDF_FONT_BOLD)
    small = ParagraphStyle("small", parent=body, fontSize=9, leading=11, firstLineIndent=0, alignment=0, spaceAfter=0)
    small_bold = ParagraphStyle("small_bold", parent=small, fontName=PDF_FONT_BOLD)
    keep_bold = ParagraphStyle("keep_bold", parent=bold_center, keepWithNext=1)
    keep_small = ParagraphStyle("keep_small", parent=small_bold, keepWithNext=1, spaceAfter=3)
    head = ParagraphStyle("head", parent=centered, fontSize=11, leading=14, spaceAfter=0)
    head_bold = ParagraphStyle("head_bold", parent=head, fontName=PDF_FONT_BOLD)

    def esc(text: str) -> str:
        return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")

    def cells(lines, style):
        return [Paragraph(esc(line), style) for line in lines]

    width = A4[0] - 45 * mm
    top = Table(
        [[cells([nd.AUTHORITY[0]], head) + cells([nd.AUTHORITY[1]], head_bold) + cells(["", nd.NUMBER_LINE], head),
          cells(nd.MOTTO, head_bold) + cells(["", nd.PLACE_DATE_LINE], head)]],
        colWidths=[0.38 * width, 0.62 * width],
    )  # fmt: skip
    top.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP")]))
    story = [top, Spacer(1, 6 * mm)]
    story += cells(nd.title_lines(report), bold_center)
    story.append(Spacer(1, 3 * mm))
    story += [Paragraph(f"<i>{esc(text)}</i>", body) for text in nd.LEGAL_BASIS]
    story += cells(nd.summary_paragraphs(notice), body)

    def grid(header, rows, widths):
        data = [cells(header, small_bold)] + [cells(row, small) for row in rows]
        table = Table(data, colWidths=widths, repeatRows=1)
        table.setStyle(TableStyle([
            ("GRID", (0, 0), (-1, -1), 0.4, colors.black),
            ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#E8EDF3")),
            ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
        ]))  # fmt: skip
        return table

    for _, heading, header, rows in nd.level_tables(report):
        story += [Spacer(1, 2 * mm), Paragraph(esc(heading), keep_bold)]
        fixed = [14, 18, 22, 22, 26, *([22] if len(header) > 6 else [])]
        widths = [fixed[0] * mm, width - sum(fixed) * mm, *(w * mm for w in fixed[1:])]
        story.append(grid(header, rows, widths))
    story += [Spacer(1, 2 * mm), Paragraph(f"<i>{esc(nd.definitions_note())}</i>", small), Spacer(1, 3 * mm)]
    story += cells(nd.closing_paragraphs(notice), body)
    story.append(Paragraph(f"<i>{esc(nd.generated_line(report))}</i>", small))
    recipients = [Paragraph("<b>Nơi nhận:</b>", small), *cells(nd.RECIPIENTS, small)]
    foot = Table([[recipients, cells(nd.SIGNATURE, bold_center)]], colWidths=[0.5 * width, 0.5 * width])
    foot.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP")]))
    story += [Spacer(1, 4 * mm), foot, PageBreak()]
    story += cells(_annex_titles(report), bold_center)
    story.append(Paragraph(esc(nd.OPEN_OVERDUE_HINT + "."), centered))
    if not notice.annex:
        story.append(Paragraph("Không có hồ sơ đang quá hạn.", centered))
    annex_widths = [10 * mm, width - 112 * mm, 30 * mm, 24 * mm, 24 * mm, 24 * mm]
    for unit in notice.annex:
        story += [Spacer(1, 2 * mm), Paragraph(esc(nd.annex_heading(unit)), keep_small)]
        story.append(grid(nd.ANNEX_HEADER, nd.annex_rows(unit), annex_widths))

    def page_number(canvas, document) -> None:
        canvas.setFont(PDF_FONT, 9)
        canvas.drawCentredString(A4[0] / 2, 10 * mm, str(document.page))

    buffer = io.BytesIO()
    title = " ".join(nd.title_lines(report))
    document = SimpleDocTemplate(buffer, pagesize=A4, topMargin=20 * mm, bottomMargin=20 * mm, leftMargin=30 * mm,
                                 rightMargin=15 * mm, title=title, author=" ".join(nd.AUTHORITY))  # fmt: skip
    document.build(story, onFirstPage=page_number, onLaterPages=page_number)
    return buffer.getvalue()


def render_notice(notice: nd.Notice, fmt: str) -> bytes:
    return notice_docx(notice) if fmt == "docx" else notice_pdf(notice)
