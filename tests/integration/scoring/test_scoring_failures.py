"""Scoring under failure, on the real broker and database, with a simulated Hanoi stream:
a poison record is dead-lettered and later records still apply; two consumers equal one; a process killed with
SIGKILL mid-stream and restarted ends with exactly the counters of an uninterrupted run, and `recompute` agrees."""

from __future__ import annotations

import asyncio
import signal
import sys
import time

import asyncpg
import orjson
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from shared.db import apply_migrations
from simulator.params import SimConfig
from simulator.registry import load_units
from simulator.stream import Simulator
from simulator.worktime import Rfc3339
from tests.integration.conftest import unique, with_database
from tests.integration.processes import REPO_ROOT, service_process, wait_ready
from tests.integration.scoring.harness import create_topics, produce, wait_for

SMALL_REGISTRY = REPO_ROOT / "data" / "units_small.csv"
DAY = 86_400


def simulated_events(days: int, seed: int) -> list[dict]:
    """A deterministic month-or-so of traffic for the small registry, with trusted-producer ingested_at."""
    end = int(time.time()) - 3600
    config = SimConfig(start=end - days * DAY, end=end, seed=seed, scale=0.03, run_id=f"T{seed}")
    fmt = Rfc3339()
    return [{**d.event, "ingested_at": fmt.utc(d.deliver_at)} for d in Simulator(config, load_units(SMALL_REGISTRY))]


async def new_database(database_url: str) -> str:
    name = unique("t").replace("-", "_")
    admin = await asyncpg.connect(with_database(database_url, "postgres"))
    try:
        await admin.execute(f"CREATE DATABASE \"{name}\" TEMPLATE template0 ENCODING 'UTF8'")
    finally:
        await admin.close()
    url = with_database(database_url, name)
    await asyncio.to_thread(apply_migrations, url)
    conn = await asyncpg.connect(url)
    try:
        rows = [line.split(",") for line in SMALL_REGISTRY.read_text(encoding="utf-8").splitlines()[1:]]
        paths: dict[str, list[str]] = {}
        for unit_id, name_, level, parent in rows:
            paths[unit_id] = [*paths[parent], unit_id] if parent else [unit_id]
            await conn.execute("INSERT INTO units (unit_id, name, level, parent_id, path) VALUES ($1,$2,$3,$4,$5)",
                               unit_id, name_, level, parent or None, paths[unit_id])  # fmt: skip
    finally:
        await conn.close()
    return url


async def counters(url: str) -> dict[tuple[str, str, str], int]:
    conn = await asyncpg.connect(url)
    try:
        rows = await conn.fetch("SELECT unit_id, month, counter, value FROM unit_month_counters WHERE value <> 0")
    finally:
        await conn.close()
    return {(r["unit_id"], r["month"], r["counter"]): r["value"] for r in rows}


async def caught_up(bootstrap: str, topic: str, group: str) -> bool:
    """The group's committed offsets have reached the end of every partition."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap)
    await admin.start()
    await consumer.start()
    try:
        partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        if not partitions:
            await consumer._client.force_metadata_update()
            partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        ends = await consumer.end_offsets(partitions)
        committed = await admin.list_consumer_group_offsets(group)
        # A partition that never held a record has nothing to commit: its end offset 0 is reached without one.
        return bool(partitions) and all(
            (committed[tp].offset if tp in committed else 0) >= ends[tp] for tp in partitions
        )
    finally:
        await consumer.stop()
        await admin.close()


async def run_to_completion(url: str, bootstrap: str, topics, processes: int = 1) -> None:
    env = {"DATABASE_URL": url, "KAFKA_BOOTSTRAP_SERVERS": bootstrap, **topics.env()}
    services = [service_process("scoring", **env) for _ in range(processes)]
    entered = [await s.__aenter__() for s in services]
    try:
        for svc in entered:
            await wait_ready(svc)
        await wait_for(lambda: caught_up(bootstrap, topics.events, topics.group), bool, timeout_s=180)
    finally:
        for s in reversed(services):
            await s.__aexit__(None, None, None)


async def recompute(url: str) -> tuple[int, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "services.scoring.entrypoints.recompute", "--database-url", url,
        cwd=REPO_ROOT, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    out, _ = await asyncio.wait_for(proc.communicate(), 120)
    return proc.returncode or 0, out.decode()


async def test_poison_records_are_dead_lettered_and_later_records_still_apply(
    database_url: str, kafka_bootstrap: str
) -> None:
    url = await new_database(database_url)
    topics = await create_topics(kafka_bootstrap)
    good = simulated_events(days=5, seed=11)[:400]
    poison = [b"{not json", orjson.dumps({**good[0], "event_id": "p-1", "unit_id": "NO.SUCH.UNIT"}),
              orjson.dumps({k: v for k, v in good[1].items() if k != "type"} | {"event_id": "p-2"})]  # fmt: skip
    await produce(kafka_bootstrap, topics.events, [*good[:200], *poison, *good[200:]])
    await run_to_completion(url, kafka_bootstrap, topics)

    conn = await asyncpg.connect(url)
    try:
        dead = await conn.fetch("SELECT error, event_id FROM dlq_records ORDER BY error")
    finally:
        await conn.close()
    assert sorted((r["error"], r["event_id"]) for r in dead) == sorted(
        [("invalid_json", None), ("unknown_unit", "p-1"), ("missing_field", "p-2")]
    )
    distinct = {e["event_id"] for e in good}
    table = await counters(url)
    # Own counters (migration 0007): the city's figure is the sum over every unit.
    assert sum(v for (_unit, _, name), v in table.items() if name == "events") == len(distinct)

    dlq = AIOKafkaConsumer(topics.dlq, bootstrap_servers=kafka_bootstrap, auto_offset_reset="earliest")
    await dlq.start()
    try:
        batch = await dlq.getmany(timeout_ms=5000)
        records = [r for rs in batch.values() for r in rs]
    finally:
        await dlq.stop()
    assert sorted(dict(r.headers)["x-error"].decode() for r in records) == sorted(
        ["invalid_json", "unknown_unit", "missing_field"]
    )


async def test_kill_mid_stream_and_two_consumers_match_an_uninterrupted_run(
    database_url: str, kafka_bootstrap: str
) -> None:
    events = simulated_events(days=40, seed=5)
    assert len(events) > 5000
    topics = await create_topics(kafka_bootstrap, partitions=6)
    await produce(kafka_bootstrap, topics.events, events)

    reference_url = await new_database(database_url)
    await run_to_completion(reference_url, kafka_bootstrap, topics)
    reference = await counters(reference_url)
    assert reference

    # Same topic, a new group and database: two processes share the partitions.
    pair_url = await new_database(database_url)
    topics.group = unique("pair")
    await run_to_completion(pair_url, kafka_bootstrap, topics, processes=2)
    assert await counters(pair_url) == reference

    # Same again, but the process is SIGKILLed part-way and restarted.
    killed_url = await new_database(database_url)
    topics.group = unique("killed")
    env = {"DATABASE_URL": killed_url, "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap, **topics.env(),
           "BATCH_MAX_RECORDS": "500"}  # fmt: skip
    total_events = sum(v for (u, _, n), v in reference.items() if u == "H26" and n == "events")
    async with service_process("scoring", **env) as first:
        await wait_ready(first)

        async def applied() -> int:
            table = await counters(killed_url)
            return sum(v for (u, _, n), v in table.items() if u == "H26" and n == "events")

        await wait_for(applied, lambda n: n >= total_events // 3, timeout_s=120)
        first.process.send_signal(signal.SIGKILL)
        await first.process.wait()
    partial = await counters(killed_url)
    assert partial != reference, "the kill came too late to prove anything"
    await run_to_completion(killed_url, kafka_bootstrap, topics)
    assert await counters(killed_url) == reference

    code, output = await recompute(killed_url)
    assert code == 0, output
    assert "0 differing keys" in output
