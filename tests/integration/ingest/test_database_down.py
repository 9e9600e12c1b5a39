"""PostgreSQL down → 503 + Retry-After + database_unavailable (never 500), one log line per change, and recovery
without a restart — on a PRIVATE PostgreSQL this test stops and starts (never the shared one)."""

from __future__ import annotations

import asyncio
import time

import httpx

from tests.integration.ingest.conftest import (
    UNITS_CSV,
    create_migrated_database,
    create_topic,
    delete_topic,
    eventually,
    received_event,
)
from tests.integration.private_postgres import private_postgres
from tests.integration.processes import service_process, wait_ready

OUTAGE_REQUESTS = 40


def _lines(output: list[str], text: str) -> int:
    return sum(text in line for line in output)


async def test_database_down_gives_503_then_recovers(kafka_bootstrap: str, admin_token: str) -> None:
    topic = await create_topic(kafka_bootstrap)
    try:
        async with private_postgres() as postgres:
            _, url = await create_migrated_database(postgres.admin_url)
            env = {
                "DATABASE_URL": url,
                "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
                "ADMIN_TOKEN": admin_token,
                "EVENTS_TOPIC": topic,
                "KEY_CACHE_TTL_S": "0.2",
                "RETRY_AFTER_S": "3",
            }
            async with service_process("ingest", **env) as service:
                await wait_ready(service)
                admin = {"Authorization": f"Bearer {admin_token}"}
                async with httpx.AsyncClient(base_url=service.base_url, timeout=30) as client:
                    loaded = await client.put(
                        "/v1/admin/units", content=UNITS_CSV, headers=admin | {"Content-Type": "text/csv"}
                    )
                    assert loaded.status_code == 200, loaded.text
                    created = await client.post(
                        "/v1/admin/api-keys", json={"name": "t", "units": ["H26"]}, headers=admin
                    )
                    key = {"Authorization": f"Bearer {created.json()['key']}"}
                    before = await client.post("/v1/events", json=[received_event(f"{topic}-b")], headers=key)
                    assert before.json() == {"accepted": 1, "rejected": []}

                    await postgres.stop()
                    stopped_at = time.monotonic()

                    # Once the key's cached lookup has expired (0.2 s), every request needs the database.
                    async def refused() -> httpx.Response | None:
                        response = await client.post("/v1/events", json=[received_event(f"{topic}-d")], headers=key)
                        assert response.status_code in (200, 503), response.text
                        return response if response.status_code == 503 else None

                    await eventually(refused, timeout_s=10)
                    statuses: list[int] = []
                    for i in range(OUTAGE_REQUESTS):
                        path, kwargs = (
                            ("/v1/events", {"json": [received_event(f"{topic}-d{i}")], "headers": key})
                            if i % 2 == 0
                            else ("/v1/admin/api-keys", {"headers": admin})
                        )
                        response = await client.request("POST" if i % 2 == 0 else "GET", path, **kwargs)
                        statuses.append(response.status_code)
                        assert response.status_code == 503, response.text
                        assert response.headers["retry-after"] == "3"
                        body = response.json()
                        assert body["error"] == "database_unavailable" and " / " in body["detail"]
                    ready = await client.get("/readyz")
                    assert ready.status_code == 503
                    assert ready.json()["checks"]["database"] is False
                    assert ready.json()["details"]["database"].startswith("unreachable since")
                    metrics = (await client.get("/metrics")).text
                    assert "ingest_database_unreachable 1.0" in metrics

                    await postgres.start()
                    restarted_at = time.monotonic()

                    async def accepted() -> httpx.Response | None:
                        response = await client.post("/v1/events", json=[received_event(f"{topic}-a")], headers=key)
                        assert response.status_code in (200, 503), response.text
                        return response if response.status_code == 200 else None

                    after = await eventually(accepted, timeout_s=30)
                    recovered_s = time.monotonic() - restarted_at
                    assert after.json() == {"accepted": 1, "rejected": []}
                    await wait_ready(service, timeout_s=10)

                    async def logged_up() -> bool | None:
                        return True if _lines(service.output, "PostgreSQL reachable again") else None

                    await eventually(logged_up, timeout_s=10)
                    await asyncio.sleep(0)  # let the output pump catch up with the lines already written
                    assert _lines(service.output, "PostgreSQL unreachable") == 1, service.output[-30:]
                    assert _lines(service.output, "PostgreSQL reachable again") == 1
                    assert _lines(service.output, "Exception in ASGI application") == 0
                    assert _lines(service.output, "Traceback") == 0
                    print(
                        f"\nPostgreSQL outage: {len(statuses)} requests during it, all 503; outage lasted "
                        f"{restarted_at - stopped_at:.1f} s; first 200 {recovered_s:.2f} s after the server was "
                        "ready again"
                    )
    finally:
        await delete_topic(kafka_bootstrap, topic)
