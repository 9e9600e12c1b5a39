"""The dashboard follows the registry over time (SPEC §1, §5, §6), in a real headless Chromium on the real stack.

On top of the simulator's small registry this module loads a reorganisation into the stack's database: a commune
retired at the start of this month (its successor takes its open dossiers), the new commune it was merged into
(established this month, with a few dossiers that named it already last month) and a commune with no data at all.
Rankings then list the units of the month, ranked first, then the unranked ones with their reason; a group without
data shows "—"; the unit pages show "merged from" / "merged into" and mark the months before the unit existed.
Screenshots for docs/dashboard.md are saved on the way (and looked at).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from playwright.async_api import Page, expect

from tests.integration.dashboard.conftest import SCREENSHOTS, DashboardStack
from tests.integration.registry import insert_units
from tests.integration.scoring.harness import wait_for

TIMEOUT_MS = 30_000
VN = ZoneInfo("Asia/Ho_Chi_Minh")
NEW = "H26.C.REORG.NEW"
OLD = "H26.DIS.BAVI.C90"
EMPTY = "H26.C.REORG.EMPTY"
NEW_NAME = "Phường Thử Nghiệm Hợp Nhất"
OLD_NAME = "Xã Thử Nghiệm Cũ"
EMPTY_NAME = "Xã Thử Nghiệm Chưa Có Hồ Sơ"


def month_label(day: date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


def previous_first_day(first: date) -> date:
    return (first - timedelta(days=1)).replace(day=1)


def event(dossier: str, unit: str, kind: str, at: datetime, **fields: Any) -> dict[str, Any]:
    stamp = at.isoformat()
    return {"event_id": f"{dossier}-{kind}", "dossier_id": dossier, "unit_id": unit, "type": kind,
            "occurred_at": stamp, "ingested_at": stamp, **fields}  # fmt: skip


def received(dossier: str, unit: str, at: datetime) -> dict[str, Any]:
    return event(dossier, unit, "received", at, channel="online", due_at=(at + timedelta(days=5)).isoformat(),
                 procedure_id="1.000001")  # fmt: skip


@pytest.fixture(scope="module")
async def reorganised(stack: DashboardStack) -> AsyncIterator[dict[str, str]]:
    """The reorganisation loaded and its events applied; yields this month's and last month's labels."""
    now = datetime.now(VN)
    first = now.date().replace(day=1)
    last_month = datetime.combine(previous_first_day(first) + timedelta(days=9), datetime.min.time(), VN).replace(
        hour=10
    )
    await insert_units(stack.database_url, [
        (NEW, NEW_NAME, "commune", "H26", first, None, None),
        (OLD, OLD_NAME, "commune", "H26.DIS.BAVI", None, first, NEW),
        (EMPTY, EMPTY_NAME, "commune", "H26", None, None, None),
    ])  # fmt: skip
    await wait_for(lambda: stack.get("/v1/units"), lambda body: {NEW, OLD, EMPTY} <= {u["unit_id"] for u in
                   body["items"]}, timeout_s=60)  # fmt: skip
    events: list[dict[str, Any]] = []
    for i in range(3):  # last month, before NEW existed: dossiers that already named it (SPEC §1: they count for it)
        at = last_month + timedelta(hours=i)
        events += [received(f"REORG-EARLY-{i}", NEW, at),
                   event(f"REORG-EARLY-{i}", NEW, "resolved", at + timedelta(days=1), outcome="approved")]  # fmt: skip
    for i in range(2):  # last month at the retired commune, still open: this month they count for NEW
        events.append(received(f"REORG-OLD-{i}", OLD, last_month + timedelta(hours=i)))
    for i in range(3):  # this month at NEW: received only, no payment, no rating
        events.append(received(f"REORG-NOW-{i}", NEW, max(now - timedelta(hours=1 + i), datetime.combine(
            first, datetime.min.time(), VN) + timedelta(minutes=i))))  # fmt: skip
    await stack.send(events)
    await wait_for(lambda: stack.get(f"/v1/units/{NEW}/indicators"),
                   lambda body: body["counters"]["received"] >= 3, timeout_s=90)  # fmt: skip
    yield {"period": month_label(first), "previous": month_label(previous_first_day(first))}


async def fresh_ranking(stack: DashboardStack, level: str, **params: str) -> dict[str, Any]:
    """The rankings once the API's short-lived cache shows the new units' figures."""

    def settled(body: dict[str, Any]) -> bool:
        mine = {i["unit_id"]: i for i in body["items"]}
        return NEW in mine and mine[NEW]["unranked_reason"] == "too_few_dossiers"

    return await wait_for(lambda: stack.get("/v1/rankings", level=level, **params), settled, timeout_s=60)


async def test_rankings_list_the_units_of_the_month_unranked_after_ranked_with_their_reason(
    page: Page, stack: DashboardStack, reorganised: dict[str, str]
) -> None:
    ranking = await fresh_ranking(stack, "commune")
    by_id = {item["unit_id"]: item for item in ranking["items"]}
    assert OLD not in by_id, "a unit retired before the month is not listed"
    assert by_id[EMPTY]["unranked_reason"] == "no_data"
    assert by_id[NEW]["groups"]["payment"]["points"] is None, "NEW has no payment: the group has no data"

    await page.goto(f"{stack.base_url}/dashboard/#/rankings/commune")
    rows = page.locator("#rankings tbody tr[data-unit]")
    await expect(rows).to_have_count(len(ranking["items"]), timeout=TIMEOUT_MS)
    await expect(page.locator(f"#rankings tr[data-unit='{NEW}']")).to_have_attribute("data-reason", "too_few_dossiers")
    shown = await rows.evaluate_all("rs => rs.map(r => [r.dataset.unit, r.dataset.rank, r.dataset.reason || null])")
    assert [unit for unit, _, _ in shown] == [item["unit_id"] for item in ranking["items"]]
    ranks = [rank for _, rank, _ in shown]
    ranked_count = sum(1 for rank in ranks if rank)
    assert ranked_count == ranking["rank_of"]
    assert all(ranks[:ranked_count]) and not any(ranks[ranked_count:]), "unranked units come after the ranked ones"
    assert [reason for _, _, reason in shown[ranked_count:]] == [i["unranked_reason"] for i in ranking["items"][
        ranked_count:]]  # fmt: skip
    # The separator row sits right before the first unranked unit.
    head = page.locator("#rankings tbody tr[data-unranked-head]")
    await expect(head).to_have_count(1)
    assert await head.evaluate("h => h.nextElementSibling.dataset.rank") == ""

    new_row = page.locator(f"#rankings tr[data-unit='{NEW}']")
    await expect(new_row.locator(".reason")).to_have_text("Chưa đủ hồ sơ (< 20)")
    # Group points are one cell of small bars (rankings fit 1,366 px); a group with no data is a hatched bar.
    await expect(new_row.locator("td[data-col='groups'] .gbar[data-group='payment']")).to_have_class("gbar nodata")
    await expect(new_row.locator("td[data-col='groups'] .gbar[data-group='satisfaction']")).to_have_class("gbar nodata")
    await expect(new_row.locator("td[data-col='rank']")).to_have_text("—")
    empty_row = page.locator(f"#rankings tr[data-unit='{EMPTY}']")
    await expect(empty_row.locator(".reason")).to_have_text("Chưa có dữ liệu")
    await expect(empty_row.locator("td[data-col='score']")).to_have_text("—")
    for key in by_id[EMPTY]["groups"]:  # no data at all: every group "—", never 0
        await expect(empty_row.locator(f"td[data-col='groups'] .gbar[data-group='{key}']")).to_have_class("gbar nodata")
    # Only the levels that have units in the month are offered.
    tabs = await page.locator(".tabs .tab").evaluate_all("ts => ts.map(t => t.dataset.level)")
    assert tabs == ["department", "district", "commune"]
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    await page.set_viewport_size({"width": 1366, "height": 768})  # every column fits a laptop screen
    await page.screenshot(path=SCREENSHOTS / "rankings-unranked.png", full_page=True)
    await page.set_viewport_size({"width": 1360, "height": 900})

    await page.click("#lang")
    await expect(new_row.locator(".reason")).to_have_text("Too few dossiers (< 20)")
    await expect(empty_row.locator(".reason")).to_have_text("No data")
    await page.click("#lang")

    # Last month: the retired commune existed and is listed; the new one did not, although facts named it.
    await page.goto(f"{stack.base_url}/dashboard/#/rankings/commune?period={reorganised['previous']}")
    earlier = await stack.get("/v1/rankings", level="commune", period=reorganised["previous"])
    listed = page.locator("#rankings tbody tr[data-unit]")
    await expect(listed).to_have_count(len(earlier["items"]), timeout=TIMEOUT_MS)
    ids = await listed.evaluate_all("rs => rs.map(r => r.dataset.unit)")
    assert OLD in ids and NEW not in ids


async def test_a_group_without_data_shows_a_dash_on_the_unit_page_never_zero(
    page: Page, stack: DashboardStack, reorganised: dict[str, str]
) -> None:
    indicators = await stack.get(f"/v1/units/{NEW}/indicators")
    assert indicators["groups"]["payment"]["points"] is None
    await page.goto(f"{stack.base_url}/dashboard/#/unit/{NEW}")
    group = page.locator("#unit-groups .group[data-group='payment']")
    await expect(group).to_have_attribute("data-points", "null", timeout=TIMEOUT_MS)
    await expect(group.locator(".group-points")).to_have_text("— / 10")
    await expect(page.locator("#unit-rank")).to_contain_text("Chưa đủ hồ sơ (< 20)")
    await expect(page.locator("[data-field='online_payment_rate'] .value")).to_have_text("—")


async def test_unit_pages_show_merged_from_and_into_and_mark_the_months_before_the_unit(
    page: Page, stack: DashboardStack, reorganised: dict[str, str]
) -> None:
    units = {u["unit_id"]: u for u in (await stack.get("/v1/units"))["items"]}
    assert units[NEW]["predecessors"] == [OLD] and units[OLD]["successor_id"] == NEW
    history = await stack.get(f"/v1/units/{NEW}/history", months=12)
    absent = [month["exists"] is False for month in history["months"]]
    assert absent[-1] is False and all(absent[:-1]), "NEW exists from this month only"

    await page.goto(f"{stack.base_url}/dashboard/#/unit/{NEW}")
    registry = page.locator("#unit-registry")
    await expect(registry.locator("[data-registry='merged_from']")).to_contain_text("Hình thành từ", timeout=TIMEOUT_MS)
    await expect(registry.locator(f"[data-registry='merged_from'] a[data-unit-link='{OLD}']")).to_have_text(OLD_NAME)
    first = date.fromisoformat(units[NEW]["valid_from"])
    await expect(registry.locator("[data-registry='valid_from']")).to_have_text(
        f"Thành lập từ ngày {first.day:02d}/{first.month:02d}/{first.year}"
    )
    await page.wait_for_function("() => window.Chart && window.Chart.getChart('trend-chart')", timeout=TIMEOUT_MS)
    flagged = await page.evaluate("() => window.Chart.getChart('trend-chart').options.plugins.absentMonths.absent")
    assert flagged == absent
    plotted = await page.evaluate("() => window.Chart.getChart('trend-chart').data.datasets[0].data")
    assert plotted == [month["score"] for month in history["months"]]
    await expect(page.locator("#trend-note")).to_contain_text("trước khi đơn vị thành lập")
    await expect(page.locator("#trend-note")).to_contain_text(OLD_NAME)

    await page.click("details.history summary")
    last = page.locator(f"#history-table tr[data-period='{reorganised['previous']}']")
    await expect(last).to_have_attribute("data-status", "before")
    await expect(last.locator("td.note")).to_have_text("trước khi thành lập — chỉ gồm hồ sơ đã ghi mã đơn vị này")
    older = page.locator("#history-table tr[data-status='before']").last
    await expect(older.locator("td.note")).to_have_text("chưa thành lập")
    now = page.locator(f"#history-table tr[data-period='{reorganised['period']}']")
    await expect(now).to_have_attribute("data-status", "exists")
    await page.screenshot(path=SCREENSHOTS / "unit-merged.png", full_page=True)

    await registry.locator(f"a[data-unit-link='{OLD}']").click()
    await page.wait_for_url(f"**/dashboard/#/unit/{OLD}", timeout=TIMEOUT_MS)
    into = page.locator("#unit-registry [data-registry='merged_into']")
    await expect(into).to_contain_text("Sáp nhập vào", timeout=TIMEOUT_MS)
    await expect(into).to_contain_text(f"từ ngày {first.day:02d}/{first.month:02d}/{first.year}")
    await expect(into.locator(f"a[data-unit-link='{NEW}']")).to_have_text(NEW_NAME)
    await expect(page.locator("#unit-rank")).to_contain_text("Đơn vị không tồn tại trong tháng này")
    await page.click("details.history summary")
    gone = page.locator(f"#history-table tr[data-period='{reorganised['period']}']")
    await expect(gone).to_have_attribute("data-status", "after")
    await expect(gone.locator("td.note")).to_have_text(f"đã sáp nhập vào {NEW_NAME}")
    await page.screenshot(path=SCREENSHOTS / "unit-retired.png", full_page=True)


async def test_rank_movements_list_only_units_ranked_in_both_months(
    page: Page, stack: DashboardStack, reorganised: dict[str, str]
) -> None:
    report = await stack.get("/v1/reports/monthly", format="json")
    movable = {r["unit_id"]: r for r in report["items"] if r["rank"] is not None and r["rank_change_1"]}
    await page.goto(f"{stack.base_url}/dashboard/")
    await page.wait_for_selector("#movers .movers-hint", timeout=TIMEOUT_MS)
    listed = await page.locator("#movers li[data-unit]").evaluate_all(
        "ls => ls.map(l => [l.closest('.movers-level').dataset.level, l.dataset.unit, +l.dataset.change])"
    )
    for level, unit, _ in listed:
        assert unit in movable, f"{unit} is listed but not ranked in both months"
        assert movable[unit]["level"] == level
    for level in ("department", "district", "commune"):
        for sign in (1, -1):
            ours = [change for lvl, _, change in listed if lvl == level and change * sign > 0]
            moved = [r["rank_change_1"] for r in movable.values() if r["level"] == level]
            theirs = sorted((c for c in moved if c * sign > 0), key=lambda c: -c * sign)
            assert ours == theirs[:5]


async def test_a_level_without_units_in_the_month_says_so_and_has_no_tab(
    page: Page, stack: DashboardStack, reorganised: dict[str, str]
) -> None:
    """Districts after June 2025. The small registry's districts never end, so this test alone rewrites the API's
    answers in the browser (Playwright routes) as a registry whose districts were retired at the start of this
    month would give them: validity on `/v1/units`, no district row in the notice nor in `/v1/rankings`."""
    first = f"{reorganised['period']}-01"

    async def units(route: Any) -> None:
        response = await route.fetch()
        body = await response.json()
        for unit in body["items"]:
            if unit["level"] == "district":
                unit["valid_to"], unit["successor_id"] = first, "H26"
        await route.fulfill(response=response, json=body)

    async def without_districts(route: Any) -> None:
        response = await route.fetch()
        body = await response.json()
        if f"period={reorganised['period']}" in route.request.url:  # this month only: last month they existed
            body["items"] = [i for i in body["items"] if i.get("level", body.get("level")) != "district"]
        await route.fulfill(response=response, json=body)

    await page.route("**/v1/units", units)
    await page.route("**/v1/reports/monthly?*", without_districts)
    await page.route("**/v1/rankings?*", without_districts)
    await page.goto(f"{stack.base_url}/dashboard/#/rankings/district")
    note = page.locator("#rankings-empty")
    day = f"{first[8:10]}/{first[5:7]}/{first[:4]}"
    await expect(note).to_have_text(
        f"Tháng {first[5:7]}/{first[:4]} không có đơn vị nào thuộc cấp “Quận, huyện, thị xã”: "
        f"cấp này không còn từ ngày {day}.",
        timeout=TIMEOUT_MS,
    )
    await expect(page.locator(".table-wrap")).to_be_hidden()
    tabs = await page.locator(".tabs .tab").evaluate_all("ts => ts.map(t => t.dataset.level)")
    assert tabs == ["department", "commune"]
    # Last month the districts existed: their tab and table are back.
    await page.goto(f"{stack.base_url}/dashboard/#/rankings/district?period={reorganised['previous']}")
    await expect(page.locator("#rankings tbody tr[data-unit]").first).to_be_visible(timeout=TIMEOUT_MS)
    await expect(page.locator(".tabs .tab[data-level='district']")).to_have_count(1)
