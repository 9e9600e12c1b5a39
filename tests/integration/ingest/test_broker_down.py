"""Broker down → 503 + Retry-After, nothing written, and recovery — on a PRIVATE broker (never the shared one)."""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import orjson
import pytest
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from infra import kafka_local
from tests.integration.conftest import unique
from tests.integration.ingest.conftest import (
    UNITS_CSV,
    create_migrated_database,
    drop_database,
    eventually,
    read_topic,
    received_event,
)
from tests.integration.private_broker import PrivateBroker
from tests.integration.processes import service_process, wait_ready


@pytest.fixture
async def private_broker(tmp_path: Path) -> AsyncIterator[PrivateBroker]:
    broker = PrivateBroker(tmp_path / "kafka")
    await broker.start()
    try:
        yield broker
    finally:
        await broker.stop()


def _metric(exposition: str, name: str) -> float:
    for line in exposition.splitlines():
        if line.startswith(name + " ") or line.startswith(name + "{"):
            return float(line.rpartition(" ")[2])
    return 0.0


async def test_broker_down_gives_503_with_retry_after_and_writes_nothing(
    private_broker: PrivateBroker, database_url: str, admin_token: str
) -> None:
    topic = unique("down")
    admin = AIOKafkaAdminClient(bootstrap_servers=private_broker.bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, num_partitions=3, replication_factor=1)])
    finally:
        await admin.close()
    name, url = await create_migrated_database(database_url)
    env = {
        "DATABASE_URL": url,
        "KAFKA_BOOTSTRAP_SERVERS": private_broker.bootstrap,
        "ADMIN_TOKEN": admin_token,
        "EVENTS_TOPIC": topic,
        "PRODUCE_TIMEOUT_S": "3",
        "RETRY_AFTER_S": "7",
    }
    try:
        async with service_process("ingest", **env) as service:
            await wait_ready(service)
            async with httpx.AsyncClient(base_url=service.base_url, timeout=30) as client:
                headers = {"Authorization": f"Bearer {admin_token}"}
                units = await client.put(
                    "/v1/admin/units", content=UNITS_CSV, headers=headers | {"Content-Type": "text/csv"}
                )
                assert units.status_code == 200
                created = await client.post("/v1/admin/api-keys", json={"name": "t", "units": ["H26"]}, headers=headers)
                client.headers["Authorization"] = f"Bearer {created.json()['key']}"

                before = await client.post(
                    "/v1/events", json=[received_event(f"{topic}-before-{i}") for i in range(20)]
                )
                assert before.json() == {"accepted": 20, "rejected": []}

                await private_broker.stop()
                during = [received_event(f"{topic}-during-{i}") for i in range(30)] + [{"bad": True}]
                first = await client.post("/v1/events", json=during)
                second = await client.post("/v1/events", json=during)  # fails fast: no connection possible
                for response in (first, second):
                    assert response.status_code == 503, response.text
                    assert response.headers["retry-after"] == "7"
                    assert response.json()["error"] == "broker_unavailable"
                    assert "accepted" not in response.json()
                ready = await client.get("/readyz")
                assert ready.status_code == 503 and ready.json()["checks"]["kafka"] is False
                metrics = (await client.get("/metrics")).text
                assert _metric(metrics, "ingest_events_accepted_total") == 20
                assert _metric(metrics, "ingest_kafka_producer_connected") == 0
                assert (
                    sum(
                        float(line.rpartition(" ")[2])
                        for line in metrics.splitlines()
                        if line.startswith("ingest_broker_errors_total{")
                    )
                    == 2
                )

                # The broker comes back: ingest reconnects on its own, and the 503'd events were never written.
                await private_broker.start()
                after = [received_event(f"{topic}-after-{i}") for i in range(10)]

                async def delivered() -> httpx.Response | None:
                    response = await client.post("/v1/events", json=after)
                    return response if response.status_code != 503 else None

                response = await eventually(delivered, timeout_s=60, interval_s=0.5)
                assert response.json() == {"accepted": 10, "rejected": []}

        records = await read_topic(private_broker.bootstrap, topic, at_least=30)
        written = sorted({orjson.loads(r.value)["event_id"].split("-")[-2] for r in records})
        assert written == ["after", "before"]
        assert len(records) == 30
    finally:
        with contextlib.suppress(Exception):
            await drop_database(database_url, name)


def test_private_broker_uses_its_own_data_dir(tmp_path: Path) -> None:
    """The optional data_dir keeps the shared broker's var/kafka untouched."""
    properties = kafka_local._server_properties(kafka_local.KafkaPorts(19092, 19093), tmp_path)
    assert f"log.dirs={tmp_path / 'data'}" in properties.splitlines()
    assert os.fspath(tmp_path) not in kafka_local._server_properties(kafka_local.KafkaPorts())
