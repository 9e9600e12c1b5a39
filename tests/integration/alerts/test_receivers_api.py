"""Receivers managed through the admin API while alerts run: a webhook is added, its secret rotated, it is removed,
and deliveries follow; an Alertmanager receiver gets postable alerts on /api/v2/alerts."""

from __future__ import annotations

import json
import secrets
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from services.alerts.domain.signing import verify
from tests.integration.alerts.harness import (
    BA_DINH,
    BA_VI,
    PHUC_XA,
    Topic,
    WebhookSink,
    alerts_settings,
    eventually,
    indicators,
    rules_file,
    running_alerts,
    serve_in_background,
    state_is,
)
from tests.integration.conftest import unique

GROUPING = {"group_wait": "0s", "group_interval": "1s"}
RETRY = {"base": 0.2, "cap": 1}  # seconds


class FakeAlertmanager:
    def __init__(self) -> None:
        self.posts: list[list[dict[str, Any]]] = []

    def app(self) -> Starlette:
        async def alerts(request: Request) -> Response:
            self.posts.append(json.loads(await request.body()))
            return Response(status_code=200)

        return Starlette(routes=[Route("/api/v2/alerts", alerts, methods=["POST"])])

    def alerts_of(self, unit_id: str) -> list[dict[str, Any]]:
        return [a for post in self.posts for a in post if a["labels"]["unit_id"] == unit_id]


async def _value(value: object) -> object:
    return value


def _units(sink: WebhookSink) -> list[str]:
    return [a["labels"]["unit_id"] for a in sink.alerts("firing")]


async def test_a_webhook_added_rotated_and_removed_through_the_api_and_an_alertmanager_receiver(
    database: str, kafka_bootstrap: str, topic: Topic, sink: tuple[WebhookSink, str], tmp_path: Path
) -> None:
    hook_sink, hook_url = sink
    manager = FakeAlertmanager()
    first_secret, second_secret = secrets.token_hex(20), secrets.token_hex(20)
    hook, am = unique("ops"), unique("am")
    settings = alerts_settings(
        database, kafka_bootstrap, topic.name, rules_file(tmp_path, for_="1s"),
        receivers_secret_key=Fernet.generate_key().decode(), receivers_poll_interval_s=0.2,
    )  # fmt: skip
    async with serve_in_background(manager.app()) as am_base, running_alerts(settings) as api:
        created = await api.post("/v1/admin/receivers", json={
            "name": hook, "type": "webhook", "url": hook_url, "secret": first_secret,
            "grouping": GROUPING, "retry": RETRY,
        })  # fmt: skip
        assert created.status_code == 201, created.text
        assert first_secret not in created.text
        assert created.json()["secret_set"] is True and created.json()["source"] == "api"
        created = await api.post("/v1/admin/receivers", json={
            "name": am, "type": "alertmanager", "url": am_base, "grouping": GROUPING, "retry": RETRY,
            "matchers": [{"name": "unit_id", "op": "=", "value": BA_DINH["unit_id"]}],
        })  # fmt: skip
        assert created.status_code == 201, created.text
        again = await api.post("/v1/admin/receivers", json={"name": am, "type": "alertmanager", "url": am_base})
        assert again.status_code == 409 and again.json()["error"] == "receiver_exists"

        # 1. Added while running: the firing notification arrives, signed with the secret given to the API.
        await topic.publish(indicators(BA_DINH, 0.40))
        await eventually(lambda: state_is(api, "pay-low", BA_DINH["unit_id"], "firing"), 60, "Ba Đình firing")
        await eventually(lambda: _value(BA_DINH["unit_id"] in _units(hook_sink)), 30, "Ba Đình at the webhook")
        delivery = hook_sink.accepted[-1]
        assert verify(delivery.body, delivery.headers["x-tthc-signature"], first_secret)
        alert = delivery.payload["alerts"][0]
        assert alert["generatorURL"].endswith(f"/dashboard/#/unit/{BA_DINH['unit_id']}?alert=pay-low")
        assert delivery.payload["externalURL"].endswith(f"/dashboard/#/unit/{BA_DINH['unit_id']}")

        # The Alertmanager receiver got the postable alert (its matcher keeps only Ba Đình).
        [posted] = await eventually(lambda: _value(manager.alerts_of(BA_DINH["unit_id"])), 30, "postable alert")
        assert set(posted) == {"labels", "annotations", "startsAt", "endsAt", "generatorURL"}
        assert posted["labels"]["alertname"] == "pay-low" and posted["labels"]["severity"]
        assert posted["annotations"]["summary"].startswith("Quận Ba Đình")
        assert posted["generatorURL"] == alert["generatorURL"] and posted["startsAt"] == alert["startsAt"]
        assert posted["endsAt"] > posted["startsAt"]

        # 2. Rotated: the next delivery is signed with the new secret only; the secret is never shown.
        rotated = await api.patch(f"/v1/admin/receivers/{hook}", json={"secret": second_secret})
        assert rotated.status_code == 200, rotated.text
        assert rotated.json()["secret_rotated_at"] > created.json()["created_at"]
        listed = (await api.get("/v1/admin/receivers")).text
        assert second_secret not in listed and first_secret not in listed and hook in listed
        await topic.publish(indicators(BA_VI, 0.40))
        await eventually(lambda: _value(BA_VI["unit_id"] in _units(hook_sink)), 60, "Ba Vì at the webhook")
        delivery = next(d for d in hook_sink.accepted if BA_VI["unit_id"] in json.dumps(d.payload["groupLabels"]))
        assert verify(delivery.body, delivery.headers["x-tthc-signature"], second_secret)
        assert not verify(delivery.body, delivery.headers["x-tthc-signature"], first_secret)

        # 3. Removed: no more deliveries (Phúc Xá fires; the webhook hears nothing).
        removed = await api.delete(f"/v1/admin/receivers/{hook}")
        assert removed.status_code == 200, removed.text
        assert (await api.get(f"/v1/admin/receivers/{hook}")).status_code == 404
        before = len(hook_sink.received)
        await topic.publish(indicators(PHUC_XA, 0.40))
        await eventually(lambda: state_is(api, "pay-low", PHUC_XA["unit_id"], "firing"), 60, "Phúc Xá firing")
        # Resolving Ba Đình reaches the Alertmanager (still there): by then the webhook would have had Phúc Xá.
        await topic.publish(indicators(BA_DINH, 0.90))
        firing_ends = posted["endsAt"]  # a day ahead; the resolution carries the real end, earlier
        await eventually(
            lambda: _value([a for a in manager.alerts_of(BA_DINH["unit_id"]) if a["endsAt"] < firing_ends]),
            60, "resolution at the Alertmanager",
        )  # fmt: skip
        assert len(hook_sink.received) == before
        assert (await api.delete(f"/v1/admin/receivers/{am}")).status_code == 200
