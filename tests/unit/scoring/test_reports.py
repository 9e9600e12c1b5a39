"""The monthly publication: table building, CSV, XLSX, JSON, the loader (with a hand-written fake reader), the CLI."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import openpyxl
import orjson
import pytest

from services.scoring.adapters.report_formats import headers, render, report_csv, report_json, report_xlsx
from services.scoring.domain.live import LiveFigures
from services.scoring.domain.profile import ScoreProfile, parse_profile
from services.scoring.domain.rank import RankEntry, rank_units
from services.scoring.domain.report import (
    GroupColumn,
    MonthlyReport,
    UnitFigures,
    build_report,
    group_columns,
    overdue_of,
)
from services.scoring.domain.score import score_counters
from services.scoring.domain.timebase import parse_month
from services.scoring.entrypoints.reports_cli import main
from services.scoring.service import periods
from services.scoring.service.periods import Period, resolve_period
from services.scoring.service.reports import figures_from_table, load_report
from shared.units import Unit, UnitLevel, UnitRegistry

PROFILE_FILE = Path(__file__).resolve().parents[3] / "config" / "score_profile.yaml"
NOW = datetime(2026, 10, 20, 3, 0, tzinfo=UTC)
GROUPS = (GroupColumn("publicity", "Công khai, minh bạch", 18), GroupColumn("progress", "Tiến độ giải quyết", 20))


def table_row(counters: dict[str, int], profile: Any, live: Any = None) -> periods.UnitFigures:
    """A unit's row of the reader's level table (periods.UnitFigures)."""
    return periods.UnitFigures(counters, score_counters(counters, profile), live, None)


@pytest.fixture(scope="module")
def profile() -> ScoreProfile:
    return parse_profile(PROFILE_FILE.read_text(encoding="utf-8"))


def figures(unit_id: str, score: float | None, rank: int | None, overdue: int = 0, of: int = 3) -> UnitFigures:
    points = {"publicity": (score or 0) * 0.18, "progress": (score or 0) * 0.2}
    return UnitFigures(unit_id, f"Đơn vị {unit_id}", score, rank, of, points, overdue)


def sample_report() -> MonthlyReport:
    october = [figures("STP", 80.0, 1, 24_130), figures("SXD", 70.5, 2, 100), figures("SYT", None, None, 0)]
    september = [figures("SXD", 75.0, 1), figures("STP", 60.0, 2), figures("SYT", 50.0, 3)]
    august = [figures("STP", 81.25, 1)]  # SXD did not exist yet
    districts = [figures("BAVI", 55.0, 1, 29_598, of=1)]
    return build_report(
        parse_month("2026-10"),
        GROUPS,
        {"department": (october, september, august), "district": (districts, [], [])},
        city_overdue=53_828,
        profile_name="default-766",
        generated_at=NOW,
    )


def test_rows_are_per_level_in_rank_order_with_changes_against_two_earlier_months() -> None:
    report = sample_report()
    assert (report.period, report.previous, report.before_previous) == ("2026-10", "2026-09", "2026-08")
    assert [(r.level, r.unit_id, r.rank) for r in report.rows] == [
        ("department", "STP", 1),
        ("department", "SXD", 2),
        ("department", "SYT", None),
        ("district", "BAVI", 1),
    ]
    stp, sxd, syt, bavi = report.rows
    assert stp.score_change_1 == pytest.approx(20.0) and stp.score_change_2 == pytest.approx(-1.25)
    assert (stp.rank_change_1, stp.rank_change_2) == (1, 0)  # moved up one place; same as August
    assert (sxd.score_change_1, sxd.rank_change_1) == (pytest.approx(-4.5), -1)
    assert (sxd.score_change_2, sxd.rank_change_2) == (None, None)  # no August figures
    assert (syt.score_change_1, syt.rank_change_1) == (None, None)  # null score this month
    assert (bavi.score_change_1, bavi.rank_change_1) == (None, None)
    assert stp.group_points == (pytest.approx(14.4), pytest.approx(16.0))


def test_overdue_share_is_the_units_part_of_the_city_total_as_in_the_hanoi_notice() -> None:
    stp = sample_report().rows[0]
    assert stp.overdue == 24_130
    assert round(stp.overdue_share * 100, 1) == 44.8  # "24,130 of 53,828, 44.8 %"
    empty = build_report(parse_month("2026-10"), GROUPS, {"department": ([figures("A", 1.0, 1, 0)], [], [])}, 0,
                         "p", NOW)  # fmt: skip
    assert empty.rows[0].overdue_share is None  # no city overdue: no share rather than a division by zero


def test_overdue_is_the_months_late_count_of_the_progress_counters() -> None:
    assert overdue_of({"progress_total": 12, "progress_on_time": 9}) == 3
    assert overdue_of({}) == 0


def test_figures_come_from_a_ranked_level_table_of_the_domain(profile: ScoreProfile) -> None:
    good = {"received": 10, "received_online": 6, "progress_total": 10, "progress_on_time": 9, "events": 10,
            "events_timely": 10}  # fmt: skip
    poor = {"received": 10, "received_online": 1, "progress_total": 10, "progress_on_time": 4, "events": 10,
            "events_timely": 5}  # fmt: skip
    details = {"U.A": table_row(poor, profile), "U.B": table_row(good, profile),
               "U.C": table_row({}, profile)}  # fmt: skip
    ranked = rank_units(RankEntry(uid, f.card.score, f.card.rates["progress_rate"]) for uid, f in details.items())
    out = figures_from_table(ranked, details, {"U.A": "Sở A", "U.B": "Sở B"})
    # rank_of counts the ranked units (SPEC §5 revised).
    assert [(f.unit_id, f.name, f.rank, f.rank_of, f.overdue) for f in out] == [
        ("U.B", "Sở B", 1, 2, 1),
        ("U.A", "Sở A", 2, 2, 6),
        ("U.C", "U.C", None, 2, 0),
    ]
    assert all(f.overdue_open is None for f in out)  # a past month has no live count
    assert out[0].score == details["U.B"].card.score
    assert out[0].group_points["progress"] == pytest.approx(18.0)
    assert set(out[0].group_points) == {g.key for g in profile.groups}


def test_csv_is_utf8_with_one_vietnamese_header_row_and_rounded_figures() -> None:
    report = sample_report()
    data = report_csv(report)
    assert not data.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(data.decode("utf-8"))))
    assert rows[0] == headers(report)
    assert rows[0][:3] == ["Cấp", "Mã đơn vị", "Tên đơn vị"]
    assert "Hồ sơ trễ hạn trong tháng (lũy kế)" in rows[0]
    assert "Công khai, minh bạch (tối đa 18)" in rows[0]
    assert len(rows) == 1 + len(report.rows)
    stp = dict(zip(rows[0], rows[1], strict=True))
    assert stp["Cấp"] == "Sở, ban, ngành"
    assert stp["Tên đơn vị"] == "Đơn vị STP"
    assert stp["Điểm (/100)"] == "80.00"
    assert stp["Tăng/giảm điểm so với tháng 2026-09"] == "20.00"
    assert stp["Tăng/giảm hạng so với tháng 2026-09"] == "1"
    assert stp["Hồ sơ trễ hạn trong tháng (lũy kế)"] == "24130"
    assert stp["Tỷ lệ trên tổng hồ sơ trễ hạn trong tháng của Thành phố (%)"] == "44.83"
    syt = dict(zip(rows[0], rows[3], strict=True))
    assert syt["Xếp hạng"] == "" and syt["Điểm (/100)"] == ""  # null stays empty, not 0


def test_xlsx_opens_with_openpyxl_with_frozen_headers_number_formats_and_unrounded_values() -> None:
    report = sample_report()
    book = openpyxl.load_workbook(io.BytesIO(report_xlsx(report)))
    assert book.sheetnames == ["Thông tin", "Sở, ban, ngành", "Quận, huyện, thị xã", "Phường, xã, thị trấn"]
    info = {row[0]: row[1] for row in book["Thông tin"].iter_rows(min_row=2, values_only=True)}
    assert info["Kỳ (tháng)"] == "10/2026"
    assert info["Tổng hồ sơ trễ hạn trong tháng của Thành phố (lũy kế)"] == 53_828
    sheet = book["Sở, ban, ngành"]
    assert sheet.freeze_panes == "D2"
    head = [c.value for c in sheet[1]]
    assert head == headers(report)
    rows = [dict(zip(head, values, strict=True)) for values in sheet.iter_rows(min_row=2, values_only=True)]
    assert [r["Mã đơn vị"] for r in rows] == ["STP", "SXD", "SYT"]
    assert rows[0]["Điểm (/100)"] == 80.0
    assert rows[1]["Tăng/giảm điểm so với tháng 2026-09"] == pytest.approx(-4.5)
    assert rows[0]["Tỷ lệ trên tổng hồ sơ trễ hạn trong tháng của Thành phố (%)"] == pytest.approx(24_130 / 53_828)
    assert rows[2]["Xếp hạng"] is None
    column = {name: index + 1 for index, name in enumerate(head)}
    assert sheet.cell(2, column["Điểm (/100)"]).number_format == "0.00"
    assert sheet.cell(2, column["Tỷ lệ trên tổng hồ sơ trễ hạn trong tháng của Thành phố (%)"]).number_format == "0.0%"
    assert sheet.cell(2, column["Hồ sơ trễ hạn trong tháng (lũy kế)"]).number_format == "#,##0"
    assert sheet.cell(2, column["Tăng/giảm hạng so với tháng 2026-09"]).number_format == "+0;-0;0"
    assert book["Phường, xã, thị trấn"].max_row == 1  # the level had no units: header only


def test_json_carries_the_same_rows_with_group_keys() -> None:
    body = orjson.loads(render(sample_report(), "json"))
    assert body == orjson.loads(orjson.dumps(report_json(sample_report())))
    first = body["items"][0]
    assert first["unit_id"] == "STP" and first["rank_change_1"] == 1
    assert first["groups"] == {"publicity": pytest.approx(14.4), "progress": pytest.approx(16.0)}
    assert body["groups"][0] == {"key": "publicity", "name_vi": "Công khai, minh bạch", "max": 18}


@dataclass
class FakeDirectory:
    registry: UnitRegistry


@dataclass
class FakeProfiles:
    profile: ScoreProfile

    def current(self) -> ScoreProfile:
        return self.profile


@dataclass
class FakeReader:
    """Stands in for ScoringReader: level tables from fixed counters per (level, month)."""

    profile: ScoreProfile
    counters: dict[tuple[str, str], dict[str, dict[str, int]]]
    asked: list[tuple[str, str]] = field(default_factory=list)
    snapshots: list[object] = field(default_factory=list)
    stale_reads: int = 0

    def __post_init__(self) -> None:
        units = [Unit("C", "Hà Nội", UnitLevel.CITY, None), Unit("D1", "Sở Tư pháp", UnitLevel.DEPARTMENT, "C"),
                 Unit("D2", "Sở Xây dựng", UnitLevel.DEPARTMENT, "C")]  # fmt: skip
        self.directory = FakeDirectory(UnitRegistry(units))
        self.profiles = FakeProfiles(self.profile)

    def clock(self) -> datetime:
        return NOW

    async def live_snapshot(self, *, fresh: bool = False) -> object:
        snapshot = object()
        self.snapshots.append(snapshot)
        return snapshot

    async def level_table(
        self, level: str, period: Period, *, fresh: bool = False, live: object | None = None
    ) -> tuple[list[Any], dict[str, Any]]:
        self.asked.append((level, period.label))
        if not fresh or live is None or live is not self.snapshots[-1]:
            self.stale_reads += 1
        table = self.counters.get((level, period.label), {})
        details = {uid: table_row(c, self.profile) for uid, c in table.items()}
        ranked = rank_units(RankEntry(u, f.card.score, f.card.rates["progress_rate"]) for u, f in details.items())
        return ranked, details


async def test_load_report_reads_three_months_of_every_level_and_the_city_total(profile: ScoreProfile) -> None:
    late = {"progress_total": 10, "progress_on_time": 4, "events": 4, "events_timely": 4}
    fine = {"progress_total": 10, "progress_on_time": 9, "events": 4, "events_timely": 4}
    reader = FakeReader(profile, {
        ("department", "2026-10"): {"D1": late, "D2": fine},
        ("department", "2026-09"): {"D1": fine, "D2": late},
        ("city", "2026-10"): {"C": {"progress_total": 20, "progress_on_time": 13}},
    })  # fmt: skip
    report = await load_report(reader, resolve_period("2026-10", NOW))
    assert sorted(set(reader.asked)) == sorted(
        {(level, month) for level in ("department", "district", "commune") for month in ("2026-10", "2026-09",
         "2026-08")} | {("city", "2026-10")}
    )  # fmt: skip
    assert report.city_overdue == 7
    # A notice is exact as of its generation: fresh tables (not the API's cache), all on one live snapshot.
    assert len(reader.snapshots) == 1 and reader.stale_reads == 0
    assert report.groups == group_columns(profile)
    assert [(r.unit_id, r.name, r.rank, r.rank_change_1, r.overdue) for r in report.rows] == [
        ("D2", "Sở Xây dựng", 1, 1, 1),
        ("D1", "Sở Tư pháp", 2, -1, 6),
    ]
    assert report.rows[1].overdue_share == pytest.approx(6 / 7)


def test_cli_refuses_a_malformed_period_and_a_missing_database(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--period", "2026-13", "--database-url", "postgresql://x@127.0.0.1:1/none"]) == 2
    assert "2026-13" in capsys.readouterr().err
    assert main(["--period", "2026-10", "--database-url", ""]) == 2
    assert "DATABASE_URL" in capsys.readouterr().err


def test_the_current_month_carries_the_live_open_overdue_count_into_every_format(profile: ScoreProfile) -> None:
    counters = {"progress_total": 5, "progress_on_time": 2, "events": 3, "events_timely": 3}
    details = {"U.A": table_row(counters, profile, LiveFigures(open=4, overdue_open=2, due_soon=1))}
    ranked = rank_units([RankEntry("U.A", details["U.A"].card.score, details["U.A"].card.rates["progress_rate"])])
    (unit,) = figures_from_table(ranked, details, {"U.A": "Phường A"}, current=True)
    assert (unit.overdue, unit.overdue_open) == (3, 2)
    report = build_report(parse_month("2026-11"), group_columns(profile), {"commune": ([unit], [], [])}, 3, "p", NOW)
    assert report.rows[0].overdue_open == 2 and report.rows[0].overdue_share == 1.0
    header, row = list(csv.reader(io.StringIO(report_csv(report).decode("utf-8"))))
    assert dict(zip(header, row, strict=True))["Hồ sơ đang quá hạn (tại thời điểm lập)"] == "2"
    sheet = openpyxl.load_workbook(io.BytesIO(report_xlsx(report)))["Phường, xã, thị trấn"]
    assert [c.value for c in sheet[2]][-3:] == [3, 1.0, 2]
    assert report_json(report)["items"][0]["overdue_open"] == 2
