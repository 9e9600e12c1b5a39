"""The public read path under load (issue 15): closed loop (wrk, N connections), open loop at fixed rates (httpx),
and a reader storm while scoring applies a back-fill.

    DATABASE_URL=... KAFKA_BOOTSTRAP_SERVERS=... \\
        .venv/bin/python bench/read_http.py [--months 13] [--connections 8] [--seconds 10] [--rates 100,500]
                                            [--backfill 40000]

1. A throw-away database seeded as bench/read_latency.py does (Hanoi registry of both eras, own counters for every
   unit and month, `--open-dossiers` open dossiers), one scoring process on it (LOG_LEVEL=WARNING), tables warmed.
2. Closed loop: `wrk -c N` for `--seconds` on each read endpoint, with `Accept-Encoding: gzip, br`; full 200 responses
   (no validator), then the same with `If-None-Match` (304s, reported apart).
3. Open loop: requests of the commune rankings started at a fixed rate (latency counted from the planned start, so a
   server falling behind shows), each rate in `--rates` (bench/read_probes.py).
4. Back-fill: `--backfill` events (received + resolved, months before the current one) produced to the topic; the
   time scoring takes to apply them undisturbed, then again while the open loop runs at the last rate.
Needs `wrk` (Debian package). The machine is shared: read figures as what they are, one noisy run.
This runs ONE scoring process without the rest of the stack; bench/read_stack.py measures the whole stack with the
live feed (issue 15's done-when).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import re
import shutil
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

import asyncpg  # noqa: E402
import httpx  # noqa: E402
import orjson  # noqa: E402
from aiokafka import AIOKafkaProducer  # noqa: E402

from bench.read_latency import load_registry, seed  # noqa: E402
from bench.read_probes import ACCEPT  # noqa: E402
from bench.read_probes import open_loop as rate_loop  # noqa: E402
from bench.scoring_measure import _free_port  # noqa: E402
from bench.scoring_setup import create_topics, unique, with_database  # noqa: E402
from services.scoring.domain.timebase import month_label, month_of, to_instant  # noqa: E402
from shared.db import apply_migrations  # noqa: E402
from shared.kafka import delete_topics  # noqa: E402


def endpoints(city: str, district: str) -> dict[str, str]:
    return {
        "rankings commune": "/v1/rankings?level=commune",
        "rankings district": "/v1/rankings?level=district",
        "rankings commune, closed month": "/v1/rankings?level=commune&period={closed}",
        "rankings commune, q + limit": "/v1/rankings?level=commune&q=phuong&limit=50",
        "summary": "/v1/summary",
        f"indicators {city}": f"/v1/units/{city}/indicators",
        f"history {district}": f"/v1/units/{district}/history",
        "units": "/v1/units",
    }


def wrk(url: str, connections: int, seconds: int, headers: dict[str, str]) -> tuple[float, str, str, int]:
    """requests/s, p50, p99, non-2xx/3xx responses."""
    args = ["wrk", "-t", "1", "-c", str(connections), "-d", f"{seconds}s", "--latency"]
    for name, value in headers.items():
        args += ["-H", f"{name}: {value}"]
    out = subprocess.run([*args, url], capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p50 = re.search(r"(?m)^\s+50%\s+(\S+)", out).group(1)  # type: ignore[union-attr]
    p99 = re.search(r"(?m)^\s+99%\s+(\S+)", out).group(1)  # type: ignore[union-attr]
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return rps, p50, p99, int(bad.group(1)) if bad else 0


async def open_loop(base: str, path: str, rate: float, seconds: float, connections: int = 64) -> str:
    """Requests started at a fixed rate; latency from the planned start (a server falling behind shows)."""
    result = await rate_loop(base, [path], rate, asyncio.Event(), seconds, connections)
    return result.line()


def backfill_events(registry, months: list[int], count: int, tag: str) -> list[tuple[bytes, bytes]]:
    rng = random.Random(5)
    communes = [u.unit_id for u in registry if str(u.level) == "commune" and u.exists_on(datetime.now(UTC).date())]
    now = datetime.now(UTC)
    out = []
    for n in range(count // 2):
        month_start = datetime.fromisoformat(month_label(rng.choice(months[:-1])) + "-01T00:00:00+07:00")
        received = month_start + timedelta(days=rng.uniform(0, 25))
        key = f"{tag}-{n}"
        base = {"dossier_id": key, "unit_id": rng.choice(communes), "ingested_at": now.isoformat()}
        resolved = received + timedelta(days=rng.uniform(0.5, 4))
        first = {**base, "event_id": f"{key}a", "type": "received", "occurred_at": received.isoformat(),
                 "channel": "online", "due_at": (received + timedelta(days=3)).isoformat()}  # fmt: skip
        second = {**base, "event_id": f"{key}b", "type": "resolved", "outcome": "approved",
                  "occurred_at": resolved.isoformat()}  # fmt: skip
        out += [(key.encode(), orjson.dumps(first)), (key.encode(), orjson.dumps(second))]
    return out


async def applied(client: httpx.AsyncClient) -> float:
    text = (await client.get("/metrics")).text
    found = re.search(r"^tthc_scoring_events_applied_total (\S+)$", text, re.M)
    return float(found.group(1)) if found else 0.0


async def produce_all(bootstrap: str, topic: str, events: list[tuple[bytes, bytes]]) -> None:
    """(key, value) records to the topic as fast as the producer batches them."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=20, max_batch_size=1 << 20)
    await producer.start()
    try:
        for key, value in events:
            await producer.send(topic, value, key=key)
        await producer.flush()
    finally:
        await producer.stop()


async def backfill(base: str, bootstrap: str, topic: str, events: list[tuple[bytes, bytes]]) -> str:
    async with httpx.AsyncClient(base_url=base, timeout=30) as client:
        before = await applied(client)
        await produce_all(bootstrap, topic, events)
        start = time.perf_counter()
        first = None
        while (done := await applied(client) - before) < len(events):
            if first is None and done > 0:
                first = time.perf_counter()
            await asyncio.sleep(0.1)
        elapsed = time.perf_counter() - (first or start)
    return f"{len(events)} events applied in {elapsed:5.1f} s: {len(events) / elapsed:7.0f} events/s"


async def main_async(args: argparse.Namespace) -> None:
    assert shutil.which("wrk"), "install wrk (apt-get install wrk)"
    database_url, bootstrap = os.environ["DATABASE_URL"], os.environ["KAFKA_BOOTSTRAP_SERVERS"]
    registry = load_registry()
    current = month_of(to_instant(datetime.now(UTC)))
    months = list(range(current - args.months + 1, current + 1))
    name = unique("httpbench")
    admin = await asyncpg.connect(with_database(database_url, "postgres"))
    await admin.execute(f'CREATE DATABASE "{name}"')
    url = with_database(database_url, name)
    topics = await create_topics(bootstrap, 4)
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    env = {**os.environ, "DATABASE_URL": url, "KAFKA_BOOTSTRAP_SERVERS": bootstrap, "SCORING_PORT": str(port),
           "EVENTS_TOPIC": topics.events, "DLQ_TOPIC": topics.dlq, "INDICATORS_TOPIC": topics.indicators,
           "CONSUMER_GROUP": unique("bench"), "LOG_LEVEL": "WARNING",
           "ADMIN_TOKEN": os.environ.get("ADMIN_TOKEN", "bench-admin-token-not-secret")}  # fmt: skip
    process = None
    try:
        await asyncio.to_thread(apply_migrations, url)
        await seed(url, registry, months, args.open_dossiers)
        process = await asyncio.create_subprocess_exec(sys.executable, "-m", "services.scoring", env=env, cwd=REPO_ROOT)
        async with httpx.AsyncClient(base_url=base, timeout=30) as client, asyncio.timeout(120):
            while True:
                try:
                    if (await client.get("/readyz")).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                await asyncio.sleep(0.2)
            city = registry.city.unit_id if registry.city else "H26"
            today = datetime.now(UTC).date()
            district = next(u.unit_id for u in registry if str(u.level) != "city" and u.exists_on(today))
            paths = {k: v.format(closed=month_label(months[-2])) for k, v in endpoints(city, district).items()}
            etags = {}
            for label, path in paths.items():
                response = await client.get(path, headers={"Accept-Encoding": ACCEPT})
                assert response.status_code == 200, (path, response.text)
                etags[label] = response.headers["etag"]
                print(
                    f"{label:<34} {len(response.content):>8} B identity, {response.num_bytes_downloaded:>7} B {ACCEPT}"
                )
        print(f"\nclosed loop, wrk -c {args.connections} -d {args.seconds}s (Accept-Encoding: {ACCEPT})")
        for label, path in paths.items():
            for conditional in (False, True):
                headers = {"Accept-Encoding": ACCEPT}
                if conditional:
                    headers["If-None-Match"] = etags[label]
                rps, p50, p99, bad = wrk(base + path, args.connections, args.seconds, headers)
                kind = "304" if conditional else "200"
                print(f"  {label:<34} {kind}  {rps:8.0f} req/s  p50 {p50:>8}  p99 {p99:>8}  errors {bad}")
        print(f"\nopen loop, {paths['rankings commune']}, {args.seconds}s each")
        for rate in args.rates:
            print("  " + await open_loop(base, paths["rankings commune"], rate, args.seconds))
        if args.backfill:
            print("\nback-fill (received + resolved in closed months)")
            alone = await backfill(
                base, bootstrap, topics.events, backfill_events(registry, months, args.backfill, "A")
            )
            print(f"  undisturbed:                 {alone}")
            storm = asyncio.create_task(open_loop(base, paths["rankings commune"], args.rates[-1], args.seconds * 3))
            loaded = await backfill(
                base, bootstrap, topics.events, backfill_events(registry, months, args.backfill, "B")
            )
            print(f"  under {args.rates[-1]:.0f} readers/s:       {loaded}")
            print(f"  readers meanwhile:           {await storm}")
    finally:
        if process is not None and process.returncode is None:
            process.terminate()
            await process.wait()
        await delete_topics(bootstrap, topics.all)
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--months", type=int, default=13)
    parser.add_argument("--open-dossiers", type=int, default=50_000)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--rates", type=lambda s: [float(r) for r in s.split(",")], default=[100.0, 500.0])
    parser.add_argument("--backfill", type=int, default=40_000)
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
