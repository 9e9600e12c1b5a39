"""The rankings at 1,366 × 768 (a city office laptop) without horizontal scrolling, and one label and one definition
for each overdue figure: the live open-overdue count ("Hồ sơ đang quá hạn") and the month's cumulative late count
("Hồ sơ trễ hạn trong tháng (lũy kế)"), the same in the tiles, the rankings and the written notice."""

from __future__ import annotations

from playwright.async_api import Page, expect

from services.scoring.domain import notice as nd
from tests.integration.dashboard.conftest import SCREENSHOTS, DashboardStack
from tests.integration.dashboard.test_dashboard_e2e import TIMEOUT_MS, open_overview

OVERFLOW = """() => {
  const wrap = document.querySelector('#rankings').closest('.table-wrap');
  return {page: document.documentElement.scrollWidth - window.innerWidth, table: wrap.scrollWidth - wrap.clientWidth};
}"""


async def test_rankings_fit_1366_px_without_horizontal_scrolling(page: Page, stack: DashboardStack) -> None:
    await page.set_viewport_size({"width": 1366, "height": 768})
    for level in ("department", "commune"):
        await page.goto(f"{stack.base_url}/dashboard/#/rankings/{level}")
        ranking = await stack.get("/v1/rankings", level=level)
        rows = page.locator("#rankings tbody tr[data-unit]")
        await expect(rows).to_have_count(len(ranking["items"]), timeout=TIMEOUT_MS)
        overflow = await page.evaluate(OVERFLOW)
        assert overflow["page"] <= 1 and overflow["table"] <= 1, f"{level}: horizontal scroll at 1,366 px: {overflow}"
        columns = await page.locator("#rankings thead th").evaluate_all("ths => ths.map(th => th.dataset.sort)")
        assert columns[:5] == ["rank", "name", "score", "rank_change_1", "score_change_1"]
        assert {"groups", "progress_rate", "on_time_rate", "overdue", "overdue_open"} <= set(columns)
        first = ranking["items"][0]
        row = page.locator(f"#rankings tr[data-unit='{first['unit_id']}']")
        bars = row.locator("td[data-col='groups'] .gbar")
        await expect(bars).to_have_count(len(first["groups"]))
        if first["rates"]["progress_rate"] is not None:
            shown = await row.locator("td[data-col='progress_rate']").inner_text()
            assert shown.replace("\u00a0", " ") == f"{first['rates']['progress_rate'] * 100:.1f} %".replace(".", ",")
    await page.screenshot(path=SCREENSHOTS / "rankings-1366.png")


async def test_each_overdue_figure_has_one_label_and_one_definition(page: Page, stack: DashboardStack) -> None:
    await page.set_viewport_size({"width": 1366, "height": 768})
    await open_overview(page, stack)
    tile = page.locator(".tile[data-field='overdue']")
    await expect(tile.locator("h3")).to_have_text(nd.OPEN_OVERDUE_LABEL)
    tile_title = await tile.get_attribute("title")
    await page.goto(f"{stack.base_url}/dashboard/#/rankings/department")
    late = page.locator("#rankings th[data-sort='overdue']")
    now = page.locator("#rankings th[data-sort='overdue_open']")
    await expect(late).to_have_text(nd.LATE_LABEL, timeout=TIMEOUT_MS)
    await expect(now).to_have_text(nd.OPEN_OVERDUE_LABEL)
    open_definition = await now.get_attribute("title")
    assert open_definition == nd.OPEN_OVERDUE_HINT  # the notice's annex II says the same words
    assert tile_title is not None and tile_title.startswith(open_definition)
    assert await late.get_attribute("title") == nd.LATE_HINT
    # The English page uses one English label for each, too.
    await page.click("#lang")
    await expect(late).to_have_text("Late this month (cumulative)", timeout=TIMEOUT_MS)
    await expect(now).to_have_text("Overdue now")
    await page.click("#lang")  # back to Vietnamese for the tests that follow
    await expect(now).to_have_text(nd.OPEN_OVERDUE_LABEL, timeout=TIMEOUT_MS)
