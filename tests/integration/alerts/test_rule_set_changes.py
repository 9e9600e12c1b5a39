"""Rule sets changing under live alerts: a removed rule's alerts are closed by the activation itself (once, with a
resolved message where receivers had the firing one), and every alerts process follows the newest set."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from tests.integration.alerts.harness import (
    BA_DINH,
    BA_VI,
    AdjustableClock,
    Topic,
    WebhookSink,
    alert_of,
    alerts_settings,
    eventually,
    indicators,
    kafka_topic,
    running_alerts,
    state_is,
    webhook_receivers,
)


def _rule(rule_id: str, threshold: float, for_: str) -> str:
    return f"""
  - id: {rule_id}
    name: Thanh toán trực tuyến dưới {threshold}
    target: online_payment_rate
    comparison: "<"
    threshold: {threshold}
    for: {for_}
    repeat_interval: 5m
    labels: {{team: mot-cua}}
    scope: {{levels: [district]}}
    summary: "$unit_name: thanh toán trực tuyến $value, dưới $threshold"
    description: "Tháng $period"
"""


PAY_LOW = _rule("pay-low", 0.55, "0s")
PAY_SLOW = _rule("pay-slow", 0.55, "1h")
PAY_VERY_LOW = _rule("pay-very-low", 0.2, "0s")


def _document(*rules: str) -> str:
    return "version: 1\nrules:" + "".join(rules)


async def _truthy(value: Any) -> Any:
    return value


async def _resolved_notifications(database: str) -> dict[tuple[str, str], int]:
    conn = await asyncpg.connect(database)
    try:
        rows = await conn.fetch(
            """SELECT s.rule_id, s.unit_id, count(*) AS n
               FROM alert_notifications n JOIN alert_states s USING (alert_id)
               WHERE n.kind = 'resolved' GROUP BY s.rule_id, s.unit_id"""
        )
    finally:
        await conn.close()
    return {(r["rule_id"], r["unit_id"]): r["n"] for r in rows}


async def _last_transition(api: httpx.AsyncClient, alert_id: int) -> dict[str, Any]:
    return (await api.get(f"/v1/alerts/{alert_id}")).json()["history"][-1]


def _assert_removal_comment(transition: dict[str, Any], rule_id: str) -> None:
    assert transition["reason"] == "rule_removed"
    vietnamese, english = transition["comment"].split(" / ")
    assert vietnamese.startswith(f"Quy tắc {rule_id} đã bị gỡ khỏi bộ quy tắc đang áp dụng")
    assert english.startswith(f"Rule {rule_id} was removed from the active rule set")


async def test_a_put_without_a_rule_closes_its_alerts_at_once_and_resolves_them_in_receivers_once(
    database: str, kafka_bootstrap: str, topic: Topic, sink: tuple[WebhookSink, str], tmp_path: Path
) -> None:
    receiver, url = sink
    path = tmp_path / "alert_rules.yaml"
    path.write_text(_document(PAY_LOW, PAY_SLOW, PAY_VERY_LOW), "utf-8")
    clock = AdjustableClock()
    settings = alerts_settings(database, kafka_bootstrap, topic.name, path)
    async with running_alerts(settings, webhook_receivers(url), clock) as api:
        created = await api.post("/v1/silences", json={
            "matchers": [{"name": "subtree", "value": BA_VI["unit_id"]}], "comment": "Ba Vì bảo trì",
            "ends_at": (clock() + timedelta(hours=1)).isoformat(), "author": "vanhanh",
        })  # fmt: skip
        assert created.status_code == 201, created.text
        await topic.publish(indicators(BA_DINH, 0.30), indicators(BA_VI, 0.30))
        for unit in (BA_DINH, BA_VI):
            await eventually(lambda u=unit: state_is(api, "pay-low", u["unit_id"], "firing"), what="firing")
            await eventually(lambda u=unit: state_is(api, "pay-slow", u["unit_id"], "pending"), what="pending")
        [firing] = await eventually(lambda: _truthy(receiver.alerts("firing")), what="Ba Đình's firing message")
        assert firing["labels"]["unit_id"] == BA_DINH["unit_id"] and firing["labels"]["team"] == "mot-cua"
        ba_dinh = await alert_of(api, "pay-low", BA_DINH["unit_id"])
        assert ba_dinh is not None
        acked = await api.post(f"/v1/alerts/{ba_dinh['id']}/ack", json={"by": "Nguyễn Văn A"})
        assert acked.status_code == 200, acked.text

        replaced = await api.put("/v1/admin/rules", content=_document(PAY_VERY_LOW))
        assert replaced.status_code == 200, replaced.text

        # Closed by the activation's own transaction: nothing is live once the PUT has answered.
        assert (await api.get("/v1/alerts")).json()["items"] == []
        ba_dinh_id, ba_vi_id = BA_DINH["unit_id"], BA_VI["unit_id"]
        expected = {("pay-low", ba_dinh_id): "resolved", ("pay-low", ba_vi_id): "resolved",
                    ("pay-slow", ba_dinh_id): "inactive", ("pay-slow", ba_vi_id): "inactive"}  # fmt: skip
        for (rule_id, unit_id), to_state in expected.items():
            alert = await alert_of(api, rule_id, unit_id)
            assert alert is not None and alert["state"] == to_state and alert["rule_exists"] is False
            last = await _last_transition(api, alert["id"])
            _assert_removal_comment(last, rule_id)
            assert last["silenced_by"] == ([created.json()["id"]] if unit_id == ba_vi_id else [])

        # Receivers had Ba Đình's firing (acknowledged, which changes nothing here): they get its resolution,
        # with the same labels, hence the same fingerprint. Ba Vì was silenced all along: nothing to close.
        [resolved] = await eventually(lambda: _truthy(receiver.alerts("resolved")), what="the resolved message")
        assert resolved["labels"] == firing["labels"] and resolved["fingerprint"] == firing["fingerprint"]
        assert resolved["startsAt"] == firing["startsAt"] and resolved["endsAt"] != "0001-01-01T00:00:00Z"
        assert resolved["annotations"]["resolved_reason"].startswith("Quy tắc pay-low đã bị gỡ")
        assert resolved["annotations"]["resolved_reason_en"].startswith("Rule pay-low was removed")

        # Activating the same set again closes nothing more.
        again = await api.put("/v1/admin/rules", content=_document(PAY_VERY_LOW))
        assert again.json()["rule_set_id"] > replaced.json()["rule_set_id"]
        assert await _resolved_notifications(database) == {("pay-low", BA_DINH["unit_id"]): 1}
        # A later message of the same group is delivered after anything queued before it.
        await topic.publish(indicators(BA_DINH, 0.10))
        await eventually(lambda: state_is(api, "pay-very-low", BA_DINH["unit_id"], "firing"), what="kept rule fires")
        await eventually(lambda: _truthy(len(receiver.alerts("firing")) == 2), what="the kept rule's message")

    assert len(receiver.alerts("resolved")) == 1
    assert {a["labels"]["unit_id"] for a in receiver.alerts()} == {BA_DINH["unit_id"]}


async def test_a_put_that_disables_a_rule_closes_its_alerts_in_receivers_too(
    database: str, kafka_bootstrap: str, topic: Topic, sink: tuple[WebhookSink, str], tmp_path: Path
) -> None:
    receiver, url = sink
    path = tmp_path / "alert_rules.yaml"
    path.write_text(_document(PAY_LOW), "utf-8")
    settings = alerts_settings(database, kafka_bootstrap, topic.name, path)
    async with running_alerts(settings, webhook_receivers(url), AdjustableClock()) as api:
        await topic.publish(indicators(BA_DINH, 0.30))
        await eventually(lambda: state_is(api, "pay-low", BA_DINH["unit_id"], "firing"), what="firing")
        [firing] = await eventually(lambda: _truthy(receiver.alerts("firing")), what="the firing message")

        disabled = PAY_LOW.replace("    repeat_interval: 5m\n", "    repeat_interval: 5m\n    enabled: false\n")
        assert "enabled: false" in disabled
        replaced = await api.put("/v1/admin/rules", content=_document(disabled))
        assert replaced.status_code == 200, replaced.text

        assert (await api.get("/v1/alerts")).json()["items"] == []
        alert = await alert_of(api, "pay-low", BA_DINH["unit_id"])
        assert alert is not None and alert["state"] == "resolved" and alert["rule_exists"] is True
        last = await _last_transition(api, alert["id"])
        assert last["reason"] == "rule_disabled"
        [resolved] = await eventually(lambda: _truthy(receiver.alerts("resolved")), what="the resolved message")
        assert resolved["fingerprint"] == firing["fingerprint"]
        assert resolved["annotations"]["resolved_reason_en"].startswith("Rule pay-low was disabled in rule set")


async def test_a_changed_rules_file_at_start_closes_the_alerts_of_the_rules_it_dropped_once(
    database: str, kafka_bootstrap: str, topic: Topic, sink: tuple[WebhookSink, str], tmp_path: Path
) -> None:
    receiver, url = sink
    path = tmp_path / "alert_rules.yaml"
    path.write_text(_document(PAY_LOW, PAY_VERY_LOW), "utf-8")
    settings = alerts_settings(database, kafka_bootstrap, topic.name, path)
    async with running_alerts(settings, webhook_receivers(url)):
        await topic.publish(indicators(BA_DINH, 0.30))
        [firing] = await eventually(lambda: _truthy(receiver.alerts("firing")), what="the firing message")

    path.write_text(_document(PAY_VERY_LOW), "utf-8")  # a new deploy without pay-low
    async with running_alerts(settings, webhook_receivers(url)) as api:
        # Closed during the start, before the service reported ready.
        alert = await alert_of(api, "pay-low", BA_DINH["unit_id"])
        assert alert is not None and alert["state"] == "resolved"
        _assert_removal_comment(await _last_transition(api, alert["id"]), "pay-low")
        [resolved] = await eventually(lambda: _truthy(receiver.alerts("resolved")), what="the resolved message")
        assert resolved["fingerprint"] == firing["fingerprint"] and resolved["startsAt"] == firing["startsAt"]

    async with running_alerts(settings, webhook_receivers(url)) as api:  # same file: nothing more to close
        assert (await api.get("/v1/rules")).json()["source"] == "file"
        assert await _resolved_notifications(database) == {("pay-low", BA_DINH["unit_id"]): 1}
        await eventually(lambda: _outbox_empty(api), what="an empty outbox")
    assert len(receiver.alerts("resolved")) == 1


async def _outbox_empty(api: httpx.AsyncClient) -> bool:
    return 'tthc_alert_outbox_pending{receiver="ops"} 0.0' in (await api.get("/metrics")).text


async def test_another_process_evaluates_its_next_batch_with_the_set_put_through_the_first(
    database: str, kafka_bootstrap: str, topic: Topic, tmp_path: Path
) -> None:
    path = tmp_path / "alert_rules.yaml"
    path.write_text(_document(PAY_LOW, PAY_VERY_LOW), "utf-8")
    async with kafka_topic(kafka_bootstrap) as topic_b:
        first = alerts_settings(database, kafka_bootstrap, topic.name, path)
        # The second process reads its own topic, and its timers stay quiet: only a batch can make it switch.
        second = alerts_settings(database, kafka_bootstrap, topic_b.name, path, tick_interval_s=300,
                                 near_due_interval_s=3600)  # fmt: skip
        async with running_alerts(first) as a, running_alerts(second) as b:
            started = (await b.get("/v1/rules")).json()["rule_set_id"]
            assert (await a.get("/v1/rules")).json()["rule_set_id"] == started
            lower = _document(PAY_VERY_LOW.replace("threshold: 0.2", "threshold: 0.35"))
            replaced = await a.put("/v1/admin/rules", content=lower)
            assert replaced.status_code == 200, replaced.text

            # Only B consumes topic_b. Under the old set 30 % would fire pay-low and not pay-very-low (< 20 %).
            await topic_b.publish(indicators(BA_DINH, 0.30))
            await eventually(lambda: state_is(a, "pay-very-low", BA_DINH["unit_id"], "firing"), what="B evaluated")
            assert await alert_of(a, "pay-low", BA_DINH["unit_id"]) is None
            assert (await b.get("/v1/rules")).json()["rule_set_id"] == replaced.json()["rule_set_id"] > started


async def test_another_process_switches_on_its_timer_tick(database: str, kafka_bootstrap: str, topic: Topic,
                                                          tmp_path: Path) -> None:  # fmt: skip
    path = tmp_path / "alert_rules.yaml"
    path.write_text(_document(PAY_SLOW), "utf-8")
    async with kafka_topic(kafka_bootstrap) as topic_b:
        # A ticks once at start, then not for 5 minutes; B ticks every 0.25 s.
        first = alerts_settings(database, kafka_bootstrap, topic.name, path, tick_interval_s=300)
        second = alerts_settings(database, kafka_bootstrap, topic_b.name, path)
        async with running_alerts(first) as a, running_alerts(second) as b:
            await topic_b.publish(indicators(BA_DINH, 0.30))
            await eventually(lambda: state_is(a, "pay-slow", BA_DINH["unit_id"], "pending"), what="pending (1h)")

            # The operator shortens `for` through A: with no new message, only B's tick can fire it now.
            replaced = await a.put("/v1/admin/rules", content=_document(PAY_SLOW.replace("for: 1h", "for: 0s")))
            assert replaced.status_code == 200, replaced.text
            fired = await eventually(lambda: state_is(a, "pay-slow", BA_DINH["unit_id"], "firing"), what="fired")
            assert (await _last_transition(a, fired["id"]))["reason"] == "for_elapsed"
            assert (await b.get("/v1/rules")).json()["rule_set_id"] == replaced.json()["rule_set_id"]
