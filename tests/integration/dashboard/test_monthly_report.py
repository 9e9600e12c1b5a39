"""The monthly publication over HTTP and from the CLI, against the simulator-fed stack: XLSX opens with openpyxl and
its figures equal the API's; the CSV is UTF-8 with a header row; the CLI writes the same workbook."""

from __future__ import annotations

import asyncio
import csv
import io
import sys
from pathlib import Path
from typing import Any

import httpx
import openpyxl
import pytest

from services.scoring.domain.report import LEVEL_NAMES_VI
from tests.integration.dashboard.conftest import DashboardStack
from tests.integration.processes import REPO_ROOT

SHEETS = {"department": "Sở, ban, ngành", "district": "Quận, huyện, thị xã", "commune": "Phường, xã, thị trấn"}
SCORE = "Điểm (/100)"
RANK = "Xếp hạng"
OVERDUE = "Hồ sơ trễ hạn trong tháng (lũy kế)"
SHARE = "Tỷ lệ trên tổng hồ sơ trễ hạn trong tháng của Thành phố (%)"


def sheet_rows(book: openpyxl.Workbook, level: str) -> list[dict[str, Any]]:
    sheet = book[SHEETS[level]]
    head = [cell.value for cell in sheet[1]]
    return [dict(zip(head, values, strict=True)) for values in sheet.iter_rows(min_row=2, values_only=True)]


async def download(stack: DashboardStack, **params: str) -> httpx.Response:
    async with httpx.AsyncClient(base_url=stack.base_url, timeout=60) as client:
        return await client.get("/v1/reports/monthly", params=params)


def previous_month(period: str, back: int = 1) -> str:
    year, month = map(int, period.split("-"))
    index = year * 12 + month - 1 - back
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


async def test_xlsx_opens_with_openpyxl_and_its_figures_equal_the_api(stack: DashboardStack) -> None:
    # A finished month: its figures are final, so the workbook and the API reads cannot straddle a due date passing.
    period = previous_month((await stack.get("/v1/summary"))["period"])
    summary = await stack.get("/v1/summary", period=period)
    response = await download(stack, period=period, format="xlsx")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/vnd.openxmlformats-officedocument")
    assert f"tthc-pulse-xep-hang-{period}.xlsx" in response.headers["content-disposition"]
    book = openpyxl.load_workbook(io.BytesIO(response.content))
    assert book.sheetnames == ["Thông tin", *SHEETS.values()]

    city = summary["counters"]["progress_total"] - summary["counters"]["progress_on_time"]
    info = {row[0]: row[1] for row in book["Thông tin"].iter_rows(min_row=2, values_only=True)}
    assert info["Tổng hồ sơ trễ hạn trong tháng của Thành phố (lũy kế)"] == city

    for level in SHEETS:
        sheet = book[SHEETS[level]]
        assert sheet.freeze_panes == "D2"
        rows = sheet_rows(book, level)
        ranking = await stack.get("/v1/rankings", level=level, period=period)
        previous = await stack.get("/v1/rankings", level=level, period=previous_month(period))
        assert [r["Mã đơn vị"] for r in rows] == [item["unit_id"] for item in ranking["items"]]
        earlier = {item["unit_id"]: item for item in previous["items"]}
        for row, item in zip(rows, ranking["items"], strict=True):
            assert row["Cấp"] == LEVEL_NAMES_VI[level]
            assert row["Tên đơn vị"] == item["name"]
            assert row[RANK] == item["rank"]
            assert row[SCORE] == pytest.approx(item["score"], abs=1e-9)
            before = earlier[item["unit_id"]]
            if item["score"] is not None and before["score"] is not None:
                change = row[f"Tăng/giảm điểm so với tháng {previous_month(period)}"]
                assert change == pytest.approx(item["score"] - before["score"], abs=1e-9)
            if item["rank"] is not None and before["rank"] is not None:
                assert row[f"Tăng/giảm hạng so với tháng {previous_month(period)}"] == before["rank"] - item["rank"]
            group_points = [v for k, v in row.items() if "(tối đa" in k]
            assert group_points == pytest.approx([g["points"] for g in item["groups"].values()], abs=1e-9)
            assert row["Hồ sơ đang quá hạn (tại thời điểm lập)"] is None  # a live count only exists for "now"
        for row in rows[:3]:  # the overdue count and share against the unit's own indicators
            unit = await stack.get(f"/v1/units/{row['Mã đơn vị']}/indicators", period=period)
            late = unit["counters"]["progress_total"] - unit["counters"]["progress_on_time"]
            assert row[OVERDUE] == late
            assert row[SHARE] == pytest.approx(late / city)
        columns = range(1, sheet.max_column + 1)
        number_formats = {sheet.cell(1, i).value: sheet.cell(2, i).number_format for i in columns}
        if rows:
            assert number_formats[SCORE] == "0.00" and number_formats[SHARE] == "0.0%"


async def test_csv_is_utf8_with_a_vietnamese_header_row_and_the_same_units(stack: DashboardStack) -> None:
    response = await download(stack, format="csv")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    text = response.content.decode("utf-8")  # strict: any invalid byte fails here
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0][:4] == ["Cấp", "Mã đơn vị", "Tên đơn vị", RANK]
    units = await stack.get("/v1/units")
    first = f"{(await stack.get('/v1/summary'))['period']}-01"
    # The notice lists the units that exist in the month (SPEC §5): not a unit retired before it, nor one to come.
    ranked_levels = [u for u in units["items"] if u["level"] != "city"
                     and (u["valid_to"] is None or u["valid_to"] > first)
                     and (u["valid_from"] is None or u["valid_from"][:7] <= first[:7])]  # fmt: skip
    assert len(rows) == 1 + len(ranked_levels)
    names = {u["unit_id"]: u["name"] for u in units["items"]}
    assert all(row[2] == names[row[1]] for row in rows[1:])  # Vietnamese names round-trip exactly


async def test_a_malformed_period_is_a_422_with_the_error_body(stack: DashboardStack) -> None:
    response = await download(stack, period="2026-13", format="csv")
    assert response.status_code == 422
    assert response.json()["error"] == "invalid_period"
    response = await download(stack, format="odt")  # docx and pdf are the written notice (test_notice_document.py)
    assert response.status_code == 422


async def test_the_cli_writes_the_same_workbook_as_the_api(stack: DashboardStack, tmp_path: Path) -> None:
    period = (await stack.get("/v1/summary"))["period"]
    previous = previous_month(period)  # a finished month: figures do not move between the two reads
    out = tmp_path / "notice.xlsx"
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "services.scoring.entrypoints.reports_cli", "--period", previous, "--format", "xlsx",
        "--out", str(out),
        "--database-url", stack.database_url, cwd=REPO_ROOT,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    output, _ = await asyncio.wait_for(process.communicate(), 120)
    assert process.returncode == 0, output.decode()
    from_cli = openpyxl.load_workbook(out)
    from_api = openpyxl.load_workbook(io.BytesIO((await download(stack, period=previous, format="xlsx")).content))
    for level in SHEETS:
        assert sheet_rows(from_cli, level) == sheet_rows(from_api, level)
    assert sheet_rows(from_api, "department"), "the previous month has no departments"
