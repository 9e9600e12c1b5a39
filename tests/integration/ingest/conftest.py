"""Fixtures of the ingest service tests: a migrated fresh database, a unique topic, a running ingest process."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Any, TypeVar

import asyncpg
import httpx
import pytest
from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from shared.db import apply_migrations
from tests.integration.conftest import unique, with_database
from tests.integration.processes import RunningService, service_process, wait_ready

T = TypeVar("T")

# A small registry: the city, a department, two districts, communes under one of them.
UNITS_CSV = (
    "unit_id,name,level,parent_id\n"
    "H26,Thành phố Hà Nội,city,\n"
    "H26.STP,Sở Tư pháp,department,H26\n"
    "H26.D01,Quận Ba Đình,district,H26\n"
    "H26.D01.C01,Phường Phúc Xá,commune,H26.D01\n"
    "H26.D01.C02,Phường Trúc Bạch,commune,H26.D01\n"
    "H26.D02,Quận Hoàn Kiếm,district,H26\n"
    "H26.D02.C01,Phường Hàng Bạc,commune,H26.D02\n"
)


@pytest.fixture(scope="session")
def admin_token() -> str:
    return secrets.token_urlsafe(32)


@dataclass
class IngestUnderTest:
    service: RunningService
    database_url: str
    topic: str
    bootstrap: str
    admin_token: str

    def client(self, token: str | None = None) -> httpx.AsyncClient:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.AsyncClient(base_url=self.service.base_url, headers=headers, timeout=30.0)

    def admin(self) -> httpx.AsyncClient:
        return self.client(self.admin_token)

    async def create_key(self, units: list[str], name: str = "Một cửa thử nghiệm") -> dict[str, Any]:
        async with self.admin() as client:
            response = await client.post("/v1/admin/api-keys", json={"name": name, "units": units})
        assert response.status_code == 201, response.text
        return dict(response.json())


async def create_migrated_database(database_url: str) -> tuple[str, str]:
    name = unique("ingest").replace("-", "_")
    admin = await asyncpg.connect(with_database(database_url, "postgres"))
    try:
        await admin.execute(f"CREATE DATABASE \"{name}\" TEMPLATE template0 ENCODING 'UTF8'")
    finally:
        await admin.close()
    url = with_database(database_url, name)
    await asyncio.to_thread(apply_migrations, url)
    return name, url


async def drop_database(database_url: str, name: str) -> None:
    admin = await asyncpg.connect(with_database(database_url, "postgres"))
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


async def create_topic(bootstrap: str, partitions: int = 3) -> str:
    topic = unique("ingest-events")
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, num_partitions=partitions, replication_factor=1)])
    finally:
        await admin.close()
    return topic


async def delete_topic(bootstrap: str, topic: str) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.delete_topics([topic])
    finally:
        await admin.close()


async def read_topic(bootstrap: str, topic: str, *, at_least: int, timeout_s: float = 30.0) -> list[Any]:
    """Every record of `topic` from the beginning, once at least `at_least` are there (or fail on timeout)."""
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", group_id=None)
    await consumer.start()
    records: list[Any] = []
    try:
        async with asyncio.timeout(timeout_s):
            while len(records) < at_least:
                for batch in (await consumer.getmany(timeout_ms=500)).values():
                    records.extend(batch)
        # Whatever else is already there (e.g. records that should NOT have been written) is read too.
        end_offsets = await consumer.end_offsets(list(consumer.assignment()))
        async with asyncio.timeout(timeout_s):
            while [tp for tp, end in end_offsets.items() if await consumer.position(tp) < end]:
                for batch in (await consumer.getmany(timeout_ms=500)).values():
                    records.extend(batch)
    finally:
        await consumer.stop()
    return records


async def eventually(check: Callable[[], Awaitable[T | None]], *, timeout_s: float, interval_s: float = 0.2) -> T:
    """Poll `check` until it returns something other than None (the condition holds), or fail on timeout."""
    async with asyncio.timeout(timeout_s):
        while True:
            outcome = await check()
            if outcome is not None:
                return outcome
            await asyncio.sleep(interval_s)


def vn_time(delta: timedelta = timedelta()) -> str:
    """A Vietnam-time RFC 3339 string relative to now (events must not be > 5 minutes in the future)."""
    return (datetime.now(UTC) + delta).astimezone(timezone(timedelta(hours=7))).isoformat(timespec="seconds")


def received_event(event_id: str, unit_id: str = "H26.D01.C01", **overrides: Any) -> dict[str, Any]:
    event = {
        "event_id": event_id,
        "dossier_id": f"HS-{event_id}",
        "unit_id": unit_id,
        "type": "received",
        "occurred_at": vn_time(-timedelta(hours=1)),
        "channel": "online",
        "due_at": vn_time(timedelta(days=7)),
    }
    event.update(overrides)
    return event


@contextlib.asynccontextmanager
async def running_ingest(
    database_url: str, kafka_bootstrap: str, admin_token: str, **env_overrides: str
) -> AsyncIterator[IngestUnderTest]:
    """An ingest service (`env_overrides`: e.g. INGEST_PROCESSES) on its own migrated database and topic, with
    UNITS_CSV loaded; both removed afterwards."""
    name, url = await create_migrated_database(database_url)
    topic = await create_topic(kafka_bootstrap)
    try:
        env = {
            "DATABASE_URL": url,
            "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
            "ADMIN_TOKEN": admin_token,
            "EVENTS_TOPIC": topic,
            "KEY_CACHE_TTL_S": "1",
            **env_overrides,
        }
        async with service_process("ingest", **env) as service:
            await wait_ready(service)
            under_test = IngestUnderTest(service, url, topic, kafka_bootstrap, admin_token)
            async with under_test.admin() as client:
                loaded = await client.put("/v1/admin/units", content=UNITS_CSV, headers={"Content-Type": "text/csv"})
                assert loaded.status_code == 200, loaded.text
            yield under_test
    finally:
        await delete_topic(kafka_bootstrap, topic)
        await drop_database(database_url, name)


@pytest.fixture(scope="module")
async def ingest(database_url: str, kafka_bootstrap: str, admin_token: str) -> AsyncIterator[IngestUnderTest]:
    """One ingest process per test module, on its own migrated database and topic, with UNITS_CSV loaded."""
    async with running_ingest(database_url, kafka_bootstrap, admin_token) as under_test:
        yield under_test
