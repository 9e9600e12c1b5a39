"""What the Kafka broker spends serving a consumer, per record (issue 14): idle, then a plain aiokafka consumer with
the given fetch settings reading a preloaded topic from the beginning — the broker's process CPU (from /proc, via
psutil) and the consumer's own, per record.

    KAFKA_BOOTSTRAP_SERVERS=... .venv/bin/python bench/kafka_fetch_cost.py --reuse-topic var/bench/topic1m.json \\
        --fetch fetch_max_wait_ms=50,fetch_min_bytes=1 --fetch fetch_max_wait_ms=50,fetch_min_bytes=1048576

Each `--fetch` is one pass over the whole topic (a new consumer, no group, no processing: getmany loop); the idle
figure is the broker's CPU over `--idle-s` seconds with nothing consuming, so a benchmark's broker CPU can be split
into what it costs to keep the broker running and what the fetches cost.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

import psutil  # noqa: E402
from aiokafka import AIOKafkaConsumer  # noqa: E402

from bench.scoring_measure import end_offsets, listening_pid, server_cpu_s  # noqa: E402


def fetch_settings(text: str) -> dict[str, int]:
    """`name=value,name=value` → aiokafka consumer keyword arguments (integers)."""
    return {name: int(value) for name, _, value in (item.partition("=") for item in text.split(",") if item)}


async def one_pass(
    bootstrap: str, topic: str, settings: dict[str, int], broker_pid: int | None, pause_us_per_record: float
) -> dict[str, Any]:
    """One read of the whole topic; after each getmany the consumer pauses as long as applying the records would
    take (`pause_us_per_record`), as a scoring process does, so the fetcher sees a slow consumer's pattern."""
    partitions, total = await end_offsets(bootstrap, topic)
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, auto_offset_reset="earliest", **settings
    )
    await consumer.start()
    me = psutil.Process()
    try:
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        count = 0
        broker_before, mine_before = server_cpu_s(broker_pid), sum(me.cpu_times()[:2])
        started = time.perf_counter()
        while count < total:
            batch = await consumer.getmany(timeout_ms=200, max_records=40_000)
            got = sum(len(records) for records in batch.values())
            count += got
            if pause_us_per_record:
                await asyncio.sleep(got * pause_us_per_record / 1e6)
        seconds = time.perf_counter() - started
        broker_cpu, mine = server_cpu_s(broker_pid) - broker_before, sum(me.cpu_times()[:2]) - mine_before
    finally:
        await consumer.stop()
    return {
        "settings": settings,
        "pause_us_per_record": pause_us_per_record,
        "records": count,
        "records_per_s": round(count / seconds),
        "broker_cpu_us_per_record": round(broker_cpu / count * 1e6, 2),
        "consumer_cpu_us_per_record": round(mine / count * 1e6, 2),
    }


async def idle_cost(broker_pid: int | None, seconds: float) -> float:
    """The broker's CPU share of one core with nothing to serve (heartbeats of the controller, log tasks, GC)."""
    before = server_cpu_s(broker_pid)
    await asyncio.sleep(seconds)
    return (server_cpu_s(broker_pid) - before) / seconds


async def main(args: argparse.Namespace) -> None:
    bootstrap = os.environ["KAFKA_BOOTSTRAP_SERVERS"]
    topic = json.loads(args.reuse_topic.read_text())["topics"][0]
    broker_pid = listening_pid(int(bootstrap.split(",")[0].rpartition(":")[2]))
    figures: dict[str, Any] = {"load_average": [round(x, 2) for x in os.getloadavg()]}
    figures["idle_cpu_share_of_a_core"] = round(await idle_cost(broker_pid, args.idle_s), 4)
    figures["passes"] = [
        await one_pass(bootstrap, topic, fetch_settings(text), broker_pid, args.pause_us_per_record)
        for text in args.fetch
    ]
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reuse-topic", type=Path, required=True, help="a topic kept by scoring_bench --keep-topic")
    parser.add_argument("--fetch", action="append", default=[], help="consumer settings of one pass (name=value,…)")
    parser.add_argument("--idle-s", type=float, default=20.0)
    parser.add_argument("--pause-us-per-record", type=float, default=0.0, help="simulated apply time per record")
    asyncio.run(main(parser.parse_args()))
