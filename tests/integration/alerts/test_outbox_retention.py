"""Outbox retention on the real database: delivered bookkeeping goes after the age, nothing else does."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import asyncpg

from tests.integration.alerts.harness import (
    BA_DINH,
    AdjustableClock,
    Topic,
    WebhookSink,
    alerts_settings,
    eventually,
    indicators,
    rules_file,
    running_alerts,
    state_is,
    webhook_receivers,
)
from tests.integration.conftest import unique


async def _fetch(database: str, query: str, *args: Any) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(database)
    try:
        return await conn.fetch(query, *args)
    finally:
        await conn.close()


async def _delivered(database: str) -> list[asyncpg.Record] | None:
    rows = await _fetch(database, "SELECT * FROM alert_deliveries WHERE status = 'delivered'")
    return rows or None


async def test_delivered_messages_are_purged_after_the_age_and_unfinished_work_and_history_stay(
    database: str, kafka_bootstrap: str, topic: Topic, sink: tuple[WebhookSink, str], tmp_path: Path
) -> None:
    receiver, url = sink
    clock = AdjustableClock()
    settings = alerts_settings(
        database, kafka_bootstrap, topic.name, rules_file(tmp_path, for_="1s"),
        outbox_retention_days=30, outbox_retention_interval_s=0.2,
    )  # fmt: skip
    async with running_alerts(settings, webhook_receivers(url), clock) as api:
        await topic.publish(indicators(BA_DINH, 0.40))
        firing = await eventually(lambda: state_is(api, "pay-low", BA_DINH["unit_id"], "firing"), 60, "firing")
        [delivered] = await eventually(lambda: _delivered(database), 30, "the firing message delivered")
        assert len(receiver.accepted) == 1
        [notification_id] = delivered["notification_ids"]

        # Acknowledged: no repeat message is due when the clock jumps (it would be a new, young delivery).
        ack = await api.post(f"/v1/alerts/{firing['id']}/ack", json={"by": "ops-test"})
        assert ack.status_code == 200, ack.text
        clock.advance(timedelta(days=31))  # the real message was delivered 31 days ago now
        # Bookkeeping of other receivers, written straight into the tables (one notification, one row each):
        # given up 40 days ago (goes), delivered 20 days ago (stays), and unfinished work of a receiver gone from
        # the file, queued 90 days ago: a waiting outbox row and a pending message (stay: needed to deliver once).
        old_dead, recent, gone = unique("old-dead"), unique("recent"), unique("gone")
        now = clock()
        rows = [
            (old_dead, "d-old-dead", "dead", now - timedelta(days=40), None),
            (recent, "d-recent", "delivered", now - timedelta(days=25), now - timedelta(days=20)),
            (gone, "d-pending", "pending", now - timedelta(days=90), None),
        ]
        conn = await asyncpg.connect(database)
        try:
            for name, message_id, status, at, delivered_at in rows:
                await conn.execute(
                    """INSERT INTO alert_deliveries (receiver, delivery_id, group_key, channel, payload,
                           notification_ids, status, created_at, next_attempt_at, delivered_at)
                       VALUES ($1, $2, 'g', 'webhook', '\\x7b7d', $3, $4, $5, $5, $6)""",
                    name, message_id, [notification_id], status, at, delivered_at,
                )  # fmt: skip
                await conn.execute(
                    """INSERT INTO alert_outbox (notification_id, receiver, enqueued_at, delivery_id)
                       VALUES ($1, $2, $3, $4)""",
                    notification_id, name, at, None if status == "pending" else message_id,
                )  # fmt: skip
        finally:
            await conn.close()

        await eventually(lambda: _purged(database, {"ops", old_dead}), 30, "the old finished messages purged")

        remaining = await _fetch(database, "SELECT receiver, delivery_id, status FROM alert_deliveries")
        assert sorted((r["receiver"], r["delivery_id"], r["status"]) for r in remaining) == sorted(
            [(recent, "d-recent", "delivered"), (gone, "d-pending", "pending")]
        )
        outbox = await _fetch(database, "SELECT receiver, delivery_id FROM alert_outbox")
        assert sorted((r["receiver"], r["delivery_id"]) for r in outbox) == sorted([(recent, "d-recent"), (gone, None)])
        # History stays: the notification (dedup of replays, labels of removed rules) and what the API serves.
        assert await _fetch(database, "SELECT 1 FROM alert_notifications WHERE notification_id = $1", notification_id)
        detail = (await api.get(f"/v1/alerts/{firing['id']}")).json()
        assert [(h["from_state"], h["to_state"]) for h in detail["history"]] == [
            ("inactive", "pending"), ("pending", "firing"), ("firing", "firing"),
        ]  # fmt: skip
        transitions = (await api.get("/v1/transitions", params={"after": 0})).json()["items"]
        assert len(transitions) == 3

        metrics = (await api.get("/metrics")).text
        assert 'tthc_alert_outbox_purged_total{table="alert_deliveries"} 2.0' in metrics
        assert 'tthc_alert_outbox_purged_total{table="alert_outbox"} 2.0' in metrics
        assert len(receiver.accepted) == 1  # nothing was sent again


async def _purged(database: str, receivers: set[str]) -> bool:
    return not await _fetch(database, "SELECT 1 FROM alert_deliveries WHERE receiver = ANY($1::text[])", receivers)
