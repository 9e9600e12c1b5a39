"""Ingest throughput benchmark: concurrent clients posting 500-event batches to an ingest service.

    DATABASE_URL=... KAFKA_BOOTSTRAP_SERVERS=... python bench/ingest_bench.py [--events 300000] [--clients 8]
        [--before /path/to/other/checkout] [--processes N [--as-stack]]

Runs on the real broker and PostgreSQL, in a throw-away database and on throw-away topics (12 partitions, like
`dossier-events`), all removed afterwards. Reports events/s through HTTP, p50/p99 request latency, CPU per event of
the ingest service (its process and any children), of the broker (the process listening on its port) and of this
load generator (pre-encoded bodies; reported apart so the ingest figure is honest), the ingest process's peak RSS
(VmHWM), and whether each topic holds exactly the acknowledged events. `--before` runs a second checkout's ingest
beside this one's with the rounds alternating between them (a before/after pair measured in one run). Unless
`--skip-raw`, also the raw aiokafka produce rate with the same encoded records (acks=all, idempotent): per-record
`send()` + gather, and ingest's producer adapter (`send_batch()` per partition). `--profile FILE` runs ingest
under pyinstrument (FILE.after, FILE.before).

`--processes N` alone starts N separate ingest processes on N ports and spreads the clients over them; with
`--as-stack` the ingest runs as the local stack and compose run it: ONE `python -m services.ingest` with
INGEST_PROCESSES=N (the launcher and its N processes on one port, SO_REUSEPORT), every client on that port. A
checkout without the launcher (e.g. main before it) ignores the setting and runs one process — what it shipped.
CPU per event and peak RSS then cover the launcher and all its processes; `requests_per_process` shows how the
kernel spread the connections.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import secrets
import statistics
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

import asyncpg  # noqa: E402
import httpx  # noqa: E402
import orjson  # noqa: E402
import psutil  # noqa: E402

from bench.ingest_load import (  # noqa: E402
    VN,
    broker_process,
    create_topic,
    generate_events,
    peak_rss_mib,
    percentile,
    process_tree_cpu,
    raw_batch_rate,
    raw_send_rate,
    topic_size,
    tree_pids,
)
from shared import kafka  # noqa: E402
from shared.contract import EventRejection  # noqa: E402
from shared.contract_codec import encode_checked, stamp_text, validate_item  # noqa: E402
from shared.db import apply_migrations  # noqa: E402


async def post(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes) -> tuple[int, bytes, bytes]:
    """One HTTP/1.1 request on a kept-alive connection; (status, body, X-Ingest-Process or b""). The answers are
    small JSON with a Content-Length (uvicorn's), so a status line, headers and a sized body is all there is to
    read."""
    writer.write(request)
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length, process = 0, b""
    for line in head.split(b"\r\n"):
        name = line[:17].lower()
        if name.startswith(b"content-length:"):
            length = int(line[15:])
        elif name == b"x-ingest-process:":
            process = line[17:].strip()
    return status, await reader.readexactly(length), process


async def run_http(
    ports: list[int], key: str, bodies: list[bytes], clients: int, served: Counter[bytes] | None = None
) -> tuple[float, list[float], int]:
    """Post every body once with `clients` concurrent keep-alive connections; (seconds, latencies, accepted);
    `served` counts the requests per answering process (X-Ingest-Process).

    A bare asyncio HTTP/1.1 client with each request's bytes built before the clock starts: httpx cost ~10 µs of
    the load generator's CPU per event (5 ms a request) on this machine, a third of what ingest itself spends.
    With several ingest processes (`ports`), the clients are spread over them in turn."""
    head = (f"POST /v1/events HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {key}\r\n"
            "Content-Type: application/json\r\nContent-Length: ")  # fmt: skip
    queue: asyncio.Queue[bytes] = asyncio.Queue()
    for body in bodies:
        queue.put_nowait(f"{head}{len(body)}\r\n\r\n".encode() + body)
    latencies: list[float] = []
    accepted = 0

    async def client_loop(port: int) -> None:
        nonlocal accepted
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            while not queue.empty():
                request = queue.get_nowait()
                started = time.perf_counter()
                status, answer, process = await post(reader, writer, request)
                latencies.append(time.perf_counter() - started)
                if served is not None:
                    served[process] += 1
                result = orjson.loads(answer)
                if status != 200 or result["rejected"]:
                    raise RuntimeError(f"unexpected answer {status}: {answer[:300]!r}")
                accepted += result["accepted"]
        finally:
            writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(client_loop(ports[number % len(ports)]) for number in range(clients)))
    return time.perf_counter() - started, latencies, accepted


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


@dataclass
class Checkout:
    """One ingest process under test: "after" is this checkout, "before" the one given with --before."""

    name: str
    root: Path
    ports: list[int]  # one ingest process on each (`--processes`), or one launcher (`--as-stack`); one topic
    topic: str
    processes: list[asyncio.subprocess.Process] = field(default_factory=list)
    served: Counter[bytes] = field(default_factory=Counter)
    peak_rss: dict[int, float] = field(default_factory=dict)
    warmup_accepted: int = 0
    rounds: list[dict[str, float]] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)
    accepted: int = 0


async def start_ingest(checkout: Checkout, env: dict[str, str], profile: str | None, as_stack: int) -> None:
    """One ingest process per port; `as_stack` > 0: one `python -m services.ingest` with INGEST_PROCESSES set."""
    if as_stack:
        env = {**env, "INGEST_PROCESSES": str(as_stack)}
    command = [sys.executable, "-m", "services.ingest"]
    if profile:
        command = [sys.executable, "-m", "pyinstrument", "-r", "text", "-o", f"{profile}.{checkout.name}",
                   "-m", "services.ingest"]  # fmt: skip
    for port in checkout.ports:
        port_env = {**env, "EVENTS_TOPIC": checkout.topic, "INGEST_PORT": str(port)}
        # Run from the checkout's own directory: `-m` puts it first on sys.path, so its code is the one imported.
        process = await asyncio.create_subprocess_exec(*command, cwd=checkout.root, env=port_env)
        checkout.processes.append(process)
        await wait_ready(f"http://127.0.0.1:{port}", process)


async def measure_round(checkout: Checkout, key: str, chunk: list[bytes], args: argparse.Namespace,
                        broker: psutil.Process | None) -> None:  # fmt: skip
    ingest, me = [psutil.Process(process.pid) for process in checkout.processes], psutil.Process()
    cpu_before, me_before = sum(map(process_tree_cpu, ingest)), sum(me.cpu_times()[:2])
    broker_before = sum(broker.cpu_times()[:2]) if broker else 0.0
    elapsed, latencies, accepted = await run_http(checkout.ports, key, chunk, args.clients, checkout.served)
    for process in checkout.processes:  # VmHWM of every process of the tree, read while they all still run
        for pid in tree_pids(process.pid):
            with contextlib.suppress(OSError):
                checkout.peak_rss[pid] = peak_rss_mib(pid)
    checkout.rounds.append(
        {
            "http": accepted / elapsed,
            "ingest_us": (sum(map(process_tree_cpu, ingest)) - cpu_before) / accepted * 1e6,
            "loadgen_us": (sum(me.cpu_times()[:2]) - me_before) / accepted * 1e6,
            "broker_us": (sum(broker.cpu_times()[:2]) - broker_before) / accepted * 1e6 if broker else float("nan"),
        }
    )
    checkout.latencies += latencies
    checkout.accepted += accepted


def summary(checkout: Checkout, stored: int) -> dict[str, Any]:
    def median(name: str) -> float:
        return round(statistics.median(r[name] for r in checkout.rounds), 1)

    return {
        "checkout": str(checkout.root),
        # Counted from X-Ingest-Process; a checkout without that header counts its started processes.
        "ingest_processes": len(checkout.processes) if b"" in checkout.served else len(checkout.served),
        "requests_per_process": sorted(checkout.served.values(), reverse=True),
        "events": checkout.accepted,
        "events_per_s_median": round(median("http")),
        "events_per_s_rounds": [round(r["http"]) for r in checkout.rounds],
        "ingest_cpu_us_per_event": median("ingest_us"),
        "ingest_cpu_us_per_event_rounds": [round(r["ingest_us"], 1) for r in checkout.rounds],
        "broker_cpu_us_per_event": median("broker_us"),
        "loadgen_cpu_us_per_event": median("loadgen_us"),
        "latency_p50_ms": round(percentile(checkout.latencies, 0.50) * 1000, 1),
        "latency_p99_ms": round(percentile(checkout.latencies, 0.99) * 1000, 1),
        "ingest_peak_rss_mib": round(max(checkout.peak_rss.values()), 1),
        "records_on_topic_after_warmup": stored - checkout.warmup_accepted,
        "topic_holds_exactly_the_acknowledged": stored == checkout.warmup_accepted + checkout.accepted,
    }


async def main(args: argparse.Namespace) -> dict[str, Any]:
    database_url = os.environ["DATABASE_URL"]
    bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092")
    tag = secrets.token_hex(4)
    db_name, raw_topic, batch_topic = f"bench_{tag}", f"bench-raw-{tag}", f"bench-batch-{tag}"
    after_ports = [args.port + 2 * number for number in range(1 if args.as_stack else args.processes)]
    checkouts = [Checkout("after", REPO_ROOT, after_ports, f"bench-http-{tag}")]
    if args.before:
        before_ports = [port + 1 for port in after_ports]
        checkouts.append(Checkout("before", Path(args.before), before_ports, f"bench-before-{tag}"))
    base, _, _ = database_url.rpartition("/")
    admin_conn = await asyncpg.connect(f"{base}/postgres")
    await admin_conn.execute(f'CREATE DATABASE "{db_name}"')
    bench_db = f"{base}/{db_name}"
    await asyncio.to_thread(apply_migrations, bench_db)
    topics = [checkout.topic for checkout in checkouts] + [raw_topic, batch_topic]
    for topic in topics:
        await create_topic(bootstrap, topic, args.partitions)

    admin_token = secrets.token_urlsafe(32)
    env = {**os.environ, "DATABASE_URL": bench_db, "KAFKA_BOOTSTRAP_SERVERS": bootstrap, "ADMIN_TOKEN": admin_token,
           "LOG_LEVEL": "WARNING"}  # fmt: skip
    result: dict[str, Any] = {}
    try:
        for checkout in checkouts:
            await start_ingest(checkout, env, args.profile, args.processes if args.as_stack else 0)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{args.port}", timeout=60,
                                     headers={"Authorization": f"Bearer {admin_token}"}) as admin:  # fmt: skip
            units_csv = (REPO_ROOT / "data" / "hanoi_registry.csv").read_bytes()
            loaded = await admin.put("/v1/admin/units", content=units_csv, headers={"Content-Type": "text/csv"})
            loaded.raise_for_status()
            key = (await admin.post("/v1/admin/api-keys", json={"name": "bench", "units": ["H26"]})).json()["key"]
        # Units that exist today (an empty valid_to): the events are recent.
        unit_ids = [row[0] for line in units_csv.decode().splitlines()[1:] if line and not (row := line.split(","))[5]]
        events = generate_events(args.events + args.warmup, unit_ids)
        # Pre-encoded bodies: the load generator only posts bytes and reads the small answers.
        bodies = [orjson.dumps(events[i : i + args.batch]) for i in range(0, len(events), args.batch)]
        warmup_bodies = args.warmup // args.batch
        for checkout in checkouts:
            checkout.warmup_accepted = (await run_http(checkout.ports, key, bodies[:warmup_bodies], args.clients))[2]
        stamp = datetime.now(UTC)
        records = []
        for raw in events[args.warmup :]:
            event = validate_item(raw, now=stamp, unit_exists=lambda _: True)
            assert not isinstance(event, EventRejection), event
            records.append((event.dossier_id.encode(), encode_checked(event, stamp_text(stamp))))

        # Rounds alternate the checkouts (and the raw measurements), so other load on the machine hits all alike.
        broker = broker_process(bootstrap)
        per_round = len(bodies[warmup_bodies:]) // args.rounds
        raw_rounds: list[dict[str, float]] = []
        for number in range(args.rounds):
            chunk = bodies[warmup_bodies + number * per_round : warmup_bodies + (number + 1) * per_round]
            for checkout in checkouts if number % 2 == 0 else checkouts[::-1]:
                await measure_round(checkout, key, chunk, args, broker)
            if not args.skip_raw:
                raw_records = records[number * per_round * args.batch : (number + 1) * per_round * args.batch]
                raw_rounds.append(
                    {
                        "send": await raw_send_rate(bootstrap, raw_topic, raw_records, args.batch),
                        "send_batch": await raw_batch_rate(bootstrap, batch_topic, raw_records, args.batch),
                    }
                )
        result = {
            "date": datetime.now(VN).isoformat(timespec="seconds"),
            "cpus": os.cpu_count(),
            "load_average": os.getloadavg(),
            "rounds": args.rounds,
            "batch": args.batch,
            "clients": args.clients,
            "partitions": args.partitions,
            "avg_record_bytes": round(sum(len(v) for _, v in records) / len(records)),
            "broker_pid": broker.pid if broker else None,
        }
        for checkout in checkouts:
            stored = await topic_size(bootstrap, checkout.topic)
            result[checkout.name] = summary(checkout, stored)
            if not result[checkout.name]["topic_holds_exactly_the_acknowledged"]:
                raise RuntimeError(f"{checkout.name}: topic holds {stored} records, not what was acknowledged")
        if args.before:
            after, before = result["after"], result["before"]
            result["after_over_before"] = {
                "events_per_s": round(after["events_per_s_median"] / before["events_per_s_median"], 2),
                "ingest_cpu_per_event": round(after["ingest_cpu_us_per_event"] / before["ingest_cpu_us_per_event"], 2),
                "latency_p99": round(after["latency_p99_ms"] / before["latency_p99_ms"], 2),
            }
        if raw_rounds:
            result["raw_send_per_s_median"] = round(statistics.median(r["send"] for r in raw_rounds))
            result["raw_send_batch_per_s_median"] = round(statistics.median(r["send_batch"] for r in raw_rounds))
    finally:
        for process in [process for checkout in checkouts for process in checkout.processes]:
            with contextlib.suppress(ProcessLookupError):  # it may have died at start (port taken)
                process.send_signal(2)  # SIGINT: graceful (pyinstrument writes its report)
            try:
                await asyncio.wait_for(process.wait(), 30)
            except TimeoutError:
                process.kill()
        await kafka.delete_topics(bootstrap, topics)
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
    parser.add_argument("--port", type=int, default=18001, help="port of the benchmarked ingest process (+1: before)")
    parser.add_argument("--before", help="another checkout (e.g. a main worktree): its ingest runs beside this one's, "
                        "rounds alternate, and the output has both and their ratios")  # fmt: skip
    parser.add_argument("--processes", type=int, default=1, help="ingest processes per checkout, each with its own "
                        "producer, on ports PORT, PORT+2, … (before: +1); the clients spread over them")  # fmt: skip
    parser.add_argument("--as-stack", action="store_true", help="run ingest as the stack does: one service on "
                        "one port with INGEST_PROCESSES=--processes (the launcher), not separate ports")  # fmt: skip
    parser.add_argument("--skip-raw", action="store_true", help="skip the raw aiokafka send()/send_batch() rates")
    parser.add_argument("--profile", help="run ingest under pyinstrument, write its text report to FILE.after/.before")
    arguments = parser.parse_args()
    if arguments.as_stack and arguments.profile:
        parser.error("--profile runs one process under pyinstrument; it does not combine with --as-stack")
    if arguments.before:
        arguments.before = str(Path(arguments.before).resolve())
    outcome = asyncio.run(main(arguments))
    print(json.dumps(outcome, indent=2))
