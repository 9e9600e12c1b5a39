"""Month-end forecast, today's to-do and the dossier lookup in a real headless Chromium (issue 13).

The stack is the dashboard tests' scoring service fed by 40 simulated days; each test adds its own dossiers where it
needs a known one. Figures on the page are compared with API reads taken just before and just after the page
loaded (a due date passing in between moves a dossier from "due" to "overdue" on its own).
"""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import httpx
from playwright.async_api import Page, expect

from tests.integration.dashboard.conftest import SCREENSHOTS, DashboardStack
from tests.integration.scoring.harness import wait_for

TIMEOUT_MS = 30_000
UNIT = "H26.DEP.SKHDT"
VIETNAM = timezone(timedelta(hours=7))
DUE_SOON = timedelta(minutes=40)


async def shown_forecast(page: Page) -> dict[str, dict[str, float | None]]:
    raw = await page.eval_on_selector_all(
        "[data-testid='forecast'] [data-scenario]",
        """cols => Object.fromEntries(cols.map(c => [c.dataset.scenario, Object.fromEntries(
             [...c.querySelectorAll('[data-value]')].map(e => [e.dataset.field, e.dataset.value]))]))""",
    )
    return {k: {f: None if v in ("null", "") else float(v) for f, v in fields.items()} for k, fields in raw.items()}


def api_forecast(body: dict[str, Any]) -> dict[str, dict[str, float | None]]:
    return {
        key: {field: None if body[key][field] is None else float(body[key][field]) for field in
              ("score", "progress_rate", "rank")}
        for key in ("current", "worst", "best")
    }  # fmt: skip


async def bracketed(
    page: Page, load: Callable[[], Awaitable[None]], read_page: Callable[[], Awaitable[Any]],
    read_api: Callable[[], Awaitable[Any]],
) -> Any:  # fmt: skip
    """Load the page until what it shows equals an API read taken just before or just after the load."""
    last = None
    for _ in range(4):
        before = await read_api()
        await load()
        shown = await read_page()
        after = await read_api()
        if shown in (before, after):
            return shown
        last = (shown, after)
    raise AssertionError(f"the page never matched the API: {last}")


async def dossier_or_none(stack: DashboardStack, dossier_id: str) -> dict[str, Any] | None:
    async with httpx.AsyncClient(base_url=stack.base_url, timeout=10) as client:
        response = await client.get(f"/v1/dossiers/{dossier_id}")
    return response.json() if response.status_code == 200 else None


def vietnam_day(moment: datetime) -> date:
    return moment.astimezone(VIETNAM).date()


async def add_dossiers(stack: DashboardStack) -> tuple[str, str, datetime]:
    """One dossier of UNIT due within the hour and one overdue; returns their ids and the first one's due time."""
    now = datetime.now(UTC)
    tag = uuid.uuid4().hex[:8]
    due_soon, overdue = f"E2E-TODO-{tag}", f"E2E-LATE-{tag}"

    def received(dossier: str, at: datetime, due: datetime) -> dict[str, Any]:
        return {"event_id": f"{dossier}-r", "dossier_id": dossier, "unit_id": UNIT, "type": "received",
                "occurred_at": at.isoformat(), "ingested_at": at.isoformat(), "channel": "online",
                "due_at": due.isoformat(), "procedure_id": "1.000001"}  # fmt: skip

    await stack.send([
        received(due_soon, now - timedelta(minutes=5), now + DUE_SOON),
        received(overdue, now - timedelta(hours=3), now - timedelta(hours=1)),
        {"event_id": f"{overdue}-p", "dossier_id": overdue, "unit_id": UNIT, "type": "payment",
         "occurred_at": (now - timedelta(hours=2)).isoformat(), "ingested_at": now.isoformat(), "method": "online",
         "amount": 30000},
    ])  # fmt: skip
    await wait_for(lambda: dossier_or_none(stack, overdue), lambda body: body is not None and len(body["events"]) == 2)
    await wait_for(lambda: dossier_or_none(stack, due_soon), lambda body: body is not None)
    return due_soon, overdue, now + DUE_SOON


async def test_unit_page_shows_the_forecast_and_todo_of_the_api(page: Page, stack: DashboardStack) -> None:
    due_soon, overdue, due_at = await add_dossiers(stack)

    async def load() -> None:
        await page.goto(f"{stack.base_url}/dashboard/#/unit/{UNIT}")
        await page.wait_for_selector("[data-testid='todo'] #todo-upcoming", timeout=TIMEOUT_MS)
        await page.wait_for_selector("[data-testid='forecast'] [data-scenario='best']", timeout=TIMEOUT_MS)

    async def read_page() -> Any:
        rows = await page.locator("#todo-upcoming tr[data-dossier]").evaluate_all(
            "rs => rs.map(r => [r.dataset.dossier, r.dataset.bucket])")  # fmt: skip
        return await shown_forecast(page), [tuple(r) for r in rows]

    async def read_api() -> Any:
        forecast = await stack.get(f"/v1/units/{UNIT}/forecast")
        todo = await stack.get(f"/v1/units/{UNIT}/todo", section="upcoming", limit=20)
        return api_forecast(forecast), [(i["dossier_id"], i["bucket"]) for i in todo["items"]]

    _, upcoming = await bracketed(page, load, read_page, read_api)
    assert upcoming and all(bucket != "overdue" for _, bucket in upcoming)
    day_before = vietnam_day(datetime.now(UTC))
    todo = await stack.get(f"/v1/units/{UNIT}/todo", section="upcoming", limit=1000)
    day_after = vietnam_day(datetime.now(UTC))
    # Due 40 minutes after it was received: "today" unless Vietnam's midnight fell in between (CI ran at 23:40).
    expected = {"due_today" if vietnam_day(due_at) == day else "due_tomorrow" for day in (day_before, day_after)}
    shown = {i["bucket"] for i in todo["items"] if i["dossier_id"] == due_soon}
    assert shown and shown <= expected, (shown, expected)
    await expect(page.locator("[data-testid='forecast'] h2")).to_contain_text("Dự báo cuối tháng")
    await expect(page.locator("[data-testid='forecast'] details summary")).to_have_text("Giả định của dự báo")
    overdue_rows = page.locator("#todo-overdue tr[data-dossier]")
    await expect(overdue_rows.first).to_have_attribute("data-bucket", "overdue")

    # The CSV link gives the list with a Vietnamese header row.
    href = await page.get_attribute("[data-testid='todo-csv']", "href")
    response = await page.request.get(f"{stack.base_url}{href}")
    assert response.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(await response.text())))
    assert rows[0][:2] == ["Nhóm", "Mã hồ sơ"]
    assert due_soon in [row[1] for row in rows[1:]] and overdue in [row[1] for row in rows[1:]]

    # The screenshot for docs/dashboard.md: the page from its top bar to the end of the to-do card.
    todo_box = await page.locator("[data-testid='todo']").bounding_box()
    assert todo_box is not None
    clip = {"x": 0, "y": 0, "width": 1360, "height": todo_box["y"] + todo_box["height"] + 16}
    await page.screenshot(path=SCREENSHOTS / "forecast-todo.png", full_page=True, clip=clip)

    # English on the toggle.
    await page.click("#lang")
    await expect(page.locator("[data-testid='forecast'] h2")).to_contain_text("Month-end forecast", timeout=TIMEOUT_MS)
    await expect(page.locator("[data-testid='todo'] h2")).to_contain_text("Today's to-do", timeout=TIMEOUT_MS)
    await page.click("#lang")
    await expect(page.locator("[data-testid='todo'] h2")).to_contain_text("Việc cần làm hôm nay", timeout=TIMEOUT_MS)


async def test_overview_shows_the_citys_forecast(page: Page, stack: DashboardStack) -> None:
    async def load() -> None:
        await page.goto(f"{stack.base_url}/dashboard/")
        await page.wait_for_selector("#city-forecast [data-scenario='worst']", timeout=TIMEOUT_MS)

    async def read_api() -> Any:
        return api_forecast(await stack.get("/v1/units/H26/forecast"))

    shown = await bracketed(page, load, lambda: shown_forecast(page), read_api)
    assert shown["worst"]["score"] <= shown["current"]["score"] <= shown["best"]["score"]
    await expect(page.locator("#city-forecast h2")).to_contain_text("Dự báo cuối tháng của Thành phố")


async def test_dossier_lookup_box_and_dossier_page(page: Page, stack: DashboardStack) -> None:
    _, overdue, _ = await add_dossiers(stack)
    await page.goto(f"{stack.base_url}/dashboard/#/unit/{UNIT}")
    link = page.locator(f"#todo-overdue tr[data-dossier='{overdue}'] a")
    overdue_page = await stack.get(f"/v1/units/{UNIT}/todo", section="overdue", limit=10)
    if overdue in [i["dossier_id"] for i in overdue_page["items"]]:  # on the first page of the overdue list
        await link.click()
    else:
        await page.fill("#dossier-lookup input", overdue)
        await page.press("#dossier-lookup input", "Enter")
    await page.wait_for_url(f"**/dashboard/#/dossier/{overdue}", timeout=TIMEOUT_MS)
    view = page.locator("[data-testid='dossier']")
    await expect(view.locator("[data-field='status']")).to_have_text("Đang giải quyết", timeout=TIMEOUT_MS)
    api = await stack.get(f"/v1/dossiers/{overdue}")
    await expect(page.locator("[data-testid='dossier-events'] tbody tr")).to_have_count(len(api["events"]))
    await expect(page.locator("[data-testid='dossier-counters'] tbody tr")).to_have_count(len(api["counters"]))
    await expect(view).to_contain_text("Sở Kế hoạch và Đầu tư")
    await page.screenshot(path=SCREENSHOTS / "dossier.png", full_page=True)

    # The lookup box: an id typed in the top bar; an unknown one says so.
    await page.goto(f"{stack.base_url}/dashboard/")
    await page.fill("#dossier-lookup input", "NO-SUCH-DOSSIER")
    await page.press("#dossier-lookup input", "Enter")
    await expect(page.locator("[data-testid='dossier-unknown']")).to_contain_text("NO-SUCH-DOSSIER",
                                                                                  timeout=TIMEOUT_MS)  # fmt: skip
    await page.fill("#dossier-lookup input", overdue)
    await page.press("#dossier-lookup input", "Enter")
    await expect(page.locator("[data-testid='dossier'] h1")).to_contain_text(overdue, timeout=TIMEOUT_MS)
