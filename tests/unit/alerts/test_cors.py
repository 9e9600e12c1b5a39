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


async def test_dashboard_origin_may_send_acknowledgements_and_silences_with_the_admin_token() -> None:
    settings = AlertsSettings(
        database_url="postgresql://nobody@127.0.0.1:1/none",
        admin_token="a-real-random-admin-token-0123456789",
        cors_origins="http://127.0.0.1:8002",
    )
    app = create_app(settings)
    preflight = {
        "Origin": "http://127.0.0.1:8002",
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization,content-type",
    }
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://alerts") as client:
        allowed = await client.options("/v1/alerts/1/ack", headers=preflight)
        other = await client.options("/v1/silences", headers={**preflight, "Origin": "http://evil.example"})
    assert allowed.status_code == 200
    assert "POST" in allowed.headers["access-control-allow-methods"]
    assert "authorization" in allowed.headers["access-control-allow-headers"].lower()
    assert other.status_code == 400
