"""Scoring throughput benchmark on the real broker and PostgreSQL (issue 4).

    DATABASE_URL=... KAFKA_BOOTSTRAP_SERVERS=... ADMIN_TOKEN=... \\
        .venv/bin/python bench/scoring_bench.py --events 1000000 [--scale 1.0] [--profile pyinstrument]

1. Creates a throw-away database (migrations + the Hanoi registry) and throw-away topics (12 partitions, like
   `dossier-events`).
2. Preloads `--events` simulated Hanoi events (simulator back-fill at `--scale`, 1.0 = the whole city) as a trusted
   producer: key = dossier_id, `ingested_at` = the simulated delivery time.
3. Runs `--processes` scoring processes (`python -m services.scoring`; default 2, as the local stack and compose
   deploy it) in one consumer group from the beginning of the topic and times them until the group has committed
   the end offsets; samples their RSS and CPU, and the CPU of PostgreSQL and Kafka, meanwhile.
4. Reads the same topic with a raw aiokafka consumer (getmany loop, no processing): the ceiling for one Python
   process on this machine.
5. Checks the result (the city's `events` counter equals the number of distinct event_ids, no dead letters),
   prints the figures (and writes them as JSON with `--json`), then drops the database and the topics.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

import asyncpg  # noqa: E402

from bench.scoring_measure import RawRun, ScoringRun, raw_consume, run_scoring  # noqa: E402
from bench.scoring_setup import Preload, bench_database, create_topics, preload, unique  # noqa: E402
from shared.kafka import delete_topics  # noqa: E402


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=1_000_000, help="events to preload (default 1,000,000)")
    parser.add_argument("--scale", type=float, default=1.0, help="simulator scale, 1.0 = all of Hanoi")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--partitions", type=int, default=12)
    parser.add_argument("--batch-max-records", type=int, default=None, help="override BATCH_MAX_RECORDS")
    parser.add_argument("--env", action="append", default=[], metavar="NAME=VALUE",
                        help="extra environment for the scoring process (e.g. INDICATORS_INTERVAL_S=60)")  # fmt: skip
    parser.add_argument("--profile", choices=["pyinstrument", "cprofile"], default=None)
    parser.add_argument("--profile-out", type=Path, default=REPO_ROOT / "var" / "scoring-profile")
    parser.add_argument("--skip-raw", action="store_true", help="do not measure the raw aiokafka rate")
    parser.add_argument(
        "--processes",
        type=int,
        default=2,
        help="scoring processes in the consumer group (12 partitions to share); 2 is how scoring is deployed",
    )
    parser.add_argument("--verbose", action="store_true", help="print the last lines the scoring process wrote")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures to this file")
    return parser


async def check_result(url: str, distinct: int) -> dict[str, int]:
    conn = await asyncpg.connect(url)
    try:
        city_events = await conn.fetchval(
            # Own counters (migration 0007): the city's figure is the sum over every unit.
            "SELECT coalesce(sum(value), 0)::bigint FROM unit_month_counters WHERE counter = 'events'"
        )
        dossiers = await conn.fetchval("SELECT count(*) FROM dossiers")
        dead = await conn.fetchval("SELECT count(*) FROM dlq_records")
        size = await conn.fetchval("SELECT pg_database_size(current_database())")
    finally:
        await conn.close()
    if city_events != distinct or dead:
        raise AssertionError(f"wrong result: city events {city_events} ≠ distinct {distinct}, dead letters {dead}")
    return {"city_events": city_events, "dossiers": dossiers, "dead_letters": dead, "database_bytes": size}


def report(args: argparse.Namespace, load: Preload, run: ScoringRun, raw: RawRun | None, check: dict) -> dict:
    figures = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "events": run.total,
        "distinct_events": load.distinct,
        "simulation": {
            "scale": load.scale,
            "days": load.days,
            "first_occurred": load.first_occurred,
            "last_occurred": load.last_occurred,
            "preload_s": round(load.seconds, 1),
        },
        "batch_max_records": args.batch_max_records,
        "extra_env": args.env,
        "scoring_events_per_s": round(run.events_per_s),
        "scoring_wall_events_per_s": round(run.wall_events_per_s),
        "startup_s": round(run.startup_s, 1),
        "consume_s": round(run.consume_s, 1),
        "per_million_events_per_s": run.per_million,
        "per_million_cpu_us_per_event_scoring_postgres": run.cpu_per_million,
        "peak_rss_mb": round(run.peak_rss_mb, 1),
        "max_sampled_rss_mb": round(run.max_sampled_rss_mb, 1),
        "scoring_cpu_s": round(run.process_cpu_s, 1),
        "scoring_cpu_s_all_processes": round(run.all_processes_cpu_s, 1),
        "peak_rss_mb_each_process": [round(mb, 1) for mb in run.peak_rss_mb_each],
        "postgres_cpu_s": round(run.postgres_cpu_s, 1),
        "kafka_cpu_s": round(run.kafka_cpu_s, 1),
        "machine_busy": round(run.machine_busy, 2),
        "raw_events_per_s": round(raw.rate) if raw else None,
        "ratio_to_raw": round(run.events_per_s / raw.rate, 3) if raw else None,
        "check": check,
    }
    print(json.dumps(figures, indent=2, ensure_ascii=False))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({**figures, "progress": run.progress.samples}, ensure_ascii=False))
    return figures


async def main(args: argparse.Namespace) -> int:
    bootstrap = os.environ["KAFKA_BOOTSTRAP_SERVERS"]
    database_url = os.environ["DATABASE_URL"]
    if len(os.environ.get("ADMIN_TOKEN", "")) < 24:
        raise SystemExit("set ADMIN_TOKEN (24+ random characters): the scoring service refuses to start without it")
    topics = await create_topics(bootstrap, args.partitions)
    try:
        async with bench_database(database_url) as url:
            print(f"database {url.rpartition('/')[2]}, topic {topics.events}; preloading {args.events:,} events")
            load = await preload(bootstrap, topics.events, args.events, args.scale, args.seed)
            print(f"preloaded {load.sent:,} events ({load.distinct:,} distinct) in {load.seconds:.0f} s")
            group = unique("bench-scoring")
            env = {
                "DATABASE_URL": url,
                "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
                "EVENTS_TOPIC": topics.events,
                "DLQ_TOPIC": topics.dlq,
                "INDICATORS_TOPIC": topics.indicators,
                "CONSUMER_GROUP": group,
                "SCORING_PORT": str(18_000 + os.getpid() % 1000),
                "LOG_LEVEL": "WARNING",
            }
            env.update(item.split("=", 1) for item in args.env)
            if args.batch_max_records:
                env["BATCH_MAX_RECORDS"] = str(args.batch_max_records)
            profile_out = None
            if args.profile:
                args.profile_out.parent.mkdir(parents=True, exist_ok=True)
                profile_out = args.profile_out.with_suffix(".txt" if args.profile == "pyinstrument" else ".prof")
            started = time.perf_counter()
            run = await run_scoring(
                env, bootstrap, topics.events, group, args.profile, profile_out, extra_processes=args.processes - 1
            )
            print(f"scoring done in {time.perf_counter() - started:.0f} s")
            if args.verbose:
                print("\n".join(run.output_tail))
            check = await check_result(url, load.distinct)
            raw = None if args.skip_raw else await raw_consume(bootstrap, topics.events, 5000)
            report(args, load, run, raw, check)
            if profile_out:
                print(f"profile written to {profile_out}")
    finally:
        await delete_topics(bootstrap, topics.all)
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main(build_parser().parse_args())))
