"""Registering a unit and sending its first events race each other, many rounds, over Kafka and over HTTP: nothing
is lost (SPEC §1, "registry changes lose nothing"; issue 10).

Over Kafka (a trusted producer writing straight to `dossier-events`), records can reach scoring before the unit is
registered: they wait as pending dead letters and are applied, exactly once, when it is. Over HTTP, ingest only
accepts events for a unit it knows, and an event ingest accepted is never dead-lettered by scoring. Every round
ends with every event counted once, no pending or dead record left, and `recompute` at 0.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import secrets
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import asyncpg
import httpx
import pytest

from tests.integration.conftest import unique
from tests.integration.processes import RunningService, service_process, wait_ready
from tests.integration.registry import insert_units
from tests.integration.scoring.harness import ScoringTopics, create_topics, produce, scoring_service, wait_for
from tests.integration.scoring.test_reorganisation import recompute

ROUNDS = 20
EVENTS_PER_UNIT = 10
VN = timezone(timedelta(hours=7))
# Every event of the test happened at this one moment, and the figures are read for its month: a run that crosses
# Vietnam's midnight at the end of a month (CI at 00:19 on 1 December saw 0 events in the new month) reads the
# month the events are in, not the one that has just begun.
OCCURRED_AT = (datetime.now(UTC) - timedelta(hours=1)).astimezone(VN)
PERIOD = f"{OCCURRED_AT.year:04d}-{OCCURRED_AT.month:02d}"


def events_for(unit_id: str, *, ingested: bool) -> list[dict[str, Any]]:
    now = datetime.now(UTC)
    out = []
    for n in range(EVENTS_PER_UNIT):
        event = {"event_id": f"{unit_id}-e{n}", "dossier_id": f"{unit_id}-d{n}", "unit_id": unit_id,
                 "type": "received", "occurred_at": OCCURRED_AT.isoformat(),
                 "channel": "online", "due_at": (now + timedelta(days=5)).astimezone(VN).isoformat()}  # fmt: skip
        if ingested:  # a trusted producer stamps ingested_at itself (SPEC §2)
            event["ingested_at"] = now.isoformat()
        out.append(event)
    return out


@contextlib.asynccontextmanager
async def ingest_service(database_url: str, bootstrap: str, topics: ScoringTopics, token: str) -> AsyncIterator[Any]:
    env = {"DATABASE_URL": database_url, "KAFKA_BOOTSTRAP_SERVERS": bootstrap, "ADMIN_TOKEN": token,
           "EVENTS_TOPIC": topics.events}  # fmt: skip
    async with service_process("ingest", **env) as service:
        await wait_ready(service)
        yield service


async def register(client: httpx.AsyncClient, unit_id: str, city: str, delay_s: float) -> None:
    await asyncio.sleep(delay_s)
    response = await client.put(
        "/v1/admin/units", json=[{"unit_id": unit_id, "name": f"Phường thử {unit_id[-3:]}", "level": "commune",
                                  "parent_id": city}],
    )  # fmt: skip
    assert response.status_code == 200, response.text


async def send_until_accepted(client: httpx.AsyncClient, events: list[dict[str, Any]]) -> int:
    """What a one-stop-shop system does: resend the rejected items until the gateway accepts them."""
    pending, attempts = list(events), 0
    async with asyncio.timeout(30):
        while pending:
            attempts += 1
            response = await client.post("/v1/events", json=pending)
            assert response.status_code == 200, response.text
            rejected = {item["index"] for item in response.json()["rejected"]}
            assert all(item["error"] == "unknown_unit" for item in response.json()["rejected"])
            pending = [event for index, event in enumerate(pending) if index in rejected]
            if pending:
                await asyncio.sleep(0.01)
    return attempts


async def own_events(url: str, units: list[str]) -> dict[str, int]:
    conn = await asyncpg.connect(url)
    try:
        rows = await conn.fetch(
            "SELECT unit_id, sum(value)::int AS n FROM unit_month_counters WHERE counter = 'events' "
            "AND unit_id = ANY($1::text[]) GROUP BY unit_id",
            units,
        )
        return {row["unit_id"]: row["n"] for row in rows}
    finally:
        await conn.close()


async def pending_of(url: str, unit_id: str) -> int:
    conn = await asyncpg.connect(url)
    try:
        return int(
            await conn.fetchval("SELECT count(*) FROM dlq_records WHERE status = 'pending' AND unit_id = $1", unit_id)
        )
    finally:
        await conn.close()


async def dead_letters(url: str) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(url)
    try:
        return await conn.fetch("SELECT status, unit_id, error FROM dlq_records")
    finally:
        await conn.close()


@pytest.mark.timeout(600)
async def test_registration_racing_first_events_loses_nothing(fresh_database: str, kafka_bootstrap: str) -> None:
    p = unique("race").replace("-", "")
    city = f"{p}.H26"
    token = secrets.token_urlsafe(32)
    from shared.db import apply_migrations

    await asyncio.to_thread(apply_migrations, fresh_database)
    await insert_units(fresh_database, [(city, "Thành phố Hà Nội", "city", None)])
    topics = await create_topics(kafka_bootstrap)
    rng = random.Random(20251)
    kafka_units = [f"{p}.K{n:03d}" for n in range(ROUNDS)]
    http_units = [f"{p}.H{n:03d}" for n in range(ROUNDS)]
    async with (
        scoring_service(fresh_database, kafka_bootstrap, topics) as scoring,
        ingest_service(fresh_database, kafka_bootstrap, topics, token) as ingest,
    ):
        admin = httpx.AsyncClient(base_url=ingest.base_url, headers={"Authorization": f"Bearer {token}"}, timeout=30)
        async with admin:
            created = await admin.post("/v1/admin/api-keys", json={"name": "Một cửa thử nghiệm", "units": [city]})
            assert created.status_code == 201, created.text
            sender = httpx.AsyncClient(base_url=ingest.base_url, timeout=30,
                                       headers={"Authorization": f"Bearer {created.json()['key']}"})  # fmt: skip
            async with sender:
                for n, unit in enumerate(kafka_units):
                    events = events_for(unit, ingested=True)
                    if n % 2 == 0:  # the events surely first: registered once scoring has set them all pending
                        await produce(kafka_bootstrap, topics.events, events)
                        await wait_for(lambda u=unit: pending_of(fresh_database, u), lambda n: n == EVENTS_PER_UNIT, 60)
                        await register(admin, unit, city, 0)
                    else:  # a tie
                        await asyncio.gather(
                            register(admin, unit, city, rng.uniform(0, 0.02)),
                            produce(kafka_bootstrap, topics.events, events),
                        )
                for unit in http_units:
                    await asyncio.gather(
                        register(admin, unit, city, rng.uniform(0, 0.05)),
                        send_until_accepted(sender, events_for(unit, ingested=False)),
                    )

        expected = {unit: EVENTS_PER_UNIT for unit in kafka_units + http_units}
        await wait_for(lambda: own_events(fresh_database, list(expected)), lambda got: got == expected, 120)
        letters = await wait_for(
            lambda: dead_letters(fresh_database), lambda rows: all(r["status"] == "applied" for r in rows), 60
        )
        # Half the Kafka rounds sent every event before the unit existed: those went pending, and were applied
        # exactly once (the counts above); no event ingest accepted over HTTP was ever dead-lettered.
        applied_units = {row["unit_id"] for row in letters}
        assert {kafka_units[n] for n in range(0, ROUNDS, 2)} <= applied_units
        assert not applied_units & set(http_units)
        assert all(row["error"] == "unknown_unit" for row in letters)
        city_figures = await scoring_figures(scoring, city)
        assert city_figures["counters"]["events"] == 2 * ROUNDS * EVENTS_PER_UNIT
        print(f"pending dead letters applied: {len(letters)} records of {len(applied_units)} units")

    code, output = await recompute(fresh_database)
    assert code == 0, output


async def scoring_figures(service: RunningService, unit_id: str) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=service.base_url, timeout=10) as client:
        return await wait_for(
            lambda: _get(client, f"/v1/units/{unit_id}/indicators?period={PERIOD}"),
            lambda body: body.get("counters", {}).get("events") == 2 * ROUNDS * EVENTS_PER_UNIT,
            30,
        )


async def _get(client: httpx.AsyncClient, path: str) -> dict[str, Any]:
    response = await client.get(path)
    return response.json() if response.status_code == 200 else {}
