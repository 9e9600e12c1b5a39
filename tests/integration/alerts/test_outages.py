"""Alerts when a dependency goes away: scoring unreachable (reported, readiness kept), PostgreSQL down (503 +
Retry-After, never 500; recovery without a restart) — one log line per change in both cases."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route

from shared.db import apply_migrations
from tests.integration.alerts.harness import alerts_settings, eventually, rules_file, running_alerts
from tests.integration.conftest import free_port
from tests.integration.private_postgres import private_postgres

OUTAGE_REQUESTS = 30


def _metric(exposition: str, name: str) -> float:
    for line in exposition.splitlines():
        if line.startswith(name + " "):
            return float(line.rpartition(" ")[2])
    return 0.0


def _outage_lines(caplog: pytest.LogCaptureFixture, name: str) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "tthc.outages" and r.getMessage().startswith(name)]


@contextlib.asynccontextmanager
async def scoring_stand_in(port: int) -> AsyncIterator[None]:
    """Scoring's /healthz on a given port (the one alerts was told about before anything listened there)."""

    async def healthz(_: object) -> JSONResponse:
        return JSONResponse({"status": "ok"})

    app = Starlette(routes=[Route("/healthz", healthz)])
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    server.install_signal_handlers = lambda: None  # type: ignore[method-assign]
    task = asyncio.create_task(server.serve())
    try:

        async def started() -> bool | None:
            return True if server.started else None

        await eventually(started, 30, "scoring stand-in started")
        yield
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 30)


async def test_scoring_unreachable_is_reported_once_and_recovers(
    database: str, kafka_bootstrap: str, topic: object, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    port = free_port()  # nothing listens here yet
    settings = alerts_settings(
        database, kafka_bootstrap, topic.name, rules_file(tmp_path),
        scoring_url=f"http://127.0.0.1:{port}", scoring_check_interval_s=0.2,
    )  # fmt: skip
    caplog.set_level(logging.INFO, logger="tthc.outages")
    async with running_alerts(settings) as api:

        async def reported() -> dict[str, object] | None:
            body = (await api.get("/readyz")).json()
            return body if "scoring" in body["details"] else None

        ready = await eventually(reported, 30, "scoring reported unreachable")
        assert ready["status"] == "ok"  # alerts still work without scoring (minus near-due lists)
        assert str(ready["details"]["scoring"]).startswith("unreachable since")  # type: ignore[index]
        await eventually(lambda: _failures_at_least(api, 5), 30, "several failed checks")
        metrics = (await api.get("/metrics")).text
        assert _metric(metrics, "tthc_alerts_scoring_unreachable") == 1

        started = time.monotonic()
        async with scoring_stand_in(port):

            async def cleared() -> bool | None:
                return True if "scoring" not in (await api.get("/readyz")).json()["details"] else None

            await eventually(cleared, 30, "scoring reachable again")
            recovered_s = time.monotonic() - started
            assert _metric((await api.get("/metrics")).text, "tthc_alerts_scoring_unreachable") == 0
            # (Checked before the stand-in stops: that would be a second outage.)
            assert len(_outage_lines(caplog, "scoring unreachable")) == 1
            assert len(_outage_lines(caplog, "scoring reachable again")) == 1
    print(f"\nscoring outage: reported on /readyz and metrics; cleared {recovered_s:.2f} s after scoring came up")


async def _failures_at_least(api: httpx.AsyncClient, n: int) -> bool | None:
    return True if _metric((await api.get("/metrics")).text, "tthc_alerts_scoring_fetch_failures_total") >= n else None


async def test_database_down_gives_503_then_recovers(
    kafka_bootstrap: str, topic: object, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="tthc.outages")
    async with private_postgres() as postgres:
        url = postgres.admin_url
        await asyncio.to_thread(apply_migrations, url)
        settings = alerts_settings(url, kafka_bootstrap, topic.name, rules_file(tmp_path), retry_after_s=4)
        async with running_alerts(settings) as api:
            assert (await api.get("/v1/alerts")).status_code == 200
            await postgres.stop()
            stopped_at = time.monotonic()
            requests = [
                lambda: api.get("/v1/alerts"),
                lambda: api.get("/v1/silences"),
                lambda: api.get("/v1/alerts/1"),
                lambda: api.post("/v1/alerts/1/ack", json={"by": "x"}),
                lambda: api.get("/v1/transitions"),
            ]
            for i in range(OUTAGE_REQUESTS):
                response = await requests[i % len(requests)]()
                assert response.status_code == 503, response.text
                assert response.headers["retry-after"] == "4"
                assert response.json()["error"] == "database_unavailable"
            ready = await api.get("/readyz")
            assert ready.status_code == 503 and ready.json()["checks"]["database"] is False
            assert (await api.get("/metrics")).status_code == 200  # still scraped; the gauge says why
            assert _metric((await api.get("/metrics")).text, "tthc_alerts_database_unreachable") == 1

            await postgres.start()
            restarted_at = time.monotonic()

            async def served() -> bool | None:
                response = await api.get("/v1/alerts")
                assert response.status_code in (200, 503), response.text
                return True if response.status_code == 200 else None

            await eventually(served, 30, "alerts served again")
            recovered_s = time.monotonic() - restarted_at
            await eventually(lambda: _logged(caplog, "PostgreSQL reachable again"), 10, "recovery logged")
        assert len(_outage_lines(caplog, "PostgreSQL unreachable")) == 1
        assert len(_outage_lines(caplog, "PostgreSQL reachable again")) == 1
        assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
        print(
            f"\nalerts PostgreSQL outage: {OUTAGE_REQUESTS} requests, all 503; "
            f"outage {restarted_at - stopped_at:.1f} s; "
            f"first 200 {recovered_s:.2f} s after the server was ready again"
        )


async def _logged(caplog: pytest.LogCaptureFixture, text: str) -> bool | None:
    return True if _outage_lines(caplog, text) else None
