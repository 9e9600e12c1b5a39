"""Silences mute and their expiry lets the alert through; an acknowledgement stops repeats."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import httpx

from tests.integration.alerts.harness import (
    BA_DINH,
    BA_VI,
    PHUC_XA,
    AdjustableClock,
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


async def _truthy(value: bool) -> bool:
    return value


def _units_notified(receiver: WebhookSink, status: str = "firing") -> list[str]:
    return sorted(a["labels"]["unit_id"] for a in receiver.alerts(status))


async def test_a_silence_mutes_its_subtree_and_its_expiry_lets_the_alert_through(
    database: str, kafka_bootstrap: str, topic: Topic, sink: tuple[WebhookSink, str], tmp_path: Path
) -> None:
    receiver, url = sink
    clock = AdjustableClock()
    settings = alerts_settings(database, kafka_bootstrap, topic.name, rules_file(tmp_path, for_="0s"))
    async with running_alerts(settings, webhook_receivers(url), clock) as api:
        request = {
            "matchers": [{"name": "subtree", "op": "=", "value": BA_DINH["unit_id"]}],
            "ends_at": (clock() + timedelta(minutes=10)).isoformat(),
            "comment": "Ba Đình chuyển đổi hệ thống Một cửa",
            "author": "vanhanh",
        }
        async with httpx.AsyncClient(base_url=str(api.base_url)) as anonymous:
            assert (await anonymous.post("/v1/silences", json=request)).status_code == 401
        bad = {**request, "matchers": [{"name": "unit_id", "op": "=~", "value": "("}]}
        assert (await api.post("/v1/silences", json=bad)).status_code == 422
        created = await api.post("/v1/silences", json=request)
        assert created.status_code == 201, created.text
        silence = created.json()
        assert silence["status"] == "active" and silence["author"] == "vanhanh"

        # Ba Đình and its ward Phúc Xá are silenced; Ba Vì is not.
        await topic.publish(*(indicators(u, 0.30) for u in (BA_DINH, PHUC_XA, BA_VI)))
        for unit in (BA_DINH, PHUC_XA, BA_VI):
            await eventually(lambda u=unit: state_is(api, "pay-low", u["unit_id"], "firing"), what=unit["unit_id"])
        await eventually(lambda: _truthy(_units_notified(receiver) == [BA_VI["unit_id"]]), what="Ba Vì delivered")
        muted = await alert_of(api, "pay-low", PHUC_XA["unit_id"])
        assert muted is not None and muted["silenced_by"] == [silence["id"]]
        history = (await api.get("/v1/transitions", params={"unit_id": PHUC_XA["unit_id"]})).json()["items"]
        assert [h["silenced_by"] for h in history] == [[silence["id"]], [silence["id"]]]

        # The silence expires: the next tick delivers the two firing alerts receivers never heard of.
        clock.advance(timedelta(minutes=11))
        expected = sorted(u["unit_id"] for u in (BA_DINH, PHUC_XA, BA_VI))
        await eventually(lambda: _truthy(sorted(set(_units_notified(receiver))) == expected), what="after expiry")
        assert _units_notified(receiver).count(BA_DINH["unit_id"]) == 1
        assert _units_notified(receiver).count(PHUC_XA["unit_id"]) == 1
        listed = (await api.get("/v1/silences")).json()["items"]
        assert listed == []
        assert (await api.get(f"/v1/silences/{silence['id']}")).json()["status"] == "expired"

        # DELETE expires a silence at once; afterwards it answers 404, and is listed only with include_expired.
        second = (
            await api.post("/v1/silences", json={**request, "ends_at": (clock() + timedelta(hours=1)).isoformat()})
        ).json()
        expired = await api.delete(f"/v1/silences/{second['id']}")
        assert expired.status_code == 200 and expired.json()["status"] == "expired"
        for again in (await api.get(f"/v1/silences/{second['id']}"), await api.delete(f"/v1/silences/{second['id']}")):
            assert again.status_code == 404 and again.json()["error"] == "unknown_silence", again.text
        everything = (await api.get("/v1/silences", params={"include_expired": "true"})).json()["items"]
        assert {s["id"] for s in everything} == {silence["id"], second["id"]}
        assert (await api.delete("/v1/silences/does-not-exist")).status_code == 404


async def test_an_acknowledged_alert_stops_repeating_while_others_repeat(
    database: str, kafka_bootstrap: str, topic: Topic, sink: tuple[WebhookSink, str], tmp_path: Path
) -> None:
    receiver, url = sink
    clock = AdjustableClock()
    settings = alerts_settings(database, kafka_bootstrap, topic.name, rules_file(tmp_path, for_="0s"))
    async with running_alerts(settings, webhook_receivers(url), clock) as api:
        await topic.publish(indicators(BA_DINH, 0.30), indicators(BA_VI, 0.30))
        await eventually(lambda: _truthy(len(receiver.accepted) == 2), what="both firing messages")
        ba_dinh = await alert_of(api, "pay-low", BA_DINH["unit_id"])
        assert ba_dinh is not None

        async with httpx.AsyncClient(base_url=str(api.base_url)) as anonymous:
            denied = await anonymous.post(f"/v1/alerts/{ba_dinh['id']}/ack", json={"by": "x"})
            assert denied.status_code == 401 and denied.json()["error"] == "unauthorized"
        acked = await api.post(f"/v1/alerts/{ba_dinh['id']}/ack", json={"by": "Nguyễn Văn A", "comment": "đang xử lý"})
        assert acked.status_code == 200, acked.text
        assert acked.json()["acknowledged_by"] == "Nguyễn Văn A"
        assert (await api.post("/v1/alerts/999999/ack", json={"by": "x"})).status_code == 404
        assert (await api.post(f"/v1/alerts/{2**63 - 1}/ack", json={"by": "x"})).status_code == 404
        # Ids beyond a bigint (or below 1) are 422 in our error shape, never an OverflowError's 500.
        for bad in (
            await api.post(f"/v1/alerts/{2**63}/ack", json={"by": "x"}),
            await api.post(f"/v1/alerts/{2**64}/ack", json={"by": "x"}),
            await api.post("/v1/alerts/0/ack", json={"by": "x"}),
            await api.get(f"/v1/alerts/{2**64}"),
            await api.get("/v1/transitions", params={"after": 2**63}),
        ):
            assert bad.status_code == 422 and bad.json()["error"] == "invalid_request", bad.text

        # 6 minutes later (repeat_interval 5m) Ba Vì repeats; Ba Đình, acknowledged, does not.
        clock.advance(timedelta(minutes=6))
        await eventually(lambda: _truthy(len(receiver.accepted) == 3), what="Ba Vì's repeat")
        assert _units_notified(receiver) == sorted([BA_DINH["unit_id"], BA_VI["unit_id"], BA_VI["unit_id"]])
        after = await alert_of(api, "pay-low", BA_DINH["unit_id"])
        assert after is not None and after["last_notified_at"] == ba_dinh["last_notified_at"]
        history = (await api.get(f"/v1/alerts/{ba_dinh['id']}")).json()["history"]
        assert history[-1]["reason"] == "acknowledged" and history[-1]["actor"] == "Nguyễn Văn A"
        assert history[-1]["comment"] == "đang xử lý"

        # Resolving ends the episode; acknowledging a resolved alert is refused.
        await topic.publish(indicators(BA_DINH, 0.90))
        await eventually(lambda: state_is(api, "pay-low", BA_DINH["unit_id"], "resolved"), what="resolved")
        refused = await api.post(f"/v1/alerts/{ba_dinh['id']}/ack", json={"by": "x"})
        assert refused.status_code == 409 and refused.json()["error"] == "not_firing"
