"""Each service starts against the real broker and database, reports ready, and stops cleanly on SIGTERM."""

from __future__ import annotations

import asyncio
import os
import signal
import sys

import httpx
import pytest

from tests.integration.processes import REPO_ROOT, service_process, wait_ready


@pytest.mark.parametrize("name", ["ingest", "scoring", "alerts"])
async def test_service_starts_reports_ready_and_stops_cleanly(
    name: str, database_url: str, kafka_bootstrap: str
) -> None:
    async with service_process(name, DATABASE_URL=database_url, KAFKA_BOOTSTRAP_SERVERS=kafka_bootstrap) as svc:
        ready = await wait_ready(svc)
        body = ready.json()
        assert body["status"] == "ok"
        # Every dependency answered (issue 12 adds identity checks of the peers a service calls).
        assert body["checks"]["database"] is body["checks"]["kafka"] is True and all(body["checks"].values())
        # Identity: which service this is and which stack it belongs to; no dependency of its own reported down (a
        # lone alerts process reports the scoring API it cannot reach, without being unready for it).
        assert body["service"] == name and body["stack_id"]
        assert not set(body["details"]) - {"scoring"}
        async with httpx.AsyncClient(base_url=svc.base_url) as client:
            assert (await client.get("/healthz")).json()["status"] == "ok"
            assert (await client.get("/openapi.json")).status_code == 200
        exit_code = await svc.stop(signal.SIGTERM)
        assert exit_code == 0, "\n".join(svc.output[-30:])
        assert any("shutdown" in line.lower() for line in svc.output), svc.output[-10:]


@pytest.mark.parametrize("name", ["ingest", "scoring", "alerts"])
async def test_service_refuses_placeholder_admin_token(name: str, database_url: str) -> None:
    env = {**os.environ, "DATABASE_URL": database_url, "ADMIN_TOKEN": "changeme"}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", f"services.{name}", cwd=REPO_ROOT, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    _, stderr = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 2
    assert "ADMIN_TOKEN" in stderr.decode() and "placeholder" in stderr.decode()
