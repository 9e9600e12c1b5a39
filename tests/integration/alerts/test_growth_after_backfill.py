"""A history back-fill through the real broker and a real scoring process sends no `overdue-growing` alert; real
growth after the catch-up still fires (docs/alerts.md §2.1, "Growth and catch-up").

The back-fill is what `make demo` writes: events with `ingested_at` in the past, straight to `dossier-events`.
The unit first has settled figures (0 overdue: in the demo, the empty figures published when the registry is
loaded), then the back-fill arrives in three waves of overdue dossiers, each applied and published before the
next. Measured from either the settled sample or the first wave, the back-fill would look like growth (+12, +8):
the defect found in the demo. Then one fresh event ends the catch-up, and six dossiers that are reported
already past their due are real growth.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from aiokafka import AIOKafkaConsumer
from prometheus_client.parser import text_string_to_metric_families

from shared.indicators import UnitIndicators
from tests.integration.alerts.harness import alerts_settings, eventually, running_alerts, state_is
from tests.integration.conftest import unique
from tests.integration.scoring.harness import create_topics, prepare_database, produce, scoring_service, utc

RULES = """
version: 1
rules:
  - id: overdue-growing
    name: Số hồ sơ quá hạn đang tăng
    scope: {levels: [commune]}
    target: overdue_open
    growth_window: 24h
    comparison: ">="
    threshold: 5
    clear_threshold: 1
    for: 1s
    repeat_interval: 24h
    summary: "$unit_name: hồ sơ quá hạn tăng thêm $value trong 24 giờ"
    description: "Số hồ sơ quá hạn của $unit_name tăng thêm $value so với 24 giờ trước."
"""
WAVES = 3
PER_WAVE = 4


def received(event_id: str, dossier: str, unit: str, *, at: datetime, due: datetime, ingested: datetime) -> dict:
    return {"event_id": event_id, "dossier_id": dossier, "unit_id": unit, "type": "received",
            "occurred_at": utc(at), "ingested_at": utc(ingested), "channel": "direct", "due_at": utc(due),
            "procedure_id": "2.000001"}  # fmt: skip


def days(count: int) -> timedelta:
    return timedelta(days=count)


def open_dossiers(
    tag: str, unit: str, count: int, now: datetime, *, days_ago: tuple[int, int], ingested: datetime
) -> list[dict]:
    """`count` dossiers received and due (received, due) days before `now`, still open: overdue."""
    received_days, due_days = days_ago
    return [
        received(
            f"{tag}-{n}", f"{tag}-D{n}", unit, at=now - days(received_days), due=now - days(due_days), ingested=ingested
        )
        for n in range(count)
    ]


class Indicators:
    """Every unit-indicators message scoring publishes, read by a consumer of the test's own."""

    def __init__(self) -> None:
        self.messages: list[UnitIndicators] = []

    def of(self, unit_id: str) -> list[UnitIndicators]:
        return [m for m in self.messages if m.unit_id == unit_id]


@contextlib.asynccontextmanager
async def reading(bootstrap: str, topic: str) -> AsyncIterator[Indicators]:
    seen = Indicators()
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest")
    await consumer.start()

    async def pump() -> None:
        async for record in consumer:
            seen.messages.append(UnitIndicators.model_validate_json(record.value or b""))

    task = asyncio.create_task(pump())
    try:
        yield seen
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await consumer.stop()


async def evaluated(client: httpx.AsyncClient) -> int:
    """Messages the alerts service has evaluated (its own registry: this app's count only)."""
    text = (await client.get("/metrics")).text
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "tthc_alert_indicator_messages_total" and sample.labels.get("outcome") == "evaluated":
                return int(sample.value)
    return 0


async def transitions(client: httpx.AsyncClient) -> list[dict[str, Any]]:
    response = await client.get("/v1/transitions", params={"rule_id": "overdue-growing", "after": 0})
    response.raise_for_status()
    return list(response.json()["items"])


async def test_a_backfill_raises_no_overdue_growing_alert_and_real_growth_after_it_fires(
    fresh_database: str, kafka_bootstrap: str, tmp_path: Path
) -> None:
    prefix = unique("g").replace("-", "")
    await prepare_database(fresh_database, prefix)
    topics = await create_topics(kafka_bootstrap)
    rules = tmp_path / "rules.yaml"
    rules.write_text(RULES, encoding="utf-8")
    unit = f"{prefix}.BV.TT"
    now = datetime.now(UTC)

    async def published(overdue: int, *, catching_up: bool) -> None:
        """Wait for scoring's message of `unit` with this overdue count and state, then for alerts to have
        evaluated every message published so far."""

        async def found() -> UnitIndicators | None:
            return next((m for m in seen.of(unit) if (m.live.overdue_open, m.catching_up) == (overdue, catching_up)),
                        None)  # fmt: skip

        await eventually(found, 60, f"scoring publishing {overdue} overdue at {unit}, catching_up={catching_up}")
        count = len(seen.messages)

        async def evaluated_all() -> bool:
            return await evaluated(client) >= count

        await eventually(evaluated_all, 30, "alerts evaluating the messages published so far")

    async with (
        reading(kafka_bootstrap, topics.indicators) as seen,
        scoring_service(fresh_database, kafka_bootstrap, topics) as _,
        running_alerts(alerts_settings(fresh_database, kafka_bootstrap, topics.indicators, rules)) as client,
    ):
        # 0. Live traffic first: a dossier received a minute ago, due in ten days. Its settled figures (0 overdue)
        # are a growth sample, as the empty figures scoring publishes when the registry is loaded are in the demo.
        first = open_dossiers(f"{prefix}-s", unit, 1, now, days_ago=(0, -10), ingested=datetime.now(UTC))
        await produce(kafka_bootstrap, topics.events, first)
        await published(0, catching_up=False)

        # 1. The back-fill, in waves: received 40 days ago, due 35 days ago, never resolved, ingested 30 days ago
        # (a trusted replay). Scoring says it is catching up; alerts measure nothing from it.
        for wave in range(WAVES):
            events = open_dossiers(f"{prefix}-b{wave}", unit, PER_WAVE, now, days_ago=(40, 35), ingested=now - days(30))
            await produce(kafka_bootstrap, topics.events, events)
            await published(PER_WAVE * (wave + 1), catching_up=True)
        assert await transitions(client) == [], "the back-fill arriving is not growth"

        # 2. A fresh event ends the catch-up: scoring publishes the unit again, settled; that is the new baseline
        # (growth from the sample before the back-fill would be +12).
        fresh = open_dossiers(f"{prefix}-f", unit, 1, now, days_ago=(0, -10), ingested=datetime.now(UTC))
        await produce(kafka_bootstrap, topics.events, fresh)
        await published(WAVES * PER_WAVE, catching_up=False)
        assert await transitions(client) == []

        # 3. Real growth: six dossiers reported now that are already past their due.
        late = open_dossiers(f"{prefix}-r", unit, 6, now, days_ago=(3, 1), ingested=datetime.now(UTC))
        await produce(kafka_bootstrap, topics.events, late)

        async def fired_on_six() -> dict[str, Any] | None:
            alert = await state_is(client, "overdue-growing", unit, "firing")
            return alert if alert is not None and alert["value"] == 6 else None

        await eventually(fired_on_six, 60, "overdue-growing firing on +6 over the settled baseline")
        assert [(t["from_state"], t["to_state"]) for t in await transitions(client)] == [
            ("inactive", "pending"),
            ("pending", "firing"),
        ]
