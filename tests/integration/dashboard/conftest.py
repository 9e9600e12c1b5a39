"""A scoring service fed by the simulator, on the real broker and database, and a real headless Chromium.

The stack is shared by the dashboard tests (one database, one set of topics, one service on a fixed port so a test
can stop and restart it). The browser is Debian's `chromium` driven by Playwright; no browser is ever downloaded.
The alerts panel points at a port where nothing listens, so the tests never depend on an alerts service.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from playwright.async_api import Browser, Page, async_playwright

from tests.integration.conftest import free_port, with_database
from tests.integration.processes import REPO_ROOT, RunningService, service_process, wait_ready
from tests.integration.scoring.harness import ScoringTopics, create_topics, produce, wait_for
from tests.integration.scoring.test_scoring_failures import caught_up, new_database, simulated_events

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]  # fmt: skip
SCREENSHOTS = REPO_ROOT / "docs" / "screenshots"


@dataclass
class DashboardStack:
    """One scoring process at a fixed address; `restart` stops it and starts a new one on the same port."""

    database_url: str
    bootstrap: str
    topics: ScoringTopics
    events: list[dict[str, Any]]
    port: int = field(default_factory=free_port)
    alerts_url: str = field(default_factory=lambda: f"http://127.0.0.1:{free_port()}")
    service: RunningService | None = None
    _stack: contextlib.AsyncExitStack = field(default_factory=contextlib.AsyncExitStack)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        env = {"DATABASE_URL": self.database_url, "KAFKA_BOOTSTRAP_SERVERS": self.bootstrap, **self.topics.env(),
               "SCORING_PORT": str(self.port), "ALERTS_PUBLIC_URL": self.alerts_url,
               "ADMIN_TOKEN": os.environ.get("ADMIN_TOKEN") or secrets.token_hex(24)}  # fmt: skip
        service = await self._stack.enter_async_context(service_process("scoring", **env))
        service.base_url = self.base_url  # the port was chosen here, not by service_process
        await wait_ready(service)
        self.service = service

    async def stop(self) -> None:
        if self.service is not None:
            await self.service.stop()
        await self._stack.aclose()
        self._stack = contextlib.AsyncExitStack()
        self.service = None

    async def get(self, path: str, **params: Any) -> Any:
        async with httpx.AsyncClient(base_url=self.base_url, timeout=30) as client:
            response = await client.get(path, params=params)
            response.raise_for_status()
            return response.json() if "json" in response.headers.get("content-type", "") else response.content

    async def send(self, events: list[dict[str, Any]]) -> None:
        await produce(self.bootstrap, self.topics.events, events)


@pytest.fixture(scope="session")
async def stack(database_url: str, kafka_bootstrap: str) -> AsyncIterator[DashboardStack]:
    url = await new_database(database_url)
    topics = await create_topics(kafka_bootstrap)
    events = simulated_events(days=40, seed=21)
    await produce(kafka_bootstrap, topics.events, events)
    running = DashboardStack(url, kafka_bootstrap, topics, events)
    await running.start()
    try:
        await wait_for(lambda: caught_up(kafka_bootstrap, topics.events, topics.group), bool, timeout_s=180)
        yield running
    finally:
        await running.stop()
        admin = await asyncpg.connect(with_database(database_url, "postgres"))
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{url.rpartition("/")[2]}" WITH (FORCE)')
        finally:
            await admin.close()


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator[Browser]:
    if not await asyncio.to_thread(CHROMIUM.exists):
        pytest.fail(f"{CHROMIUM} is missing: run `sudo bash infra/chromium.sh` (Debian's chromium)", pytrace=False)
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            await launched.close()


@pytest.fixture
async def page(browser: Browser) -> AsyncIterator[Page]:
    context = await browser.new_context(viewport={"width": 1360, "height": 900}, locale="vi-VN",
                                        timezone_id="Asia/Ho_Chi_Minh")  # fmt: skip
    problems: list[str] = []
    opened = await context.new_page()
    opened.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    try:
        yield opened
    finally:
        await context.close()
    assert not problems, problems
