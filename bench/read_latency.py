"""Read latency of the scoring API on the own-counter layout (issue 10): indicators and rankings, 24 months.

    DATABASE_URL=... KAFKA_BOOTSTRAP_SERVERS=... ADMIN_TOKEN=... \\
        .venv/bin/python bench/read_latency.py [--months 24] [--requests 2000] [--open-dossiers 50000]

1. Creates a throw-away database with the Hanoi registry of both eras (data/hanoi_registry.csv) and writes own
   counters for every unit that exists in each of the last `--months` months (16 counters each, plausible values),
   plus `--open-dossiers` open dossiers spread over the units (the live counters read them).
2. Starts one scoring process on it (read tables as deployed: computed once per change, services/scoring/service/
   read_cache.py) and first asks every level's rankings of every month once: each of those requests computes its
   month's table (successors resolved, the tree summed, every unit scored and ranked) — the "first computation"
   figures, what a request pays after the process starts or a month's figures change without a warm table.
3. Then sends `--requests` sequential requests (one client, closed loop) of each kind — a random unit's indicators
   for a random month, a random level's rankings for a random month — and prints p50/p95/p99/max per kind.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

import asyncpg  # noqa: E402
import httpx  # noqa: E402

from bench.scoring_measure import _free_port  # noqa: E402
from bench.scoring_setup import create_topics, unique, with_database  # noqa: E402
from services.scoring.domain.effective import month_first_day, units_of_level_in_month  # noqa: E402
from services.scoring.domain.timebase import month_label, month_of, to_instant  # noqa: E402
from shared.db import apply_migrations  # noqa: E402
from shared.indicators import COUNTER_NAMES  # noqa: E402
from shared.kafka import delete_topics  # noqa: E402
from shared.unit_loading import build_registry, parse_units_csv  # noqa: E402
from shared.units import UnitRegistry  # noqa: E402

REGISTRY = REPO_ROOT / "data" / "hanoi_registry.csv"
LEVELS = ("department", "district", "commune")


def load_registry() -> UnitRegistry:
    built = build_registry(parse_units_csv(REGISTRY.read_bytes()).records)
    assert isinstance(built, UnitRegistry), built
    return built


def path_of(registry: UnitRegistry, unit_id: str) -> list[str]:
    return [*reversed(registry.ancestors(unit_id)), unit_id]


def own_counters(rng: random.Random, received: int) -> dict[str, int]:
    resolved = int(received * rng.uniform(0.8, 1.0))
    in_play = received + rng.randint(0, received // 3)
    return {
        "received": received, "received_online": int(received * rng.uniform(0.3, 0.8)),
        "received_digitized": int(received * rng.uniform(0.5, 1)), "received_reused": int(received * 0.2),
        "resolved": resolved, "resolved_with_due": resolved, "resolved_on_time": int(resolved * rng.uniform(0.9, 1)),
        "resolved_e_result": int(resolved * rng.uniform(0.5, 1)), "payments": received // 2,
        "payments_online": received // 4, "ratings": received // 5, "ratings_satisfied": received // 6,
        "events": received * 4, "events_timely": int(received * 4 * rng.uniform(0.8, 1)),
        "progress_total": in_play, "progress_on_time": int(in_play * rng.uniform(0.85, 1)),
    }  # fmt: skip


async def seed(url: str, registry: UnitRegistry, months: list[int], open_dossiers: int) -> int:
    rng = random.Random(7)
    conn = await asyncpg.connect(url)
    try:
        async with conn.transaction():
            await conn.executemany(
                "INSERT INTO units (unit_id, name, level, parent_id, path, valid_from, valid_to, successor_id) "
                "VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                [(u.unit_id, u.name, str(u.level), u.parent_id, path_of(registry, u.unit_id), u.valid_from,
                  u.valid_to, u.successor_id) for u in registry],
            )  # fmt: skip
        rows = []
        for month in months:
            label = month_label(month)
            for level in (*LEVELS, "city"):
                for unit_id in units_of_level_in_month(registry, level, month):
                    counters = own_counters(rng, rng.randint(20, 3000) if level != "city" else 50)
                    rows.extend((unit_id, label, name, counters.get(name, 0)) for name in COUNTER_NAMES)
        await conn.copy_records_to_table("unit_month_counters", records=rows,
                                         columns=["unit_id", "month", "counter", "value"])  # fmt: skip
        today = datetime.now(UTC)
        current = [u.unit_id for u in registry if u.exists_on(today.date()) and str(u.level) != "city"]
        dossiers = []
        for n in range(open_dossiers):
            received = today - timedelta(days=rng.uniform(1, 40))
            # Overdue, or due after this month: the synthetic counters hold no dossier that is late at the month's
            # end but on time now (the live correction would push a synthetic rate above 1).
            due = today - timedelta(days=rng.uniform(0.1, 20)) if n % 3 == 0 else today + timedelta(days=40)
            dossiers.append((f"B{n:07d}", "{}", rng.choice(current), received, due, month_label(months[-1])))
        await conn.copy_records_to_table("dossiers", records=dossiers,
                                         columns=["dossier_id", "state", "home_unit", "received_at", "due_at",
                                                  "evaluated_month"])  # fmt: skip
        await conn.execute("ANALYZE")
        return len(rows)
    finally:
        await conn.close()


def percentiles(samples: list[float]) -> str:
    ordered = sorted(samples)
    q = statistics.quantiles(ordered, n=100, method="inclusive")
    return f"p50 {q[49]:6.1f} ms  p95 {q[94]:6.1f}  p99 {q[98]:6.1f}  max {ordered[-1]:6.1f}  (n={len(ordered)})"


async def measure(base_url: str, registry: UnitRegistry, months: list[int], requests: int) -> dict[str, list[float]]:
    rng = random.Random(11)
    by_month = {m: [u.unit_id for u in registry if u.exists_during(month_first_day(m), month_first_day(m + 1))]
                for m in months}  # fmt: skip
    out: dict[str, list[float]] = {"first computation": [], "indicators": [], "rankings": []}
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as client:
        for month in reversed(months):
            for level in LEVELS:
                started = time.perf_counter()
                response = await client.get("/v1/rankings", params={"level": level, "period": month_label(month)})
                out["first computation"].append((time.perf_counter() - started) * 1000)
                assert response.status_code == 200, response.text
        for kind in ("indicators", "rankings"):
            for _ in range(requests):
                month = rng.choice(months)
                if kind == "indicators":
                    path, params = f"/v1/units/{rng.choice(by_month[month])}/indicators", {}
                else:
                    path, params = "/v1/rankings", {"level": rng.choice(LEVELS)}
                params["period"] = month_label(month)
                started = time.perf_counter()
                response = await client.get(path, params=params)
                out[kind].append((time.perf_counter() - started) * 1000)
                assert response.status_code == 200, response.text
    return out


async def run_service(url: str, bootstrap: str, ttl: str, registry: UnitRegistry, months: list[int],
                      requests: int) -> dict[str, list[float]]:  # fmt: skip
    topics = await create_topics(bootstrap, 1)
    port = _free_port()
    env = {**os.environ, "DATABASE_URL": url, "KAFKA_BOOTSTRAP_SERVERS": bootstrap, "SCORING_PORT": str(port),
           "EVENTS_TOPIC": topics.events, "DLQ_TOPIC": topics.dlq, "INDICATORS_TOPIC": topics.indicators,
           "CONSUMER_GROUP": unique("bench"), "READ_CACHE_TTL_S": ttl, "LOG_LEVEL": "WARNING"}  # fmt: skip
    process = await asyncio.create_subprocess_exec(sys.executable, "-m", "services.scoring", env=env, cwd=REPO_ROOT)
    try:
        async with httpx.AsyncClient(timeout=2) as client, asyncio.timeout(60):
            while True:
                try:
                    if (await client.get(f"http://127.0.0.1:{port}/readyz")).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                await asyncio.sleep(0.2)
        return await measure(f"http://127.0.0.1:{port}", registry, months, requests)
    finally:
        process.terminate()
        await process.wait()
        await delete_topics(bootstrap, topics.all)


async def main_async(args: argparse.Namespace) -> None:
    database_url, bootstrap = os.environ["DATABASE_URL"], os.environ["KAFKA_BOOTSTRAP_SERVERS"]
    registry = load_registry()
    current = month_of(to_instant(datetime.now(UTC)))
    months = list(range(current - args.months + 1, current + 1))
    name = unique("readbench")
    admin = await asyncpg.connect(with_database(database_url, "postgres"))
    await admin.execute(f'CREATE DATABASE "{name}"')
    url = with_database(database_url, name)
    try:
        await asyncio.to_thread(apply_migrations, url)
        rows = await seed(url, registry, months, args.open_dossiers)
        print(f"{len(registry)} units, {args.months} months ({month_label(months[0])}…{month_label(months[-1])}), "
              f"{rows} own counter rows, {args.open_dossiers} open dossiers")  # fmt: skip
        results = await run_service(url, bootstrap, "30", registry, months, args.requests)
        for kind, samples in results.items():
            print(f"{kind:<17} {percentiles(samples)}")
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--months", type=int, default=24)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--open-dossiers", type=int, default=50_000)
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
