"""The dashboard in a real headless Chromium against a running scoring service fed by the simulator.

The page must show exactly the API's figures, open a unit's page from the rankings, follow the live stream without a
reload, switch to English, say when the alerts service is unreachable, survive a lost connection, fit a phone and
fetch nothing from outside the stack. Screenshots for docs/dashboard.md are saved on the way.
"""

from __future__ import annotations

import json
import re
import uuid
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from playwright.async_api import Page, Route, expect

from tests.integration.dashboard.conftest import SCREENSHOTS, DashboardStack
from tests.integration.scoring.harness import wait_for

TIMEOUT_MS = 30_000
VIETNAM = timezone(timedelta(hours=7))
RATE_FIELDS = ("online_rate", "on_time_rate", "online_payment_rate", "digitization_rate", "satisfaction_rate")
COUNT_FIELDS = ("received_today", "received_this_month", "in_progress", "resolved_this_month", "overdue", "due_soon")


def expected_fields(summary: dict[str, Any]) -> dict[str, float | None]:
    """The 11 fields as the API states them (SPEC §6 /v1/summary: rates and the dashboard block)."""
    return {**{k: summary["dashboard"][k] for k in COUNT_FIELDS}, **{k: summary["rates"][k] for k in RATE_FIELDS}}


def vi_count(value: int) -> str:
    return f"{value:,}".replace(",", ".")


async def shown_fields(page: Page) -> dict[str, float | None]:
    raw = await page.eval_on_selector_all(
        "#tiles .tile", "tiles => Object.fromEntries(tiles.map(t => [t.dataset.field, t.dataset.value]))"
    )
    return {key: None if value == "null" else float(value) for key, value in raw.items()}


async def open_overview(page: Page, stack: DashboardStack) -> None:
    await page.goto(f"{stack.base_url}/dashboard/")
    await page.wait_for_selector("#tiles .tile[data-field='satisfaction_rate']", timeout=TIMEOUT_MS)
    await expect(page.locator("#conn")).to_have_attribute("data-status", "live", timeout=TIMEOUT_MS)


async def overview_matching_the_api(page: Page, stack: DashboardStack) -> dict[str, Any]:
    """Load the overview until one API read before and one after agree with what the page shows.

    Live counts move on their own when a due date passes; bracketing the page load with two reads tells such a
    tick from a real difference."""
    last: tuple[Any, Any] = (None, None)
    for _ in range(5):
        before = await stack.get("/v1/summary")
        await open_overview(page, stack)
        shown = await shown_fields(page)
        after = await stack.get("/v1/summary")
        for summary in (after, before):
            if shown == expected_fields(summary):
                return summary
        last = (shown, expected_fields(after))
    raise AssertionError(f"the overview never matched the API: shown {last[0]} vs API {last[1]}")


async def receive_in_the_current_month(stack: DashboardStack, count: int = 3) -> None:
    """A few dossiers received in the current Vietnam month, so its figures are never all empty: in the first hours of
    a month (CI ran at 00:05 on 1 December) the simulated feed has nothing there yet."""
    now = datetime.now(UTC)
    month_start = now.astimezone(VIETNAM).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    at = max(now - timedelta(minutes=1), month_start + timedelta(seconds=1))
    period = f"{at.astimezone(VIETNAM):%Y-%m}"
    today = at.astimezone(VIETNAM).date() == now.astimezone(VIETNAM).date()
    already = await stack.get("/v1/summary", period=period)
    tag = uuid.uuid4().hex[:8]
    await stack.send([
        {"event_id": f"E2E-NOW-{tag}-{n}-r", "dossier_id": f"E2E-NOW-{tag}-{n}", "unit_id": "H26.DEP.SKHDT",
         "type": "received", "occurred_at": at.isoformat(), "ingested_at": now.isoformat(), "channel": "online",
         "due_at": (now + timedelta(days=5)).isoformat(), "procedure_id": "1.000001"}
        for n in range(count)
    ])  # fmt: skip
    # Until the API shows these, in the month's counters and (received today) in the live figures — not merely some
    # count: a test reading the page right after must not see them arrive later (CI: "received today" 9 → 12 → 13).
    await wait_for(
        lambda: stack.get("/v1/summary", period=period),
        lambda s: (
            s["counters"]["received"] >= already["counters"]["received"] + count
            and (not today or s["dashboard"]["received_today"] >= already["dashboard"]["received_today"] + count)
        ),
    )


async def receive_one_now(stack: DashboardStack) -> None:
    """One dossier received now at the Department of Justice."""
    now = datetime.now(UTC)
    dossier = f"E2E-{uuid.uuid4().hex[:12]}"
    await stack.send([{
        "event_id": f"{dossier}-r", "dossier_id": dossier, "unit_id": "H26.DEP.STP", "type": "received",
        "occurred_at": now.isoformat(), "ingested_at": now.isoformat(), "channel": "online",
        "due_at": (now + timedelta(days=5)).isoformat(), "procedure_id": "1.000001",
    }])  # fmt: skip


async def test_overview_figures_equal_the_api_for_the_same_period(page: Page, stack: DashboardStack) -> None:
    await receive_in_the_current_month(stack)
    summary = await overview_matching_the_api(page, stack)
    assert summary["counters"]["received"] > 0, "nothing received in the current month"

    score = await page.get_attribute("#city-score .score", "data-value")
    assert float(score) == summary["score"]
    groups = await page.eval_on_selector_all(
        "#city-groups .group",
        # A group with no data yet (no payment in the month's first hours) says data-points="null".
        "gs => gs.map(g => [g.dataset.group, g.dataset.points === 'null' ? null : +g.dataset.points, +g.dataset.max])",
    )
    profile = await stack.get("/v1/profile")
    assert [g[0] for g in groups] == [g["key"] for g in profile["groups"]]
    assert {key: (points, top) for key, points, top in groups} == {
        key: (value["points"], value["max"]) for key, value in summary["groups"].items()
    }

    tile = page.locator("[data-field='received_this_month']")
    assert await tile.locator(".value").inner_text() == vi_count(summary["dashboard"]["received_this_month"])
    # The month in progress is not compared with the whole previous month: its total is shown as it is.
    previous = await stack.get("/v1/summary", period=_previous_month(summary["period"]))
    year, month = _previous_month(summary["period"]).split("-")
    await expect(tile.locator(".change")).to_have_attribute("data-compared", "total")
    await expect(tile.locator(".change")).to_have_text(
        f"cả tháng {month}/{year}: {vi_count(previous['counters']['received'])}"
    )
    # A rate over fewer dossiers than the profile's min_dossiers is not compared either.
    minimum = (await stack.get("/v1/profile"))["min_dossiers"]
    for field, denominator in (("on_time_rate", "resolved_with_due"), ("satisfaction_rate", "ratings")):
        few = summary["counters"][denominator] < minimum and summary["rates"][field] is not None
        compared = await page.get_attribute(f"[data-field='{field}'] .change", "data-compared")
        assert compared == "few" if few else compared in ("delta", "none"), (field, compared)
    await expect(page.locator("#period option:checked")).to_have_text(
        f"Tháng {summary['period'][5:]}/{summary['period'][:4]} (hiện tại)"
    )

    online = page.locator("[data-field='online_rate']")
    await expect(online.locator(".frac")).to_be_hidden()
    await online.hover()
    counters = summary["counters"]
    await expect(online.locator(".frac")).to_have_text(
        f"{vi_count(counters['received_online'])} hồ sơ trực tuyến / {vi_count(counters['received'])} hồ sơ tiếp nhận"
    )
    await page.mouse.move(0, 0)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=SCREENSHOTS / "overview.png", full_page=True)


async def test_alerts_panel_says_when_the_alerts_service_is_unreachable(page: Page, stack: DashboardStack) -> None:
    await open_overview(page, stack)
    panel = page.locator("#alerts")
    await expect(panel).to_have_attribute("data-state", "unavailable", timeout=TIMEOUT_MS)
    await expect(panel).to_contain_text("Không kết nối được dịch vụ cảnh báo / alerts service unavailable")


async def rankings_matching_the_api(page: Page, stack: DashboardStack, level: str) -> dict[str, Any]:
    """Open a level's rankings until one API read before and one after the page load agree with the rows shown.

    The live feed keeps moving the figures, and in a month's first days (CI on 1 December) a handful of dossiers
    reorders the departments: a single read after the page load raced it."""
    last: tuple[Any, Any] = (None, None)
    rows = page.locator("#rankings tbody tr[data-unit]")
    for _ in range(5):
        before = await stack.get("/v1/rankings", level=level)
        await page.goto(f"{stack.base_url}/dashboard/#/rankings/{level}")
        await page.reload()
        await expect(rows).to_have_count(len(before["items"]), timeout=TIMEOUT_MS)
        shown = await rows.evaluate_all("rs => rs.map(r => [r.dataset.unit, r.dataset.score])")
        after = await stack.get("/v1/rankings", level=level)
        for ranking in (after, before):
            expected = [[item["unit_id"], item["score"]] for item in ranking["items"]]
            if [[unit, None if score == "null" else float(score)] for unit, score in shown] == expected:
                return ranking
        last = (shown, after["items"])
    raise AssertionError(f"the rankings never matched the API: shown {last[0]} vs API {last[1]}")


async def test_rankings_are_the_apis_sortable_and_a_row_opens_the_unit_page(page: Page, stack: DashboardStack) -> None:
    await rankings_matching_the_api(page, stack, "department")
    rows = page.locator("#rankings tbody tr[data-unit]")

    def by_overdue(report: dict[str, Any]) -> list[str]:
        department = (r for r in report["items"] if r["level"] == "department")
        return [r["unit_id"] for r in sorted(department, key=lambda r: (-r["overdue"], r["rank"] or 10**6))]

    await page.click("#rankings th[data-sort='overdue']")
    await expect(page.locator("#rankings th[data-sort='overdue']")).to_have_attribute("aria-sort", "descending")
    # The page re-reads the report when figures change (the live feed): the order shown is compared with the report
    # read right after it until one read and the page agree.

    async def shown_and_expected() -> tuple[list[str], list[str]]:
        shown = await rows.evaluate_all("rs => rs.map(r => r.dataset.unit)")
        return shown, by_overdue(await stack.get("/v1/reports/monthly", format="json"))

    shown, _ = await wait_for(shown_and_expected, lambda pair: pair[0] == pair[1], timeout_s=TIMEOUT_MS / 1000)

    target = shown[0]
    await rows.first.click()
    await page.wait_for_url(f"**/dashboard/#/unit/{target}", timeout=TIMEOUT_MS)
    indicators = await stack.get(f"/v1/units/{target}/indicators")
    await expect(page.locator("#unit-name")).to_have_text(indicators["name"], timeout=TIMEOUT_MS)
    await page.wait_for_function("() => window.Chart && window.Chart.getChart('trend-chart')", timeout=TIMEOUT_MS)
    history = await stack.get(f"/v1/units/{target}/history", months=12)
    plotted = await page.evaluate("() => window.Chart.getChart('trend-chart').data.datasets[0].data")
    assert plotted == [month["score"] for month in history["months"]]
    assert float(await page.get_attribute("#unit-score .score", "data-value")) == indicators["score"]

    overdue = await stack.get(f"/v1/units/{target}/dossiers", state="overdue", limit=20)
    listed = page.locator("#overdue-list tr[data-dossier]")
    if overdue["items"]:
        await expect(listed.first).to_have_attribute("data-dossier", overdue["items"][0]["dossier_id"])
        first_days = float((await listed.first.locator("td").last.inner_text()).replace(",", "."))
        assert abs(first_days - overdue["items"][0]["days_late"]) < 0.1
    else:
        await expect(page.locator("#overdue-list")).to_contain_text("Không có hồ sơ.")
    await expect(page.locator("#alerts")).to_have_attribute("data-state", "unavailable", timeout=TIMEOUT_MS)
    await page.screenshot(path=SCREENSHOTS / "unit.png", full_page=True)


async def test_a_new_event_changes_a_live_figure_without_reload(page: Page, stack: DashboardStack) -> None:
    await open_overview(page, stack)
    before = await shown_fields(page)
    await page.evaluate("() => { window.__sameDocument = true; }")
    await receive_one_now(stack)
    received = page.locator("[data-field='received_this_month']")
    expected = str(int(before["received_this_month"]) + 1)
    await expect(received).to_have_attribute("data-value", expected, timeout=TIMEOUT_MS)
    await expect(page.locator("[data-field='received_today']")).to_have_attribute(
        "data-value", str(int(before["received_today"]) + 1), timeout=TIMEOUT_MS
    )
    await expect(page.locator("[data-field='in_progress']")).not_to_have_attribute(
        "data-value", str(int(before["in_progress"])), timeout=TIMEOUT_MS
    )
    assert await page.evaluate("() => window.__sameDocument === true"), "the page was reloaded"


async def test_a_re_read_older_than_the_pushed_figures_is_read_again(page: Page, stack: DashboardStack) -> None:
    """After a pushed message the page re-reads the summary; that read can be answered before the API process has
    refreshed its tables (CI saw the overview stay on the old "received today" for good). The first re-read is
    answered here with the summary as it was before the event: the page must keep the pushed figures and read again."""
    await receive_in_the_current_month(stack)
    await open_overview(page, stack)
    before = await shown_fields(page)
    period = f"{datetime.now(VIETNAM):%Y-%m}"
    stale = await stack.get("/v1/summary", period=period)
    served_stale: list[str] = []

    async def once_stale(route: Route) -> None:
        if served_stale:
            await route.continue_()
            return
        served_stale.append(route.request.url)
        await route.fulfill(status=200, content_type="application/json", body=json.dumps(stale))

    await page.route(f"**/v1/summary?period={period}", once_stale)
    await receive_one_now(stack)
    await expect(page.locator("[data-field='received_today']")).to_have_attribute(
        "data-value", str(int(before["received_today"]) + 1), timeout=TIMEOUT_MS
    )
    assert served_stale, "the page never re-read the summary"
    await expect(page.locator("[data-field='received_this_month']")).to_have_attribute(
        "data-value", str(int(before["received_this_month"]) + 1)
    )


async def test_the_english_toggle_switches_labels_and_number_format(page: Page, stack: DashboardStack) -> None:
    await open_overview(page, stack)
    label = page.locator("[data-field='received_today'] h3")
    await expect(label).to_have_text("Tiếp nhận hôm nay")
    await page.click("#lang")
    await expect(page.locator("html")).to_have_attribute("lang", "en")
    await expect(label).to_have_text("Received today")
    await expect(page.locator("[data-nav='overview']")).to_have_text("Overview")
    await expect(page.locator("#lang")).to_have_text("Tiếng Việt")
    await expect(page.locator("#conn")).to_have_text("Live")
    count = int(await page.get_attribute("[data-field='received_this_month']", "data-value"))
    await expect(page.locator("[data-field='received_this_month'] .value")).to_have_text(f"{count:,}")
    await page.screenshot(path=SCREENSHOTS / "overview-en.png", full_page=True)

    await page.reload()  # the choice is remembered
    await expect(page.locator("[data-field='received_today'] h3")).to_have_text("Received today", timeout=TIMEOUT_MS)
    await page.click("#lang")
    await expect(page.locator("html")).to_have_attribute("lang", "vi")
    await expect(page.locator("[data-field='received_today'] h3")).to_have_text("Tiếp nhận hôm nay")


async def test_fits_a_phone_and_loads_nothing_from_outside_the_stack(page: Page, stack: DashboardStack) -> None:
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    await page.set_viewport_size({"width": 390, "height": 844})
    await open_overview(page, stack)
    await page.goto(f"{stack.base_url}/dashboard/#/rankings/commune")
    await page.wait_for_selector("#rankings tbody tr[data-unit]", timeout=TIMEOUT_MS)
    await page.goto(f"{stack.base_url}/dashboard/#/unit/H26.DIS.BADINH")
    await page.wait_for_function("() => window.Chart && window.Chart.getChart('trend-chart')", timeout=TIMEOUT_MS)
    overflow = await page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 1, f"the page is {overflow}px wider than a phone screen"
    outside = [url for url in requested if not url.startswith((stack.base_url, stack.alerts_url, "data:"))]
    assert not outside, outside
    assert any(url.endswith("/static/vendor/chart.umd.min.js") for url in requested)
    await page.goto(f"{stack.base_url}/dashboard/")
    await page.wait_for_selector("#tiles .tile[data-field='satisfaction_rate']", timeout=TIMEOUT_MS)
    await page.screenshot(path=SCREENSHOTS / "overview-phone.png", full_page=True)


async def test_a_lost_connection_shows_itself_and_reconnects(page: Page, stack: DashboardStack) -> None:
    await open_overview(page, stack)
    await stack.stop()
    try:
        await expect(page.locator("#conn")).to_have_attribute("data-status", "lost", timeout=TIMEOUT_MS)
        await expect(page.locator("#conn")).to_contain_text("Mất kết nối")
    finally:
        await stack.start()
    await expect(page.locator("#conn")).to_have_attribute("data-status", "live", timeout=60_000)
    summary = await stack.get("/v1/summary")
    await expect(page.locator("[data-field='received_this_month']")).to_have_attribute(
        "data-value", str(summary["dashboard"]["received_this_month"]), timeout=TIMEOUT_MS
    )


async def test_the_first_days_of_a_month_say_how_little_they_rest_on(page: Page, stack: DashboardStack) -> None:
    """From the 1st to the 7th (Vietnam time) the overview and a unit's page say the month has just begun and link the
    month before, whose counts are compared as usual; later in the month they say nothing. The page's clock is set,
    not the stack's. (The unit page first: seen on 1 December, it compared a day's score with November's whole.)"""
    await receive_in_the_current_month(stack)
    now = datetime.now(VIETNAM)
    for day, shown in ((2, True), (20, False)):
        await page.clock.set_fixed_time(now.replace(day=day, hour=10))
        await page.goto(f"{stack.base_url}/dashboard/#/unit/H26.DEP.SKHDT")
        await expect(page.locator("#unit-name")).not_to_have_text("Đang tải…", timeout=TIMEOUT_MS)
        unit_banner = page.locator("#month-start")
        # The score beside the note: last month's whole score as it is, no arrow; later in the month, the change.
        compared = "total" if shown else "delta"
        changes = page.locator("#unit-score .score-changes")
        await expect(changes).to_have_attribute("data-compared", compared)
        last_month = _previous_month(f"{now:%Y-%m}")
        before = await stack.get("/v1/units/H26.DEP.SKHDT/indicators", period=last_month)
        if shown:
            await expect(changes.locator(".delta")).to_have_count(0)
            if before["score"] is not None:
                await expect(changes).to_contain_text(f"cả tháng {last_month[5:]}/{last_month[:4]}")
        else:
            current = await stack.get("/v1/units/H26.DEP.SKHDT/indicators", period=f"{now:%Y-%m}")
            if before["score"] is not None and current["score"] is not None:
                await expect(changes.locator(".delta").first).to_be_visible()
        if shown:
            await expect(unit_banner).to_contain_text(f"Tháng {now:%m/%Y} mới bắt đầu (ngày {day})")
            await unit_banner.locator("a").click()
            await page.wait_for_url(f"**/#/unit/H26.DEP.SKHDT?period={_previous_month(f'{now:%Y-%m}')}")
        await expect(unit_banner).to_be_hidden(timeout=TIMEOUT_MS)
        await open_overview(page, stack)
        banner = page.locator("#month-start")
        await expect(page.locator("#city-score .score-changes")).to_have_attribute("data-compared", compared)
        if not shown:
            await expect(banner).to_be_hidden()
            continue
        await expect(banner).to_be_visible()
        await expect(banner).to_contain_text(f"Tháng {now:%m/%Y} mới bắt đầu (ngày {day})")
        previous = _previous_month(f"{now:%Y-%m}")
        await banner.locator("a").click()
        await expect(page.locator("#period")).to_have_value(previous)
        await expect(banner).to_be_hidden()
        await expect(page.locator("[data-field='received_this_month'] .change")).to_have_attribute(
            "data-compared", re.compile("delta|none"), timeout=TIMEOUT_MS
        )


def _previous_month(period: str) -> str:
    year, month = map(int, period.split("-"))
    return f"{year - 1}-12" if month == 1 else f"{year}-{month - 1:02d}"
