"""Ingest throughput benchmark: concurrent clients posting 500-event batches to ONE ingest process.

    DATABASE_URL=... KAFKA_BOOTSTRAP_SERVERS=... python bench/ingest_bench.py [--events 300000] [--clients 8]

Runs on the real broker and PostgreSQL, in a throw-away database and on throw-away topics (12 partitions, like
`dossier-events`), all removed afterwards. Reports events/s through HTTP, p50/p99 request latency, the ingest
process's peak RSS (VmHWM), and — in the same run, with the same encoded records — the raw aiokafka produce rate
(acks=all, idempotent): per-record `send()` + gather, and `send_batch()` per partition (what ingest does).
`--profile` runs the ingest process under pyinstrument and prints where its time went.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import secrets
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

import asyncpg  # noqa: E402
import httpx  # noqa: E402
import orjson  # noqa: E402
import psutil  # noqa: E402
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer  # noqa: E402

from services.ingest.adapters.producer import EventProducer, ProducerConfig  # noqa: E402
from shared import kafka  # noqa: E402
from shared.contract import EventRejection  # noqa: E402
from shared.contract_codec import encode_checked, stamp_text, validate_item  # noqa: E402
from shared.db import apply_migrations  # noqa: E402
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


async def run_http(base_url: str, key: str, bodies: list[bytes], clients: int) -> tuple[float, list[float], int]:
    """Post every body once with `clients` concurrent connections; (seconds, latencies, accepted)."""
    queue: asyncio.Queue[bytes] = asyncio.Queue()
    for body in bodies:
        queue.put_nowait(body)
    latencies: list[float] = []
    accepted = 0
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}

    async def client_loop(client: httpx.AsyncClient) -> None:
        nonlocal accepted
        while not queue.empty():
            body = queue.get_nowait()
            started = time.perf_counter()
            response = await client.post("/v1/events", content=body, headers=headers)
            latencies.append(time.perf_counter() - started)
            result = response.json()
            if response.status_code != 200 or result["rejected"]:
                raise RuntimeError(f"unexpected answer {response.status_code}: {str(result)[:300]}")
            accepted += result["accepted"]

    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=base_url, limits=limits, timeout=60) as client:
        started = time.perf_counter()
        await asyncio.gather(*(client_loop(client) for _ in range(clients)))
        elapsed = time.perf_counter() - started
    return elapsed, latencies, accepted


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


async def wait_ready(base_url: str, process: asyncio.subprocess.Process) -> None:
    async with httpx.AsyncClient(base_url=base_url, timeout=2) as client, asyncio.timeout(60):
        while True:
            if process.returncode is not None:
                raise RuntimeError("ingest exited before it was ready")
            try:
                if (await client.get("/readyz")).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.2)


async def main(args: argparse.Namespace) -> dict[str, Any]:
    database_url = os.environ["DATABASE_URL"]
    bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092")
    tag = secrets.token_hex(4)
    db_name, http_topic, raw_topic, batch_topic = (
        f"bench_{tag}",
        f"bench-http-{tag}",
        f"bench-raw-{tag}",
        f"bench-batch-{tag}",
    )
    base, _, _ = database_url.rpartition("/")
    admin_conn = await asyncpg.connect(f"{base}/postgres")
    await admin_conn.execute(f'CREATE DATABASE "{db_name}"')
    bench_db = f"{base}/{db_name}"
    await asyncio.to_thread(apply_migrations, bench_db)
    for topic in (http_topic, raw_topic, batch_topic):
        await create_topic(bootstrap, topic, args.partitions)

    port = args.port
    admin_token = secrets.token_urlsafe(32)
    env = {**os.environ, "DATABASE_URL": bench_db, "KAFKA_BOOTSTRAP_SERVERS": bootstrap, "ADMIN_TOKEN": admin_token,
           "EVENTS_TOPIC": http_topic, "INGEST_PORT": str(port), "LOG_LEVEL": "WARNING"}  # fmt: skip
    command = [sys.executable, "-m", "services.ingest"]
    if args.profile:
        command = [sys.executable, "-m", "pyinstrument", "-r", "text", "-o", str(Path(args.profile)),
                   "-m", "services.ingest"]  # fmt: skip
    process = await asyncio.create_subprocess_exec(*command, cwd=REPO_ROOT, env=env)
    base_url = f"http://127.0.0.1:{port}"
    result: dict[str, Any] = {}
    try:
        await wait_ready(base_url, process)
        async with httpx.AsyncClient(base_url=base_url, timeout=60,
                                     headers={"Authorization": f"Bearer {admin_token}"}) as admin:  # fmt: skip
            units_csv = (REPO_ROOT / "data" / "hanoi_registry.csv").read_bytes()
            loaded = await admin.put("/v1/admin/units", content=units_csv, headers={"Content-Type": "text/csv"})
            loaded.raise_for_status()
            key = (await admin.post("/v1/admin/api-keys", json={"name": "bench", "units": ["H26"]})).json()["key"]
        # Units that exist today (an empty valid_to): the events are recent.
        unit_ids = [row[0] for line in units_csv.decode().splitlines()[1:] if line and not (row := line.split(","))[5]]
        events = generate_events(args.events + args.warmup, unit_ids)
        bodies = [orjson.dumps(events[i : i + args.batch]) for i in range(0, len(events), args.batch)]
        warmup_bodies = args.warmup // args.batch
        _, _, warmup_accepted = await run_http(base_url, key, bodies[:warmup_bodies], args.clients)
        stamp = datetime.now(UTC)
        records = []
        for raw in events[args.warmup :]:
            event = validate_item(raw, now=stamp, unit_exists=lambda _: True)
            assert not isinstance(event, EventRejection), event
            records.append((event.dossier_id.encode(), encode_checked(event, stamp_text(stamp))))

        # Rounds alternate the three measurements, so load from other processes on the machine hits all alike.
        ingest = psutil.Process(process.pid)
        per_round = len(bodies[warmup_bodies:]) // args.rounds
        rounds: list[dict[str, float]] = []
        latencies: list[float] = []
        accepted_total = 0
        for number in range(args.rounds):
            chunk = bodies[warmup_bodies + number * per_round : warmup_bodies + (number + 1) * per_round]
            cpu_before = sum(ingest.cpu_times()[:2])
            elapsed, round_latencies, accepted = await run_http(base_url, key, chunk, args.clients)
            cpu = sum(ingest.cpu_times()[:2]) - cpu_before
            latencies += round_latencies
            accepted_total += accepted
            raw_records = records[number * per_round * args.batch : (number + 1) * per_round * args.batch]
            rounds.append(
                {
                    "http": accepted / elapsed,
                    "http_per_cpu_s": accepted / cpu,
                    "send": await raw_send_rate(bootstrap, raw_topic, raw_records, args.batch),
                    "send_batch": await raw_batch_rate(bootstrap, batch_topic, raw_records, args.batch),
                }
            )
        rss = peak_rss_mib(process.pid)
        stored = await topic_size(bootstrap, http_topic)
        if stored != warmup_accepted + accepted_total:  # the topic holds exactly what was acknowledged
            raise RuntimeError(f"topic holds {stored} records, {warmup_accepted + accepted_total} were acknowledged")

        def median(name: str) -> float:
            return statistics.median(r[name] for r in rounds)

        result = {
            "date": datetime.now(VN).isoformat(timespec="seconds"),
            "cpus": os.cpu_count(),
            "events": accepted_total,
            "rounds": args.rounds,
            "batch": args.batch,
            "clients": args.clients,
            "partitions": args.partitions,
            "events_per_s_median": round(median("http")),
            "events_per_s_rounds": [round(r["http"]) for r in rounds],
            "events_per_ingest_cpu_s": round(median("http_per_cpu_s")),
            "latency_p50_ms": round(percentile(latencies, 0.50) * 1000, 1),
            "latency_p99_ms": round(percentile(latencies, 0.99) * 1000, 1),
            "ingest_peak_rss_mib": round(rss, 1),
            "records_on_topic_after_warmup": stored - warmup_accepted,
            "topic_holds_exactly_the_acknowledged": stored == warmup_accepted + accepted_total,
            "raw_send_per_s_median": round(median("send")),
            "raw_send_per_s_rounds": [round(r["send"]) for r in rounds],
            "raw_send_batch_per_s_median": round(median("send_batch")),
            "ratio_to_raw_send_per_round": [round(r["http"] / r["send"], 2) for r in rounds],
            "ratio_to_raw_send_median": round(statistics.median(r["http"] / r["send"] for r in rounds), 2),
            "avg_record_bytes": round(sum(len(v) for _, v in records) / len(records)),
        }
    finally:
        process.send_signal(2)  # SIGINT: graceful (pyinstrument writes its report)
        try:
            await asyncio.wait_for(process.wait(), 30)
        except TimeoutError:
            process.kill()
        await kafka.delete_topics(bootstrap, [http_topic, raw_topic, batch_topic])
        await admin_conn.execute(f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)')
        await admin_conn.close()
    return result


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=300_000, help="measured events (default 300,000)")
    parser.add_argument("--warmup", type=int, default=20_000, help="events posted before measuring")
    parser.add_argument("--rounds", type=int, default=3, help="alternating HTTP / raw rounds (default 3)")
    parser.add_argument("--batch", type=int, default=500, help="events per request (default 500)")
    parser.add_argument("--clients", type=int, default=8, help="concurrent HTTP connections (default 8)")
    parser.add_argument("--partitions", type=int, default=12, help="partitions of the bench topics")
    parser.add_argument("--port", type=int, default=18001, help="port of the benchmarked ingest process")
    parser.add_argument("--profile", help="run ingest under pyinstrument, write its text report to this file")
    outcome = asyncio.run(main(parser.parse_args()))
    print(json.dumps(outcome, indent=2))
