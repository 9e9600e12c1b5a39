"""Scoring throughput benchmark on the real broker and PostgreSQL (issues 4 and 14).

    DATABASE_URL=... KAFKA_BOOTSTRAP_SERVERS=... ADMIN_TOKEN=... \\
        .venv/bin/python bench/scoring_bench.py --events 1000000 [--processes 1,2,4] [--before ../main-checkout]

1. Creates throw-away topics (12 partitions, like `dossier-events`) and preloads `--events` simulated Hanoi events
   (simulator back-fill at `--scale`, 1.0 = the whole city) as a trusted producer: key = dossier_id,
   `ingested_at` = the simulated delivery time. `--keep-topic FILE` keeps them for `--reuse-topic FILE`.
2. For every count of `--processes` (default 2, as the local stack and compose deploy scoring) and, with
   `--before CHECKOUT`, first for that checkout's code and then for this one's: a new database (the checkout's
   migrations + the Hanoi registry), that many scoring processes (`python -m services.scoring`) in a new consumer
   group from the beginning of the topic, timed until the group has committed the end offsets; the CPU of every
   scoring process, of PostgreSQL and of Kafka and the processes' peak RSS are sampled, and PostgreSQL's statement,
   table and WAL figures taken every `--pg-step` events (bench/scoring_pgstats.py).
3. Checks each run: the `events` counters sum to the number of distinct event_ids, no dead letters, and
   `python -m services.scoring recompute` of the same checkout reports 0 differing keys; digests of the counter
   table and of the dossiers must be equal across ALL runs (every process count, before and after).
4. Optionally reads the topic with a raw aiokafka consumer (getmany loop, no processing): the ceiling for one
   Python process on this machine. Prints the figures (`--json` writes them) and a summary; exit code 1 when a
   check failed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import sys
import time
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

import asyncpg  # noqa: E402

from bench.live_read import live_read, vacuumed_after  # noqa: E402
from bench.scoring_measure import ScoringRun, listening_pid, raw_consume, run_scoring  # noqa: E402
from bench.scoring_pgstats import PgStats  # noqa: E402
from bench.scoring_setup import BenchTopics, Preload, bench_database, create_topics, preload, unique  # noqa: E402
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
        "--warm-broker",
        action="store_true",
        help="read the topic once with a plain consumer before the first run: a freshly started broker spends "
        "seconds of CPU compiling its fetch path (the JIT), which would be billed to the first run's events",
    )
    parser.add_argument(
        "--processes",
        type=lambda text: [int(n) for n in text.split(",")],
        default=[2],
        help="scoring processes in the consumer group (12 partitions to share); 2 is how scoring is deployed. A "
        "list (1,2,4) runs each count on the same preloaded topic, each in a new database and consumer group, and "
        "checks that every count leaves exactly the same counters and dossiers",
    )
    parser.add_argument(
        "--before",
        type=Path,
        default=None,
        metavar="CHECKOUT",
        help="another checkout (e.g. a worktree of main): each run is made with its scoring service (and its "
        "migrations) first, then with this one's, back to back on the same topic",
    )
    parser.add_argument(
        "--after-first",
        action="store_true",
        help="with --before: run this checkout first, then the other (the second run of a pair finds the broker's "
        "group and produce paths compiled by the first: alternate the order to see that bias)",
    )
    parser.add_argument("--pg-step", type=int, default=1_000_000, help="events between two PostgreSQL snapshots")
    parser.add_argument("--skip-recompute", action="store_true", help="do not run `recompute` after each run")
    parser.add_argument(
        "--settle-s",
        type=float,
        default=0.0,
        help="after the end is committed, leave the processes running until the dossiers have been vacuumed after "
        "the back-fill (service/upkeep.py) or this many seconds; the CPU of that time is reported apart, and the "
        "live figures' read is measured after every run either way",
    )
    parser.add_argument(
        "--keep-topic",
        type=Path,
        default=None,
        metavar="FILE",
        help="keep the preloaded topic after the run and describe it in FILE (JSON); the simulator preloads only "
        "~3-20 k events/s on a shared machine, so big runs are made on one preload",
    )
    parser.add_argument(
        "--reuse-topic", type=Path, default=None, metavar="FILE", help="consume the topic FILE describes (no preload)"
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


async def digests(url: str) -> dict[str, Any]:
    """What the run left, reduced to digests: two runs over the same topic must leave identical tables."""
    conn = await asyncpg.connect(url)
    try:
        counters = await conn.fetchrow(
            "SELECT count(*), md5(coalesce(string_agg(concat_ws('|', unit_id, month, counter, value), ','"
            " ORDER BY unit_id, month, counter), '')) FROM unit_month_counters"
        )
        # Too many dossiers for one string: a sum of 64-bit hashes of every row's columns but updated_at (the small
        # columns too: an update may write the state alone when they are unchanged).
        dossiers = await conn.fetchval(
            "SELECT coalesce(sum(hashtextextended(concat_ws('|', dossier_id, state, evaluated_month, home_unit,"
            " procedure_id, received_at, due_at, ended_at, hold_since), 0)), 0)::text FROM dossiers"
        )
    finally:
        await conn.close()
    return {"counter_rows": counters[0], "counters_md5": counters[1], "dossiers_hash": dossiers}


async def recompute(url: str, code_root: Path) -> dict[str, Any]:
    """`python -m services.scoring recompute` of the checkout that ran: it must report 0 differing keys."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "services.scoring", "recompute", cwd=code_root,
        env={**os.environ, "DATABASE_URL": url}, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    started = time.perf_counter()
    output, _ = await process.communicate()
    lines = output.decode("utf-8", "replace").splitlines()
    differing = [int(m.group(1)) for line in lines if (m := re.search(r": (\d+) differing keys", line))]
    return {
        "exit_code": process.returncode,
        "differing_keys": sum(differing) if len(differing) == 2 else None,
        "seconds": round(time.perf_counter() - started, 1),
        "output": lines[:4],
    }


def report(args: argparse.Namespace, label: str, processes: int, load: Preload, run: ScoringRun, check: dict,
           pg: list[dict[str, Any]]) -> dict:  # fmt: skip
    steady = run.progress.cpu_per_event_between(run.progress.first_commit_count() or 1, run.total)
    figures = {
        "code": label,
        "processes": processes,
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "load_average": [round(x, 2) for x in os.getloadavg()],
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
        "cpu_us_per_event_whole_run": {
            "scoring_all_processes": round(run.all_processes_cpu_s / run.total * 1e6, 1),
            "postgres": round(run.postgres_cpu_s / run.total * 1e6, 1),
            "kafka": round(run.kafka_cpu_s / run.total * 1e6, 1),
            "sum": round((run.all_processes_cpu_s + run.postgres_cpu_s + run.kafka_cpu_s) / run.total * 1e6, 1),
        },
        "cpu_us_per_event_after_first_commit": (
            dict(zip(("scoring_all_processes", "postgres", "kafka"), (round(x, 1) for x in steady), strict=True))
            | {"sum": round(sum(steady), 1)}
            if steady
            else None
        ),
        "per_million_events_per_s": run.per_million,
        "per_million_cpu_us_per_event_scoring_postgres_kafka": run.cpu_per_million,
        "peak_rss_mb_each_process": [round(mb, 1) for mb in run.peak_rss_mb_each],
        "compiled_modules_loaded_each_process": run.compiled_each,
        "max_sampled_rss_mb": round(run.max_sampled_rss_mb, 1),
        "machine_busy": round(run.machine_busy, 2),
        "check": check,
        "postgres_per_million": pg,
    }
    print(json.dumps(figures, indent=2, ensure_ascii=False), flush=True)
    return figures


async def one_run(
    args: argparse.Namespace, load: Preload, topics: BenchTopics, processes: int, label: str, code_root: Path
) -> dict:
    """The whole topic consumed by `processes` scoring processes of `code_root` into a new database."""
    bootstrap, database_url = os.environ["KAFKA_BOOTSTRAP_SERVERS"], os.environ["DATABASE_URL"]
    async with bench_database(database_url, code_root) as url:
        print(f"{label}, {processes} process(es): database {url.rpartition('/')[2]}", flush=True)
        env = {
            "DATABASE_URL": url,
            "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
            "EVENTS_TOPIC": topics.events,
            "DLQ_TOPIC": topics.dlq,
            "INDICATORS_TOPIC": topics.indicators,
            "CONSUMER_GROUP": unique("bench-scoring"),
            "SCORING_PORT": str(18_000 + os.getpid() % 1000),
            "LOG_LEVEL": "WARNING",
        }
        env.update(item.split("=", 1) for item in args.env)
        if args.batch_max_records:
            env["BATCH_MAX_RECORDS"] = str(args.batch_max_records)
        profile_out = None
        if args.profile:
            args.profile_out.parent.mkdir(parents=True, exist_ok=True)
            suffix = ".txt" if args.profile == "pyinstrument" else ".prof"
            profile_out = args.profile_out.with_name(f"{args.profile_out.name}-{label}-{processes}{suffix}")
        stats = PgStats(url, args.pg_step, listening_pid(urlsplit(database_url).port or 5432))
        await stats.start()
        try:
            run = await run_scoring(
                env, bootstrap, topics.events, env["CONSUMER_GROUP"], args.profile, profile_out,
                extra_processes=processes - 1, code_root=code_root, on_progress=stats.on_progress,
                pg_port=urlsplit(database_url).port or 5432, kafka_port=int(bootstrap.split(",")[0].rpartition(":")[2]),
                settle=vacuumed_after(url), settle_s=args.settle_s,
            )  # fmt: skip
            await stats.finish(run.total)
        finally:
            await stats.close()
        if args.verbose:
            print("\n".join(run.output_tail))
        segments = stats.segments()
        for segment in segments:  # the CPU of each step beside PostgreSQL's figures for it
            low, high = segment["events"]
            cpu = run.progress.cpu_per_event_between(low, high)
            segment["cpu_us_per_event_scoring_postgres_kafka"] = [round(x, 1) for x in cpu] if cpu else None
        live = await live_read(url)
        check = await check_result(url, load.distinct) | await digests(url)
        if not args.skip_recompute:
            check["recompute"] = await recompute(url, code_root)
        if profile_out:
            print(f"profile written to {profile_out}")
        return report(args, label, processes, load, run, check, segments) | {"settle": run.settle, "live_read": live}


def summary(runs: list[dict]) -> list[str]:
    """One line per run, and the checks across runs: every run must leave the same tables, recompute 0."""
    lines = ["code   procs  events/s   µs/event: scoring  postgres  kafka  sum   peak RSS MB   recompute  compiled"]
    for r in runs:
        cpu = r["cpu_us_per_event_whole_run"]
        recomputed = r["check"].get("recompute", {}).get("differing_keys", "-")
        lines.append(
            f"{r['code']:<6} {r['processes']:>5}  {r['scoring_events_per_s']:>8,}   {cpu['scoring_all_processes']:>16}"
            f"  {cpu['postgres']:>8}  {cpu['kafka']:>5}  {cpu['sum']:>5}   {max(r['peak_rss_mb_each_process']):>11}"
            f"   {recomputed:>9}  {'yes' if (c := r['compiled_modules_loaded_each_process']) and all(c) else 'no'}"
        )
    lines += per_million_lines(runs)
    for r in runs:
        live, settle = r.get("live_read") or {}, r.get("settle")
        if live:
            lines.append(
                f"{r['code']} ×{r['processes']} live read after the run: {live['default']['ms_median']} ms "
                f"({live['default']['scan']}, heap fetches {live['default']['heap_fetches']}), without parallel "
                f"workers {live['no_parallel']['ms_median']} ms; settle {settle}"
            )
    keys = {(r["check"]["counters_md5"], r["check"]["dossiers_hash"]) for r in runs}
    lines.append(f"identical counters and dossiers in every run: {'yes' if len(keys) == 1 else 'NO'}")
    return lines


def per_million_lines(runs: list[dict]) -> list[str]:
    """µs of CPU per event of each million (scoring, PostgreSQL, Kafka), and the last million's sum over the
    first's — "cost of the 5th million ≤ 1.2 × the 1st" is read off here."""
    lines = []
    for r in runs:
        millions = r["per_million_cpu_us_per_event_scoring_postgres_kafka"]
        if len(millions) < 2:
            continue
        cells = "  ".join(f"{i + 1}: {'/'.join(str(x) for x in m)}" for i, m in enumerate(millions))
        first, last = sum(millions[0]), sum(millions[-1])
        growth = f"{last / first:.2f}" if first else "-"
        label = f"{r['code']} ×{r['processes']}"
        lines.append(f"{label} per million (scoring/postgres/kafka µs/event): {cells}; last/first {growth}")
    return lines


async def main(args: argparse.Namespace) -> int:
    bootstrap = os.environ["KAFKA_BOOTSTRAP_SERVERS"]
    if len(os.environ.get("ADMIN_TOKEN", "")) < 24:
        raise SystemExit("set ADMIN_TOKEN (24+ random characters): the scoring service refuses to start without it")
    codes = ([("before", args.before.resolve())] if args.before else []) + [
        ("after" if args.before else "this", REPO_ROOT)
    ]
    if args.after_first:
        codes.reverse()
    runs: list[dict] = []
    if args.reuse_topic:
        kept = json.loads(args.reuse_topic.read_text())
        topics, load = BenchTopics(*kept["topics"]), Preload(**kept["preload"])
        print(f"topic {topics.events}: {load.sent:,} events preloaded before", flush=True)
    else:
        topics = await create_topics(bootstrap, args.partitions)
    try:
        if not args.reuse_topic:
            print(f"topic {topics.events}; preloading {args.events:,} events", flush=True)
            load = await preload(bootstrap, topics.events, args.events, args.scale, args.seed)
            print(f"preloaded {load.sent:,} events ({load.distinct:,} distinct) in {load.seconds:.0f} s", flush=True)
            if args.keep_topic:
                kept = {"topics": [topics.events, topics.dlq, topics.indicators], "preload": asdict(load)}
                args.keep_topic.write_text(json.dumps(kept))
        if args.warm_broker:
            warm = await raw_consume(bootstrap, topics.events, 5000)
            print(f"broker warmed: the topic read once ({warm.rate:,.0f} events/s)", flush=True)
        for processes in args.processes:
            for label, root in codes:
                figures = await one_run(args, load, topics, processes, label, root)
                runs.append(figures)
                if args.json:
                    args.json.parent.mkdir(parents=True, exist_ok=True)
                    args.json.write_text(json.dumps(runs, ensure_ascii=False))
        raw = None if args.skip_raw else await raw_consume(bootstrap, topics.events, 5000)
        if raw:
            print(f"raw aiokafka consumer: {raw.rate:,.0f} events/s")
    finally:
        if not (args.keep_topic or args.reuse_topic):
            await delete_topics(bootstrap, topics.all)
    lines = summary(runs)
    print("\n".join(lines))
    failed = [r for r in runs if r["check"].get("recompute", {}).get("differing_keys", 0) != 0]
    return 1 if failed or lines[-1].endswith("NO") else 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main(build_parser().parse_args())))
