"""The dashboard (another origin) may read alerts from the browser; other origins may not."""

from __future__ import annotations

import httpx

from services.alerts.app import create_app
from services.alerts.settings import AlertsSettings


async def test_dashboard_origin_is_allowed_to_read_and_others_are_not() -> None:
    settings = AlertsSettings(
        database_url="postgresql://nobody@127.0.0.1:1/none",
        admin_token="a-real-random-admin-token-0123456789",
        cors_origins="http://127.0.0.1:8002",
    )
    app = create_app(settings)  # the lifespan (connections) is not run by this transport
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://alerts") as client:
        allowed = await client.get("/healthz", headers={"Origin": "http://127.0.0.1:8002"})
        other = await client.get("/healthz", headers={"Origin": "http://evil.example"})
    assert allowed.headers.get("access-control-allow-origin") == "http://127.0.0.1:8002"
    assert "access-control-allow-origin" not in other.headers
