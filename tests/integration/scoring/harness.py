"""A scoring service under test: its own database, topics and consumer group on the real broker."""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import re
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson
from aiokafka import AIOKafkaProducer

from services.scoring.adapters.units import UnitDirectory
from services.scoring.bootstrap import build_applier
from services.scoring.service.apply_batch import BatchApplier
from services.scoring.service.ports import DeadLetter
from services.scoring.settings import REPO_ROOT
from shared import kafka
from shared.db import apply_migrations, create_pool
from shared.kafka import TopicSpec
from tests.integration.conftest import unique
from tests.integration.processes import RunningService, service_process, wait_ready
from tests.integration.registry import insert_units, small_registry

VN = timedelta(hours=7)


@dataclass
class RawRecord:
    """A consumed record as the applier reads it (aiokafka's ConsumerRecord has these fields)."""

    value: bytes
    key: bytes
    offset: int
    topic: str = "dossier-events"
    partition: int = 0
    timestamp: int = 1_790_000_000_000


class NoDeadLetters:
    async def publish(self, letters: Sequence[DeadLetter]) -> None:
        raise AssertionError("no record here is invalid")


no_dead_letters = NoDeadLetters()


@contextlib.asynccontextmanager
async def in_process_appliers(database_url: str, count: int) -> AsyncIterator[list[BatchApplier]]:
    """`count` appliers as separate scoring processes would have them: each its own pool and registry copy.
    Any dead letter fails the test."""
    pools = [await create_pool(database_url, max_size=3) for _ in range(count)]
    try:
        appliers = []
        for pool in pools:
            directory = UnitDirectory(pool)
            await directory.load()
            appliers.append(build_applier(pool, directory, no_dead_letters))
        yield appliers
    finally:
        for pool in pools:
            await pool.close()


@dataclass
class ScoringTopics:
    events: str
    dlq: str
    indicators: str
    group: str

    def env(self) -> dict[str, str]:
        return {
            "EVENTS_TOPIC": self.events,
            "DLQ_TOPIC": self.dlq,
            "INDICATORS_TOPIC": self.indicators,
            "CONSUMER_GROUP": self.group,
            "INDICATORS_INTERVAL_S": "0.2",
            "BATCH_TIMEOUT_MS": "100",
        }


async def create_topics(bootstrap: str, partitions: int = 4) -> ScoringTopics:
    topics = ScoringTopics(unique("events"), unique("dlq"), unique("indicators"), unique("scoring"))
    specs = (TopicSpec(topics.events, partitions), TopicSpec(topics.dlq, 1), TopicSpec(topics.indicators, 1))
    await kafka.create_topics(bootstrap, specs)
    return topics


async def prepare_database(database_url: str, prefix: str) -> None:
    await asyncio.to_thread(apply_migrations, database_url)
    await insert_units(database_url, small_registry(prefix))


def vn(text: str) -> str:
    """'2026-09-02 09:00' (Vietnam time) → RFC 3339 with +07:00."""
    return datetime.fromisoformat(text).strftime("%Y-%m-%dT%H:%M:%S+07:00")


def utc(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def ingested_after(occurred: str, delay: timedelta = timedelta(hours=1)) -> str:
    return utc(datetime.fromisoformat(occurred) + delay)


async def produce(
    bootstrap: str, topic: str, events: Sequence[dict[str, Any] | bytes], *, shuffle: int | None = None
) -> None:
    """Send events keyed by dossier_id (raw bytes are sent as they are, keyed 'poison')."""
    items = list(events)
    if shuffle is not None:
        random.Random(shuffle).shuffle(items)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True)
    await producer.start()
    try:
        for item in items:
            if isinstance(item, bytes):
                await producer.send(topic, item, key=b"poison")
            else:
                await producer.send(topic, orjson.dumps(item), key=str(item["dossier_id"]).encode())
        await producer.flush()
    finally:
        await producer.stop()


async def wait_for(probe: Callable[[], Awaitable[Any]], accept: Callable[[Any], bool], timeout_s: float = 60.0) -> Any:
    """Poll `probe` until `accept(result)`; fail with the last result after `timeout_s`."""
    last: Any = None
    try:
        async with asyncio.timeout(timeout_s):
            while True:
                last = await probe()
                if accept(last):
                    return last
                await asyncio.sleep(0.2)
    except TimeoutError:
        raise AssertionError(f"condition not met within {timeout_s}s; last value: {last!r}") from None


def profile_with_min_dossiers(min_dossiers: int) -> Path:
    """The default score profile with another `min_dossiers`: the tests' small scenarios rank units with a few
    dossiers (the default, 20, is unit-tested in tests/unit/scoring/test_rank.py)."""
    text = (REPO_ROOT / "config" / "score_profile.yaml").read_text(encoding="utf-8")
    text = re.sub(r"(?m)^min_dossiers: \d+$", f"min_dossiers: {min_dossiers}", text)
    path = Path(tempfile.gettempdir()) / f"tthc-test-profile-min{min_dossiers}.yaml"
    # Written aside and renamed: every test (of every checkout on the machine) rewrites this path, and a service
    # starting meanwhile read it half-written ("profile must be a YAML mapping") when it was written in place.
    partial = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    partial.write_text(text, encoding="utf-8")
    os.replace(partial, path)
    return path


@contextlib.asynccontextmanager
async def scoring_service(
    database_url: str, bootstrap: str, topics: ScoringTopics, min_dossiers: int = 1
) -> AsyncIterator[RunningService]:
    async with service_process(
        "scoring",
        DATABASE_URL=database_url,
        KAFKA_BOOTSTRAP_SERVERS=bootstrap,
        PROFILE_PATH=str(profile_with_min_dossiers(min_dossiers)),
        **topics.env(),
    ) as service:
        await wait_ready(service)
        yield service


async def get_json(service: RunningService, path: str, **params: Any) -> Any:
    async with httpx.AsyncClient(base_url=service.base_url, timeout=10) as client:
        response = await client.get(path, params=params)
        return response.json() if response.status_code == 200 else {"status": response.status_code, **response.json()}
