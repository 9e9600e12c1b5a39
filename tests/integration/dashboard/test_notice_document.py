"""The city's written notice over HTTP against the simulator-fed stack: the DOCX reads back with python-docx and the
PDF with pdftotext; both follow the Decree 30 form and their figures equal the API's (`/v1/rankings`,
`/v1/units/{id}/indicators`, `/v1/summary`, `/v1/units/{id}/dossiers?state=overdue`). Writes
docs/screenshots/notice-*.png (pdftoppm) of the rendered PDF."""

from __future__ import annotations

import asyncio
import io
import shutil
import subprocess

import docx
import httpx
import pytest

from services.scoring.domain import notice as nd
from tests.integration.dashboard.conftest import SCREENSHOTS, DashboardStack
from tests.integration.dashboard.test_monthly_report import previous_month


@pytest.fixture(autouse=True)
def poppler_installed() -> None:
    """`make test` installs poppler-utils (infra/notice_tools.sh); a missing tool fails, it never skips."""
    if shutil.which("pdftotext") is None or shutil.which("pdftoppm") is None:
        pytest.fail("poppler-utils is missing: run `sudo bash infra/notice_tools.sh`", pytrace=False)


LEVEL_TITLES = {"department": "sở, ban, ngành", "district": "quận, huyện, thị xã", "commune": "phường, xã, thị trấn"}


async def download(stack: DashboardStack, **params: str) -> httpx.Response:
    async with httpx.AsyncClient(base_url=stack.base_url, timeout=120) as client:
        return await client.get("/v1/reports/monthly", params=params)


async def finished_month(stack: DashboardStack) -> str:
    # A finished month: its figures are final, so the document and the API reads cannot straddle a due passing.
    return previous_month((await stack.get("/v1/summary"))["period"])


def late(counters: dict[str, int]) -> int:
    return counters["progress_total"] - counters["progress_on_time"]


async def test_docx_reads_back_follows_the_form_and_equals_the_api(stack: DashboardStack) -> None:
    period = await finished_month(stack)
    response = await download(stack, period=period, format="docx")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == nd.NOTICE_MEDIA_TYPES["docx"]
    assert f"thong-bao-chi-so-phuc-vu-{period}.docx" in response.headers["content-disposition"]
    document = docx.Document(io.BytesIO(response.content))
    text = "\n".join(p.text for p in document.paragraphs)
    head = [cell.text for cell in document.tables[0].rows[0].cells]
    assert all(line in head[0] for line in (*nd.AUTHORITY, nd.NUMBER_LINE))
    assert all(line in head[1] for line in (*nd.MOTTO, nd.PLACE_DATE_LINE))
    words = nd.period_words(period)
    assert "THÔNG BÁO" in text and words in text and "766/QĐ-TTg" in text and "Phụ lục II" in text
    assert period not in text and "default" not in text  # one way to write a period, no profile jargon

    summary = await stack.get("/v1/summary", period=period)
    before = await stack.get("/v1/summary", period=previous_month(period))
    assert f"đạt {nd.score_text(summary['score'])}/100 điểm" in text
    assert f"{abs(summary['score'] - before['score']):,.2f}".replace(".", ",") in text
    assert f"{nd.LATE_LABEL} toàn Thành phố: {nd.vn_count(late(summary['counters']))} hồ sơ" in text

    level_tables = [t for t in document.tables[1:] if t.rows[0].cells[0].text == nd.TABLE_HEADER[0]]
    levels = [level for level in LEVEL_TITLES if (await stack.get("/v1/rankings", level=level, period=period))["items"]]
    assert len(level_tables) == len(levels)
    for level, table in zip(levels, level_tables, strict=True):
        assert f"Bảng xếp hạng khối {LEVEL_TITLES[level]} {words}" in text
        ranking = await stack.get("/v1/rankings", level=level, period=period)
        rows = [[cell.text for cell in row.cells] for row in table.rows[1:]]
        assert [row[1] for row in rows] == [item["name"] for item in ranking["items"]]
        for row, item in zip(rows, ranking["items"], strict=True):
            assert row[0] == (str(item["rank"]) if item["rank"] is not None else "—")
            assert row[2] == nd.score_text(item["score"])
        for row, item in list(zip(rows, ranking["items"], strict=True))[:3]:
            unit = await stack.get(f"/v1/units/{item['unit_id']}/indicators", period=period)
            assert row[5] == nd.vn_count(late(unit["counters"]))

    signature = next(t for t in document.tables if "Nơi nhận:" in t.rows[0].cells[0].text)
    assert all(line in signature.rows[0].cells[1].text for line in nd.SIGNATURE)


async def test_pdf_reads_back_with_pdftotext_and_its_annex_equals_the_dossiers_api(stack: DashboardStack) -> None:
    period = await finished_month(stack)
    response = await download(stack, period=period, format="pdf")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/pdf"
    pdf = response.content
    run = await asyncio.to_thread(
        subprocess.run, ["pdftotext", "-layout", "-", "-"], input=pdf, capture_output=True, check=True
    )
    text = run.stdout.decode()
    for line in (*nd.AUTHORITY, *nd.MOTTO, nd.NUMBER_LINE, nd.PLACE_DATE_LINE, *nd.SIGNATURE, "Nơi nhận:",
                 "THÔNG BÁO", nd.period_words(period), "Phụ lục II"):  # fmt: skip
        assert line in text, line
    summary = await stack.get("/v1/summary", period=period)
    assert f"{nd.score_text(summary['score'])}/100" in text
    ranking = await stack.get("/v1/rankings", level="department", period=period)
    for item in ranking["items"][:5]:
        assert item["name"] in " ".join(text.split()), item["name"]
    # Annex II: the most overdue dossiers of the unit with the most open overdue ones, as the dossiers API lists them.
    units = [u for u in (await stack.get("/v1/units"))["items"] if u["level"] == "department"]
    counts = {
        u["unit_id"]: (await stack.get(f"/v1/units/{u['unit_id']}/indicators"))["live"]["overdue_open"] for u in units
    }
    top = max(counts, key=lambda k: counts[k])
    if counts[top]:
        page = await stack.get(f"/v1/units/{top}/dossiers", state="overdue", limit=3)
        for item in page["items"]:
            assert item["dossier_id"] in text
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for first, name in ((1, "notice-page1"), (None, "notice-annex")):
        target = SCREENSHOTS / name
        if first is None:  # the first page of annex II
            pages = text.split("\f")
            first = next(i for i, p in enumerate(pages, start=1) if "DANH SÁCH HỒ SƠ ĐANG QUÁ HẠN" in p)
        command = ["pdftoppm", "-png", "-r", "80", "-singlefile", "-f", str(first), "-l", str(first), "-", str(target)]
        await asyncio.to_thread(subprocess.run, command, input=pdf, check=True)
        assert target.with_suffix(".png").stat().st_size > 10_000


async def test_docx_and_pdf_are_in_the_openapi_and_a_bad_period_is_422(stack: DashboardStack) -> None:
    spec = await stack.get("/openapi.json")
    operation = spec["paths"]["/v1/reports/monthly"]["get"]
    content = operation["responses"]["200"]["content"]
    assert set(nd.NOTICE_MEDIA_TYPES.values()) <= set(content)
    assert "422" in operation["responses"]
    response = await download(stack, period="2026-13", format="pdf")
    assert response.status_code == 422 and response.json()["error"] == "invalid_period"
