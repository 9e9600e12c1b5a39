"""Throw-away resources of the scoring benchmark: a database with the Hanoi registry, topics, a preloaded stream.

Everything is created under a unique name and removed by the caller (disk space on the machine is shared).
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import sys
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import orjson
from aiokafka import AIOKafkaProducer
from aiokafka.partitioner import DefaultPartitioner

from shared import kafka
from shared.db import apply_migrations
from shared.kafka import TopicSpec
from shared.unit_loading import build_registry, parse_units_csv
from shared.units import UnitRegistry
from simulator.params import SimConfig
from simulator.registry import load_splits, load_units
from simulator.stream import Simulator
from simulator.worktime import Rfc3339

REPO_ROOT = Path(__file__).resolve().parents[1]
HANOI_REGISTRY = REPO_ROOT / "data" / "hanoi_registry.csv"
# The parent and successor foreign keys are deferred to the commit: insertion order does not matter.
INSERT_UNIT = (
    "INSERT INTO units (unit_id, name, level, parent_id, path, valid_from, valid_to, successor_id) "
    "VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
)
DAY_S = 86_400
# The simulator at scale 1 is the whole of Hanoi: ≈ 4 M dossiers × 3.85 events a year (docs/simulator.md).
EVENTS_PER_DAY_AT_SCALE_1 = 4_000_000 * 3.85 / 365.25


def unique(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:10]}"


def with_database(database_url: str, name: str) -> str:
    base, _, _ = database_url.rpartition("/")
    return f"{base}/{name}"


@dataclass(frozen=True)
class BenchTopics:
    events: str
    dlq: str
    indicators: str

    @property
    def all(self) -> list[str]:
        return [self.events, self.dlq, self.indicators]


@contextlib.asynccontextmanager
async def bench_database(database_url: str, code_root: Path = REPO_ROOT) -> AsyncIterator[str]:
    """A new database with every migration of `code_root`'s checkout and the Hanoi registry (paths from the city
    down); dropped after."""
    name = unique("bench_scoring")
    admin_url = with_database(database_url, "postgres")
    admin = await asyncpg.connect(admin_url)
    try:
        await admin.execute(f"CREATE DATABASE \"{name}\" TEMPLATE template0 ENCODING 'UTF8'")
    finally:
        await admin.close()
    url = with_database(database_url, name)
    try:
        if code_root == REPO_ROOT:
            await asyncio.to_thread(apply_migrations, url)
        else:  # another commit's schema: its own migrations, applied by its own code
            script = "import sys; from shared.db import apply_migrations; apply_migrations(sys.argv[1])"
            process = await asyncio.create_subprocess_exec(sys.executable, "-c", script, url, cwd=code_root)
            if await process.wait():
                raise RuntimeError(f"migrations of {code_root} failed")
        await load_registry(url)
        yield url
    finally:
        if os.environ.get("BENCH_KEEP_DATABASE"):  # kept for EXPLAIN on the run's tables; drop it by hand
            print(f"database {name} kept (BENCH_KEEP_DATABASE)", flush=True)
        else:
            admin = await asyncpg.connect(admin_url)
            try:
                await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            finally:
                await admin.close()


async def load_registry(url: str) -> int:
    """The Hanoi registry into `units`, validity and successors included (4- to 7-column CSV, SPEC §1)."""
    registry = build_registry(parse_units_csv(HANOI_REGISTRY.read_bytes()).records)
    if not isinstance(registry, UnitRegistry):
        raise SystemExit(f"{HANOI_REGISTRY}: {registry[0].detail} ({len(registry)} error(s))")
    records = [
        (u.unit_id, u.name, str(u.level), u.parent_id, [*reversed(registry.ancestors(u.unit_id)), u.unit_id],
         u.valid_from, u.valid_to, u.successor_id)
        for u in registry
    ]  # fmt: skip
    conn = await asyncpg.connect(url)
    try:
        async with conn.transaction():
            await conn.executemany(INSERT_UNIT, records)
    finally:
        await conn.close()
    return len(records)


async def create_topics(bootstrap: str, partitions: int) -> BenchTopics:
    topics = BenchTopics(unique("bench-events"), unique("bench-dlq"), unique("bench-indicators"))
    specs = (TopicSpec(topics.events, partitions), TopicSpec(topics.dlq, 1), TopicSpec(topics.indicators, 1))
    await kafka.create_topics(bootstrap, specs)
    return topics


@dataclass
class Preload:
    sent: int
    distinct: int
    seconds: float
    days: int
    scale: float
    first_occurred: str
    last_occurred: str


def simulation_for(events: int, scale: float, seed: int) -> SimConfig:
    """A back-fill ending an hour ago, long enough for `events` at `scale` (the caller stops at the count)."""
    days = max(7, math.ceil(events / (EVENTS_PER_DAY_AT_SCALE_1 * scale) * 1.25) + 7)
    end = int(time.time()) - 3600
    return SimConfig(start=end - days * DAY_S, end=end, seed=seed, scale=scale, run_id=f"B{seed}")


async def preload(bootstrap: str, topic: str, events: int, scale: float, seed: int) -> Preload:
    """Produce `events` simulated Hanoi events as a trusted producer (ingested_at = simulated delivery time)."""
    config = simulation_for(events, scale, seed)
    fmt = Rfc3339()
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        acks="all",
        enable_idempotence=True,
        linger_ms=20,
        max_batch_size=1024 * 1024,
        compression_type=None,
    )
    await producer.start()
    # Batches built per partition and sent whole: ~3x the rate of per-record send(); the partition is the one
    # the default (Java-compatible murmur2) partitioner picks for the key, as for any producer of the topic.
    partitioner = DefaultPartitioner()
    partitions = sorted(await producer.partitions_for(topic))
    batches = {p: producer.create_batch() for p in partitions}
    seen: set[int] = set()  # hashes of event_ids: enough to count distinct events without keeping the strings
    sent = 0
    first = last = ""
    started = time.perf_counter()
    try:
        pending = []
        for delivery in Simulator(config, load_units(HANOI_REGISTRY), load_splits()):
            event = delivery.event
            key = event["dossier_id"].encode()
            value = orjson.dumps({**event, "ingested_at": fmt.utc(delivery.deliver_at)})
            partition = partitioner(key, partitions, partitions)
            if batches[partition].append(key=key, value=value, timestamp=None) is None:
                pending.append(await producer.send_batch(batches[partition], topic, partition=partition))
                batches[partition] = producer.create_batch()
                batches[partition].append(key=key, value=value, timestamp=None)
            seen.add(hash(event["event_id"]))
            first = first or event["occurred_at"]
            last = event["occurred_at"]
            sent += 1
            if len(pending) >= 48:
                await asyncio.gather(*pending)
                pending.clear()
            if sent % 500_000 == 0:
                print(f"  preloaded {sent:,} events ({sent / (time.perf_counter() - started):,.0f}/s)", flush=True)
            if sent >= events:
                break
        for partition, batch in batches.items():
            if batch.record_count():
                pending.append(await producer.send_batch(batch, topic, partition=partition))
        await asyncio.gather(*pending)
    finally:
        await producer.stop()
    if sent < events:
        raise RuntimeError(f"the simulation produced only {sent} events; raise --scale")
    days = (config.end or config.start) - config.start
    return Preload(sent, len(seen), time.perf_counter() - started, days // DAY_S, scale, first, last)
