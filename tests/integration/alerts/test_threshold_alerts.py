"""Threshold rules end to end: real Kafka in, real PostgreSQL state, real HTTP receiver out."""

from __future__ import annotations

from pathlib import Path

from services.alerts.domain.signing import verify
from services.alerts.domain.webhook import fingerprint
from tests.integration.alerts.harness import (
    BA_DINH,
    BA_VI,
    PHUC_XA,
    WEBHOOK_SECRET,
    Topic,
    WebhookSink,
    alert_of,
    alerts_settings,
    eventually,
    indicators,
    rules_file,
    running_alerts,
    state_is,
    webhook_receivers,
)


async def test_crossing_goes_pending_then_fires_with_a_signed_v4_body_and_resolves(
    database: str, kafka_bootstrap: str, topic: Topic, sink: tuple[WebhookSink, str], tmp_path: Path
) -> None:
    receiver, url = sink
    settings = alerts_settings(database, kafka_bootstrap, topic.name, rules_file(tmp_path, for_="3s"))
    async with running_alerts(settings, webhook_receivers(url)) as api:
        await topic.publish(indicators(BA_DINH, 0.40))
        pending = await eventually(lambda: state_is(api, "pay-low", BA_DINH["unit_id"], "pending"), what="pending")
        assert pending["value"] == 0.40 and pending["fired_at"] is None
        assert receiver.received == []  # nothing is sent while pending

        firing = await eventually(lambda: state_is(api, "pay-low", BA_DINH["unit_id"], "firing"), what="firing")
        await eventually(lambda: _async(len(receiver.accepted) == 1), what="one webhook message")

        message = receiver.accepted[0]
        assert verify(message.body, message.headers["x-tthc-signature"], WEBHOOK_SECRET)
        assert not verify(message.body, message.headers["x-tthc-signature"], "another-secret-of-some-length")
        assert message.headers["x-tthc-delivery"]
        body = message.payload
        assert body["version"] == "4" and body["status"] == "firing" and body["receiver"] == "ops"
        assert body["groupLabels"] == {"unit_id": BA_DINH["unit_id"]}
        # Links open the dashboard (issue 12): the message at the unit's page, the alert at itself on that page.
        assert body["externalURL"] == f"https://pulse.example.vn/dashboard/#/unit/{BA_DINH['unit_id']}"
        [alert] = body["alerts"]
        assert alert["generatorURL"].startswith(body["externalURL"]) and "alert=pay-low" in alert["generatorURL"]
        assert alert["labels"] == {"alertname": "pay-low", "level": "district", "severity": "warning",
                                   "unit_id": BA_DINH["unit_id"]}  # fmt: skip
        assert alert["fingerprint"] == fingerprint(alert["labels"]) == firing["fingerprint"]
        assert alert["endsAt"] == "0001-01-01T00:00:00Z"
        assert alert["annotations"]["summary"] == "Quận Ba Đình: thanh toán trực tuyến 40,0 %, dưới 55,0 %"
        assert alert["annotations"]["summary_en"] == "Quận Ba Đình: online payments 40.0%, below 55.0%"

        # Recovering past the clear threshold (57 %) resolves and sends `resolved`.
        await topic.publish(indicators(BA_DINH, 0.60))
        await eventually(lambda: state_is(api, "pay-low", BA_DINH["unit_id"], "resolved"), what="resolved")
        await eventually(lambda: _async(len(receiver.accepted) == 2), what="the resolved message")
        resolved = receiver.accepted[1].payload
        assert resolved["status"] == "resolved"
        assert resolved["alerts"][0]["endsAt"] != "0001-01-01T00:00:00Z"
        assert resolved["alerts"][0]["startsAt"] == alert["startsAt"]

        detail = (await api.get(f"/v1/alerts/{firing['id']}")).json()
        assert [(h["from_state"], h["to_state"], h["reason"]) for h in detail["history"]] == [
            ("inactive", "pending", "condition_met"),
            ("pending", "firing", "for_elapsed"),
            ("firing", "resolved", "condition_cleared"),
        ]
        metrics = (await api.get("/metrics")).text
        assert 'tthc_alert_notifications_total{outcome="sent",receiver="ops"} 2.0' in metrics
        assert 'tthc_alerts{state="resolved"} 1.0' in metrics


async def test_flapping_inside_the_band_and_small_denominators_send_nothing(
    database: str, kafka_bootstrap: str, topic: Topic, sink: tuple[WebhookSink, str], tmp_path: Path
) -> None:
    receiver, url = sink
    settings = alerts_settings(database, kafka_bootstrap, topic.name, rules_file(tmp_path, for_="1s"))
    async with running_alerts(settings, webhook_receivers(url)) as api:
        # Ba Đình fires once, then wobbles between the threshold (55 %) and the clear threshold (57 %).
        await topic.publish(indicators(BA_DINH, 0.50))
        await eventually(lambda: _async(len(receiver.accepted) == 1), what="the firing message")
        for value in (0.56, 0.545, 0.565, 0.54, 0.56):
            await topic.publish(indicators(BA_DINH, value))
        # Ba Vì wobbles just above the threshold from the start: never pending.
        for value in (0.56, 0.555, 0.569, 0.551):
            await topic.publish(indicators(BA_VI, value))
        # Phúc Xá is far below the threshold but on 5 payments (< min_denominator 20): never evaluated.
        await topic.publish(indicators(PHUC_XA, 0.0, payments=5))
        await topic.publish(indicators(PHUC_XA, 0.2, payments=10))

        await eventually(lambda: _value_is(api, "pay-low", BA_DINH["unit_id"], 0.56), what="last wobble seen")
        await eventually(lambda: _value_is(api, "pay-low", BA_VI["unit_id"], 0.551), what="Ba Vì seen")
        phuc_xa = await eventually(lambda: alert_of(api, "pay-low", PHUC_XA["unit_id"]), what="Phúc Xá seen")
        assert phuc_xa["state"] == "inactive" and phuc_xa["value"] is None

        assert (await alert_of(api, "pay-low", BA_DINH["unit_id"]))["state"] == "firing"  # type: ignore[index]
        assert (await alert_of(api, "pay-low", BA_VI["unit_id"]))["state"] == "inactive"  # type: ignore[index]
        history = (await api.get("/v1/transitions")).json()["items"]
        assert [(h["unit_id"], h["to_state"]) for h in history] == [
            (BA_DINH["unit_id"], "pending"),
            (BA_DINH["unit_id"], "firing"),
        ]
        assert len(receiver.received) == 1


async def _async(value: bool) -> bool:
    return value


async def _value_is(api, rule_id: str, unit_id: str, value: float) -> bool:  # type: ignore[no-untyped-def]
    alert = await alert_of(api, rule_id, unit_id)
    return alert is not None and alert["value"] == value
