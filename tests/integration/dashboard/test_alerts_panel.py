"""The alerts panel against a hand-written stand-in of the alerts service's two read endpoints.

The stand-in listens where the stack's ALERTS_PUBLIC_URL points and answers like the alerts service will:
`GET /v1/alerts?state=firing[&unit_id=…&subtree=true]` → `{"items": [...]}` and `GET /v1/stream` → server-sent
`transition` events. With the CORS header the panel lists the alerts and follows the stream; without it the browser
refuses the answer and the panel says the service is unavailable — what the real alerts service must allow is what
this stand-in sends.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlsplit

import orjson
import uvicorn
from playwright.async_api import Page, expect
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from tests.integration.dashboard.conftest import DashboardStack
from tests.integration.scoring.harness import wait_for

TIMEOUT_MS = 30_000


def alert(alert_id: int, unit_id: str, unit_name: str, severity: str, summary: str) -> dict[str, Any]:
    return {"id": alert_id, "rule_id": "overdue-open", "rule_name": "Hồ sơ quá hạn", "severity": severity,
            "unit_id": unit_id, "unit_name": unit_name, "level": "department", "state": "firing",
            "fired_at": "2026-11-20T02:00:00Z", "active_since": "2026-11-20T01:55:00Z",
            "annotations": {"summary": summary, "summary_en": f"EN: {summary}"}, "labels": {}}  # fmt: skip


class FakeAlerts:
    def __init__(self, allow_origin: str | None) -> None:
        self.allow_origin = allow_origin
        self.alerts: list[dict[str, Any]] = []
        self.listeners: set[asyncio.Queue[bytes]] = set()
        self.app = Starlette(routes=[Route("/v1/alerts", self.list_alerts), Route("/v1/stream", self.stream)])

    def cors(self) -> dict[str, str]:
        return {"Access-Control-Allow-Origin": self.allow_origin} if self.allow_origin else {}

    async def list_alerts(self, request: Request) -> Response:
        assert request.query_params.get("state") == "firing"
        unit = request.query_params.get("unit_id")
        items = [a for a in self.alerts if unit is None or a["unit_id"] == unit or a["unit_id"].startswith(unit + ".")]
        return JSONResponse({"items": items}, headers=self.cors())

    async def stream(self, request: Request) -> Response:
        queue: asyncio.Queue[bytes] = asyncio.Queue()
        self.listeners.add(queue)

        async def events() -> AsyncIterator[bytes]:
            try:
                yield b"retry: 1000\n\n"
                while True:
                    yield await queue.get()
            finally:
                self.listeners.discard(queue)

        headers = {"Cache-Control": "no-cache", **self.cors()}
        return StreamingResponse(events(), media_type="text/event-stream", headers=headers)

    def fire(self, new: dict[str, Any]) -> None:
        self.alerts.append(new)
        data = orjson.dumps({"alert_id": new["id"], "to_state": "firing", "unit_id": new["unit_id"]})
        for queue in self.listeners:
            queue.put_nowait(b"event: transition\ndata: " + data + b"\n\n")


@contextlib.asynccontextmanager
async def serving(fake: FakeAlerts, url: str) -> AsyncIterator[None]:
    address = urlsplit(url)
    server = uvicorn.Server(uvicorn.Config(fake.app, host=address.hostname, port=address.port, log_level="warning",
                                           timeout_graceful_shutdown=1))  # fmt: skip
    task = asyncio.create_task(server.serve())

    async def started() -> bool:
        return bool(server.started)

    try:
        await wait_for(started, bool, timeout_s=10)
        yield
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 15)


async def test_the_panel_lists_firing_alerts_and_follows_their_stream(page: Page, stack: DashboardStack) -> None:
    fake = FakeAlerts(allow_origin=stack.base_url)
    fake.alerts.append(alert(1, "H26.DEP.STP", "Sở Tư pháp", "critical", "Sở Tư pháp có 806 hồ sơ quá hạn"))
    async with serving(fake, stack.alerts_url):
        await page.goto(f"{stack.base_url}/dashboard/")
        panel = page.locator("#alerts")
        await expect(panel).to_have_attribute("data-state", "ok", timeout=TIMEOUT_MS)
        await expect(panel.locator("li.alert")).to_have_count(1)
        await expect(panel).to_contain_text("Sở Tư pháp có 806 hồ sơ quá hạn")
        await expect(panel.locator(".count")).to_have_text("1")

        fake.fire(alert(2, "H26.DIS.BAVI.C01", "Thị trấn Tây Đằng", "warning", "Tỷ lệ trực tuyến dưới 60 %"))
        await expect(panel.locator("li.alert")).to_have_count(2, timeout=TIMEOUT_MS)  # no reload: the stream did it
        await page.click("#lang")
        await expect(panel).to_contain_text("EN: Tỷ lệ trực tuyến dưới 60 %")
        await page.click("#lang")

        await panel.get_by_role("link", name="Thị trấn Tây Đằng").click()
        await page.wait_for_url("**/#/unit/H26.DIS.BAVI.C01", timeout=TIMEOUT_MS)
        await expect(panel.locator("h2")).to_contain_text("Cảnh báo của đơn vị")
        await expect(panel.locator("li.alert")).to_have_count(1, timeout=TIMEOUT_MS)
        await expect(panel).to_contain_text("Tỷ lệ trực tuyến dưới 60 %")


async def test_an_alerts_service_that_refuses_cors_reads_as_unavailable(page: Page, stack: DashboardStack) -> None:
    fake = FakeAlerts(allow_origin=None)
    fake.alerts.append(alert(1, "H26.DEP.STP", "Sở Tư pháp", "critical", "không được hiển thị"))
    async with serving(fake, stack.alerts_url):
        await page.goto(f"{stack.base_url}/dashboard/")
        panel = page.locator("#alerts")
        await expect(panel).to_have_attribute("data-state", "unavailable", timeout=TIMEOUT_MS)
        await expect(panel).to_contain_text("alerts service unavailable")
        await expect(panel).not_to_contain_text("không được hiển thị")
