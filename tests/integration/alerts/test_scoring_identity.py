"""Alerts refuses a SCORING_URL that answers as another stack's scoring: readiness false with the reason, the
gauge at 1, one ERROR line — and takes it back when this stack's scoring answers there (shared.identity)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route

from tests.integration.alerts.harness import alerts_settings, eventually, rules_file, running_alerts
from tests.integration.conftest import free_port


@contextlib.asynccontextmanager
async def scoring_of(stack: list[str], port: int) -> AsyncIterator[None]:
    """A /healthz that names scoring of `stack[0]` (changeable while it runs)."""

    async def healthz(_: object) -> JSONResponse:
        return JSONResponse({"status": "ok", "service": "scoring", "stack_id": stack[0]})

    server = uvicorn.Server(uvicorn.Config(Starlette(routes=[Route("/healthz", healthz)]), port=port,
                                           log_level="warning"))  # fmt: skip
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


async def test_another_stacks_scoring_is_refused_loudly_then_accepted(
    database: str, kafka_bootstrap: str, topic: object, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    port = free_port()
    stack = ["stack-b"]
    settings = alerts_settings(
        database, kafka_bootstrap, topic.name, rules_file(tmp_path),  # type: ignore[attr-defined]
        scoring_url=f"http://127.0.0.1:{port}", scoring_check_interval_s=0.2, stack_id="stack-a",
    )  # fmt: skip
    caplog.set_level(logging.INFO, logger="shared.identity")
    # Started after alerts is ready (running_alerts waits for readiness): found by the periodic check.
    async with running_alerts(settings) as api, scoring_of(stack, port):

        async def refused() -> dict[str, object] | None:
            response = await api.get("/readyz")
            return response.json() if response.status_code == 503 else None

        body = await eventually(refused, 30, "readiness false for another stack's scoring")
        assert body["checks"]["scoring_identity"] is False  # type: ignore[index]
        assert "stack 'stack-b'" in body["details"]["scoring_identity"]  # type: ignore[index]
        assert "tthc_alerts_scoring_identity_mismatch 1.0" in (await api.get("/metrics")).text
        stack[0] = "stack-a"

        async def accepted() -> bool | None:
            return True if (await api.get("/readyz")).status_code == 200 else None

        await eventually(accepted, 30, "readiness back once our scoring answers")
        assert "tthc_alerts_scoring_identity_mismatch 0.0" in (await api.get("/metrics")).text
    errors = [r for r in caplog.records if r.name == "shared.identity" and r.levelno == logging.ERROR]
    assert len(errors) == 1 and "refusing" in errors[0].getMessage()
