"""Month-end forecast, today's to-do, open dossiers and the dossier lookup on the real broker and database.

Times are placed relative to the moment the test runs, inside the current month: `early(f)` is the instant a
fraction f of the way from the month's start to now, so every receipt is in this month whatever the day.
(`TestClock` keeps a run away from the last minutes of a month, which would see the month change under it.)

The forecast month is the one of tests/unit/scoring/test_forecast.py, worked out by hand there:
commune X = Tây Đằng (BV.TT): A overdue, B due before the month's end, C on hold, D due next month, F resolved on
time; commune Y = Ba Trại (BV.BT): three dossiers resolved on time, one online. With min_dossiers 1:
  X current 45.2/72 = 62.78 (rank 2), worst 41.2/72 = 57.22 (rank 2), best 49.2/72 = 68.33 (rank 1);
  Y 46/72 = 63.89 in every scenario.
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import io
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from services.scoring.domain.timebase import month_end, month_of, month_start, to_datetime, to_instant
from shared.indicators import VIETNAM_TZ
from tests.integration.conftest import unique
from tests.integration.processes import REPO_ROOT, RunningService, service_process, wait_ready
from tests.integration.scoring.harness import create_topics, prepare_database, produce, utc, wait_for

# Neither the Vietnam day nor the month may end while the test runs (about a minute; more on a loaded machine).
DAY_END_MARGIN = timedelta(minutes=10)


class TestClock:
    """The moment the test places its events around: taken when the test starts, not when the module is collected
    (a whole suite earlier — CI collected at 23:42 on 30 November and ran this at 23:59), and never in the last
    minutes of a Vietnam day: then it waits for the next day to begin rather than see "today" (and at a month's end
    the month) change under it."""

    __test__ = False

    def __init__(self) -> None:
        self.now = self.start = self.end = datetime.now(UTC)

    async def reset(self) -> None:
        now = datetime.now(UTC)
        local = now.astimezone(VIETNAM_TZ)
        day_end = local.replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=1)
        if day_end - now < DAY_END_MARGIN:
            await asyncio.sleep((day_end - now).total_seconds() + 1)
            now = datetime.now(UTC)
        month = month_of(to_instant(now))
        self.now, self.start, self.end = now, to_datetime(month_start(month)), to_datetime(month_end(month))


CLOCK = TestClock()


def early(fraction: float) -> datetime:
    return CLOCK.start + (CLOCK.now - CLOCK.start) * fraction


def ev(event_id: str, dossier: str, unit: str, kind: str, at: datetime, **fields: Any) -> dict:
    for key, value in list(fields.items()):
        if isinstance(value, datetime):
            fields[key] = utc(value)
    return {"event_id": event_id, "dossier_id": dossier, "unit_id": unit, "type": kind, "occurred_at": utc(at),
            "ingested_at": utc(at + timedelta(minutes=1)), **fields}  # fmt: skip


def received(p: str, name: str, unit: str, at: datetime, due: datetime, channel: str = "direct", **more: Any) -> dict:
    return ev(f"{p}-{name}r", f"{p}-{name}", unit, "received", at, channel=channel, due_at=due,
              procedure_id="1.000001", **more)  # fmt: skip


def forecast_events(p: str) -> list[dict]:
    x, y = f"{p}.BV.TT", f"{p}.BV.BT"
    due_mid = CLOCK.now + (CLOCK.end - CLOCK.now) / 2
    events = [
        received(p, "A", x, early(0.1), early(0.3)),
        received(p, "B", x, early(0.2), due_mid, channel="online", digitized=True),
        received(p, "C", x, early(0.1), early(0.3)),
        ev(f"{p}-Ch", f"{p}-C", x, "supplement_requested", early(0.2)),
        received(p, "D", x, early(0.4), CLOCK.end + timedelta(days=2), channel="online"),
        received(p, "F", x, early(0.1), early(0.5)),
        ev(f"{p}-Fz", f"{p}-F", x, "resolved", early(0.3), outcome="approved"),
    ]
    for i, channel in enumerate(("online", "direct", "direct")):
        events.append(received(p, f"Y{i}", y, early(0.1), early(0.6), channel=channel))
        events.append(ev(f"{p}-Y{i}z", f"{p}-Y{i}", y, "resolved", early(0.2), outcome="approved"))
    return events


def todo_plan(p: str) -> tuple[list[dict], dict[str, datetime]]:
    """Dossiers of Sở Xây dựng around today's boundaries; returns the events and each dossier's due."""
    unit = f"{p}.SXD"
    local = CLOCK.now.astimezone(VIETNAM_TZ)
    today_end = local.replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=1)
    dues = {
        "T1": CLOCK.now + min(timedelta(hours=1), (today_end - CLOCK.now) / 2),  # due today
        "T2": today_end + timedelta(hours=6),  # tomorrow
        "T4": today_end + timedelta(hours=2),  # tomorrow, earlier than T2
        "T3": today_end + timedelta(hours=30),  # the day after: listed only if still this month
        "O1": early(0.4),  # overdue
        "O2": early(0.3),  # overdue longer
        "H": CLOCK.now + timedelta(hours=1),  # on hold: not on the list
        "R": CLOCK.now + timedelta(hours=1),  # resolved: not on the list
    }
    events = [received(p, name, unit, early(0.2), due) for name, due in dues.items()]
    events.append(ev(f"{p}-Hh", f"{p}-H", unit, "paused", early(0.25)))
    events.append(ev(f"{p}-Rz", f"{p}-R", unit, "resolved", early(0.3), outcome="approved"))
    return events, dues


@contextlib.asynccontextmanager
async def service(fresh_database: str, kafka_bootstrap: str, tmp_path: Path) -> AsyncIterator[tuple[str, Any]]:
    await CLOCK.reset()
    p = unique("a").replace("-", "")
    await prepare_database(fresh_database, p)
    topics = await create_topics(kafka_bootstrap)
    profile = tmp_path / "profile.yaml"
    default = (REPO_ROOT / "config" / "score_profile.yaml").read_text(encoding="utf-8")
    profile.write_text(default + "\nmin_dossiers: 1\n", encoding="utf-8")
    env = {"DATABASE_URL": fresh_database, "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap, "PROFILE_PATH": str(profile),
           **topics.env()}  # fmt: skip
    async with service_process("scoring", **env) as svc:
        await wait_ready(svc)
        forecast, (todo, _) = forecast_events(p), todo_plan(p)
        await produce(kafka_bootstrap, topics.events, forecast + todo, shuffle=3)
        await wait_for(lambda: get(svc, f"/v1/units/{p}.H26/indicators"),
                       lambda body: body["counters"]["events"] == len(forecast) + len(todo))  # fmt: skip
        yield p, svc


async def get(svc: RunningService, path: str, **params: Any) -> Any:
    async with httpx.AsyncClient(base_url=svc.base_url, timeout=10) as client:
        response = await client.get(path, params=params)
        body = response.json() if "json" in response.headers.get("content-type", "") else response.text
        return body if response.status_code == 200 else {"status": response.status_code, **body}


async def test_forecast_todo_and_lookup(fresh_database: str, kafka_bootstrap: str, tmp_path: Path) -> None:
    async with service(fresh_database, kafka_bootstrap, tmp_path) as (p, svc):
        await check_forecast(p, svc)
        await check_todo(p, svc)
        await check_lookup(p, svc)


async def check_forecast(p: str, svc: RunningService) -> None:
    x = f"{p}.BV.TT"
    forecast = await get(svc, f"/v1/units/{x}/forecast")
    assert forecast["due_this_month"] == 1 and forecast["overdue_open"] == 1
    current, worst, best = forecast["current"], forecast["worst"], forecast["best"]
    assert current["score"] == pytest.approx(100 * 45.2 / 72)
    assert worst["score"] == pytest.approx(100 * 41.2 / 72)
    assert best["score"] == pytest.approx(100 * 49.2 / 72)
    assert (current["progress_rate"], worst["progress_rate"], best["progress_rate"]) == (0.8, 0.6, 0.8)
    assert (current["rank"], worst["rank"], best["rank"]) == (2, 2, 1)
    assert best["rank_of"] == 2
    assert worst["counters"]["progress_on_time"] == 3 and best["counters"]["resolved_e_result"] == 1
    assert "cuối tháng" in forecast["assumptions"]["vi"] and "on hold" in forecast["assumptions"]["en"]
    # "current" is exactly what the indicators endpoint says.
    indicators = await get(svc, f"/v1/units/{x}/indicators")
    assert indicators["score"] == pytest.approx(current["score"]) and indicators["rank"] == current["rank"]
    assert indicators["counters"] == current["counters"]
    y = await get(svc, f"/v1/units/{p}.BV.BT/forecast")
    assert y["worst"]["score"] == pytest.approx(100 * 46 / 72) == y["best"]["score"]
    assert (y["worst"]["rank"], y["best"]["rank"]) == (1, 2)
    # The whole level at once (what the alerts' forecast rules read): the same figures, with ancestors.
    level = await get(svc, "/v1/forecasts", level="commune")
    listed = {item["unit_id"]: item for item in level["items"]}
    assert {x, f"{p}.BV.BT"} <= set(listed) and listed[x]["ancestors"] == [f"{p}.BV", f"{p}.H26"]
    for key in ("name", "level", "period", "month_end", "due_this_month", "overdue_open", "current", "worst", "best"):
        assert listed[x][key] == forecast[key], key
    assert level["period"] == forecast["period"] and "cuối tháng" in level["assumptions"]["vi"]
    assert (await get(svc, "/v1/forecasts", level="hamlet"))["status"] == 422
    missing = await get(svc, "/v1/units/NO.SUCH/forecast")
    assert missing == {"status": 404, "error": "unknown_unit", "detail": missing["detail"]}


async def check_todo(p: str, svc: RunningService) -> None:
    unit = f"{p}.SXD"
    _, dues = todo_plan(p)
    listed_t3 = dues["T3"] < CLOCK.end
    upcoming = ["T1", "T4", "T2"] + (["T3"] if listed_t3 else [])
    expected = [f"{p}-{name}" for name in [*upcoming, "O2", "O1"]]
    page = await get(svc, f"/v1/units/{unit}/todo")
    assert [item["dossier_id"] for item in page["items"]] == expected
    assert page["total"] == len(expected) and page["next_cursor"] is None
    assert page["totals"] == {"due_today": 1, "due_tomorrow": 2, "due_this_month": int(listed_t3), "overdue": 2}
    buckets = [item["bucket"] for item in page["items"]]
    assert buckets == ["due_today", "due_tomorrow", "due_tomorrow"] + (["due_this_month"] if listed_t3 else []) + [
        "overdue", "overdue"]  # fmt: skip
    # 8 dossiers in play (all received this month): one due before the month's end protects 100/8 points.
    in_play = page["progress_total"]
    assert in_play == 8
    for item in page["items"]:
        due = datetime.fromisoformat(item["due_at"])
        if item["bucket"] == "overdue":
            assert item["score_gain"] is None and item["progress_points"] == 0
        elif due < CLOCK.end:
            assert item["progress_points"] == pytest.approx(100 / in_play) and item["score_gain"] > 0
        else:
            assert item["progress_points"] == 0
    # Paging: two at a time gives the same list; the overdue section on its own.
    seen, cursor = [], None
    while True:
        part = await get(svc, f"/v1/units/{unit}/todo", limit=2, **({"cursor": cursor} if cursor else {}))
        seen += [item["dossier_id"] for item in part["items"]]
        cursor = part["next_cursor"]
        if cursor is None:
            break
    assert seen == expected
    overdue = await get(svc, f"/v1/units/{unit}/todo", section="overdue")
    assert [item["dossier_id"] for item in overdue["items"]] == [f"{p}-O2", f"{p}-O1"] and overdue["total"] == 2
    # CSV: a Vietnamese header row, then the same rows.
    async with httpx.AsyncClient(base_url=svc.base_url, timeout=10) as client:
        response = await client.get(f"/v1/units/{unit}/todo", headers={"Accept": "text/csv"})
    assert response.headers["content-type"].startswith("text/csv")
    assert "attachment" in response.headers["content-disposition"]
    rows = list(csv.reader(io.StringIO(response.text)))
    assert rows[0][:3] == ["Nhóm", "Mã hồ sơ", "Mã TTHC"]
    assert [row[1] for row in rows[1:]] == expected
    assert rows[1][0] == "Đến hạn hôm nay" and rows[-1][0] == "Đã quá hạn"
    bad = await get(svc, f"/v1/units/{unit}/todo", cursor="not-a-cursor")
    assert bad["status"] == 422 and bad["error"] == "invalid_cursor"


async def check_lookup(p: str, svc: RunningService) -> None:
    x = f"{p}.BV.TT"
    c = await get(svc, f"/v1/dossiers/{p}-C")
    assert c["status"] == "open" and c["on_hold_now"] is True
    assert c["home_unit"] == {"unit_id": x, "name": "Thị trấn Tây Đằng"} and c["counts_for_today"]["unit_id"] == x
    assert [e["type"] for e in c["events"]] == ["received", "supplement_requested"]
    assert len(c["holds"]) == 1 and c["holds"][0]["end"] is None
    month = CLOCK.now.astimezone(VIETNAM_TZ).strftime("%Y-%m")
    mine = {(m["month"], m["counter"]): m for m in c["counters"]}
    assert mine[(month, "progress_on_time")]["counts_for"] == x  # on hold at the month's end: on time
    assert mine[(month, "received")]["value"] == 1 and c["live"] == {"open": 1, "overdue_open": 0, "due_soon": 0}
    f = await get(svc, f"/v1/dossiers/{p}-F")
    assert f["status"] == "resolved" and f["resolution"]["on_time"] is True
    assert {m["counter"] for m in f["counters"] if m["month"] == month} >= {"resolved_on_time", "progress_on_time"}
    b = await get(svc, f"/v1/dossiers/{p}-B")
    assert b["current_month"] == {"month": month, "progress_correction": 1}
    missing = await get(svc, f"/v1/dossiers/{p}-nothing")
    assert missing["status"] == 404 and missing["error"] == "unknown_dossier"
    # All open dossiers of the commune, on hold included, by due then id (A and C share a due).
    open_page = await get(svc, f"/v1/units/{x}/open-dossiers", limit=3)
    assert (open_page["total"], open_page["on_hold"]) == (4, 1)
    assert [i["dossier_id"] for i in open_page["items"]] == [f"{p}-A", f"{p}-C", f"{p}-B"]
    assert [i["status"] for i in open_page["items"]][:2] == ["overdue", "on_hold"]
    rest = await get(svc, f"/v1/units/{x}/open-dossiers", limit=3, cursor=open_page["next_cursor"])
    assert [i["dossier_id"] for i in rest["items"]] == [f"{p}-D"] and rest["next_cursor"] is None
    # The district's list covers its communes.
    district = await get(svc, f"/v1/units/{p}.BV/open-dossiers")
    assert district["total"] == 4
