"""The ingest benchmark's parts that are not the HTTP rounds: the generated events, the raw produce rates to compare
with, and the measuring of processes, topics and percentiles (bench/ingest_bench.py runs them)."""

from __future__ import annotations

import asyncio
import contextlib
import random
import sys
import time
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

import psutil  # noqa: E402
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer  # noqa: E402

from services.ingest.adapters.producer import EventProducer, ProducerConfig  # noqa: E402
from shared import kafka  # noqa: E402
from shared.kafka import TopicSpec  # noqa: E402

VN = timezone(timedelta(hours=7))


def generate_events(count: int, unit_ids: list[str], seed: int = 7) -> list[dict[str, Any]]:
    """Valid events of every type, over ~count/4 dossiers, in the recent past (none in the future)."""
    rng = random.Random(seed)
    now = datetime.now(UTC)
    events: list[dict[str, Any]] = []
    dossier = 0
    while len(events) < count:
        dossier += 1
        dossier_id = f"000.00.{rng.randint(1, 99):02d}.H26-{dossier:08d}"
        unit_id = rng.choice(unit_ids)
        received = now - timedelta(days=rng.uniform(1, 20))
        base = {"dossier_id": dossier_id, "unit_id": unit_id, "procedure_id": f"1.{rng.randint(1000, 9999)}"}
        stamp = lambda moment: moment.astimezone(VN).isoformat(timespec="seconds")  # noqa: E731
        events.append({**base, "event_id": f"bench:{dossier}:r", "type": "received", "occurred_at": stamp(received),
                       "channel": rng.choice(["online", "direct", "postal"]),
                       "due_at": stamp(received + timedelta(days=rng.randint(3, 15))),
                       "digitized": rng.random() < 0.8})  # fmt: skip
        events.append({**base, "event_id": f"bench:{dossier}:p", "type": "payment",
                       "occurred_at": stamp(received + timedelta(minutes=5)),
                       "method": rng.choice(["online", "counter"]),
                       "amount": rng.choice([0, 50_000, 200_000])})  # fmt: skip
        events.append({**base, "event_id": f"bench:{dossier}:s", "type": "resolved",
                       "occurred_at": stamp(received + timedelta(hours=20)),
                       "outcome": "approved", "e_result": rng.random() < 0.7})  # fmt: skip
        events.append({**base, "event_id": f"bench:{dossier}:v", "type": "rating",
                       "occurred_at": stamp(received + timedelta(hours=21)),
                       "level": rng.choice(["very_satisfied", "satisfied", "dissatisfied"])})  # fmt: skip
    return events[:count]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def create_topic(bootstrap: str, name: str, partitions: int) -> None:
    await kafka.create_topics(bootstrap, [TopicSpec(name, partitions)])


async def topic_size(bootstrap: str, topic: str) -> int:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap)
    await consumer.start()
    try:
        partitions = consumer.partitions_for_topic(topic) or set()
        if not partitions:
            await consumer._client._wait_on_metadata(topic)
            partitions = consumer.partitions_for_topic(topic) or set()
        from aiokafka import TopicPartition

        offsets = await consumer.end_offsets([TopicPartition(topic, p) for p in partitions])
        return sum(offsets.values())
    finally:
        await consumer.stop()


def peak_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def raw_send_rate(bootstrap: str, topic: str, records: list[tuple[bytes, bytes]], batch: int) -> float:
    """aiokafka's plain API: per-record send(), a batch's futures gathered, batches posted concurrently."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True, linger_ms=5,
                                max_batch_size=1024 * 1024)  # fmt: skip
    await producer.start()
    try:
        semaphore = asyncio.Semaphore(8)

        async def one(chunk: list[tuple[bytes, bytes]]) -> None:
            async with semaphore:
                futures = [await producer.send(topic, value, key=key) for key, value in chunk]
                await asyncio.gather(*futures)

        started = time.perf_counter()
        await asyncio.gather(*(one(records[i : i + batch]) for i in range(0, len(records), batch)))
        return len(records) / (time.perf_counter() - started)
    finally:
        await producer.stop()


async def raw_batch_rate(bootstrap: str, topic: str, records: list[tuple[bytes, bytes]], batch: int) -> float:
    """The same records through ingest's own producer adapter (send_batch per partition), no HTTP, no validation."""
    producer = EventProducer(ProducerConfig(bootstrap, topic, timeout_s=30, linger_ms=5))
    await producer.start()
    try:
        semaphore = asyncio.Semaphore(8)

        async def one(chunk: list[tuple[bytes, bytes]]) -> None:
            async with semaphore:
                await producer.publish(chunk)

        started = time.perf_counter()
        await asyncio.gather(*(one(records[i : i + batch]) for i in range(0, len(records), batch)))
        return len(records) / (time.perf_counter() - started)
    finally:
        await producer.stop()


def process_tree_cpu(process: psutil.Process) -> float:
    """User + system CPU seconds of a process and its children (the launcher's ingest processes, if any)."""
    total = 0.0
    for member in [process, *process.children(recursive=True)]:
        with contextlib.suppress(psutil.NoSuchProcess):
            total += sum(member.cpu_times()[:2])
    return total


def tree_pids(pid: int) -> list[int]:
    with contextlib.suppress(psutil.NoSuchProcess):
        return [pid, *(child.pid for child in psutil.Process(pid).children(recursive=True))]
    return [pid]


def broker_process(bootstrap: str) -> psutil.Process | None:
    """The process listening on the broker's port (its CPU per event is reported beside ingest's)."""
    port = int(bootstrap.rpartition(":")[2])
    with contextlib.suppress(psutil.AccessDenied):
        for connection in psutil.net_connections(kind="tcp"):
            if connection.status == psutil.CONN_LISTEN and connection.laddr.port == port and connection.pid:
                return psutil.Process(connection.pid)
    return None
