"""The public read path on the WHOLE local stack with the live feed running (issue 15), as `make demo` runs it:
`python -m infra up --demo` (ingest, the scoring API process, two applying scoring processes, alerts, the simulator
sending live traffic through ingest), then

1. closed loop: `wrk -c N` for `--seconds` on each read endpoint of SCORING_PORT (`Accept-Encoding: gzip, br`),
   full 200 responses, and for the cached ones again with `If-None-Match` (304s, reported apart);
2. back-fill: `--backfill` events (received + resolved in closed months of the current communes) produced straight
   to `dossier-events`, applied by the two applying processes undisturbed; then as many again while an open loop
   offers `--rate` requests/s over the read endpoints — the readers' latency and scoring's rate side by side;
3. freshness: `--fresh` events sent one at a time through ingest's `POST /v1/events`; for each, the time from
   ingest's 202 to the unit's indicators showing it in the API (ETag and body changed) and on `/v1/stream`.

    INGEST_PORT=... SCORING_PORT=... SCORING_2_PORT=... SCORING_3_PORT=... ALERTS_PORT=... TTHC_PG_PORT=...
    TTHC_KAFKA_PORT=... TTHC_KAFKA_CONTROLLER_PORT=... .venv/bin/python bench/read_stack.py [--seconds 10]
        [--connections 8] [--rate 500] [--backfill 200000] [--fresh 100] [--ab] [--var var/bench-stack]

`--ab` also runs two extra API processes on the same stack — asyncio + h11 (the server before issue 15) and uvloop
+ httptools (after) — and measures both back to back (A B B A) with their CPU per request.

The stack keeps its data in `--var` (the demo's history is loaded once there; delete it to start over) and is
stopped at the end. Needs `wrk` (Debian package). The machine is shared: figures are one run's, as measured.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import shutil
import sys
import time
import uuid
from collections.abc import AsyncIterator
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

import httpx  # noqa: E402
import psutil  # noqa: E402

from bench.read_http import backfill_events, produce_all, wrk  # noqa: E402
from bench.read_latency import load_registry  # noqa: E402
from bench.read_probes import ACCEPT, StreamWatch, freshness, open_loop, quantiles  # noqa: E402
from services.scoring.domain.timebase import month_label, month_of, to_instant  # noqa: E402
from shared.kafka import DOSSIER_EVENTS  # noqa: E402

APPLYING = ("scoring-2", "scoring-3")
# An extra API process of the running stack, served as `services.scoring` serves it but with the server's loop and
# HTTP parser named: the A/B of uvloop + httptools against asyncio + h11 (shared/runtime.serve's fast_io).
VARIANT = """
import sys, uvicorn
from services.scoring.app import create_app
from services.scoring.settings import ScoringSettings
from shared.runtime import configure_logging
settings = ScoringSettings()
configure_logging(settings.log_level, "scoring")
uvicorn.run(create_app(settings), host="127.0.0.1", port=settings.scoring_port, log_level="warning",
            access_log=False, loop=sys.argv[1], http=sys.argv[2])
"""
SERVERS = {"asyncio + h11 (before)": ("asyncio", "h11"), "uvloop + httptools (after)": ("uvloop", "httptools")}


DEFAULT_PORTS = {"INGEST_PORT": 8001, "SCORING_PORT": 8002, "SCORING_2_PORT": 8012, "SCORING_3_PORT": 8022,
                 "TTHC_PG_PORT": 55432, "TTHC_KAFKA_PORT": 9092}  # fmt: skip
"""The local stack's defaults (infra/stack.py), for ports not moved in the environment."""


def port(name: str) -> int:
    return int(os.environ.get(name, DEFAULT_PORTS[name]))


def endpoints(city: str, commune: str, closed: str) -> dict[str, tuple[str, bool]]:
    """label → (path, served from a ready-made body: also measured with If-None-Match)."""
    return {
        "rankings commune (largest level)": ("/v1/rankings?level=commune", True),
        "rankings commune, closed month": (f"/v1/rankings?level=commune&period={closed}", True),
        "rankings commune q=phuong limit=50": ("/v1/rankings?level=commune&q=phuong&limit=50", True),
        "rankings department": ("/v1/rankings?level=department", True),
        "summary": ("/v1/summary", True),
        f"indicators {city}": (f"/v1/units/{city}/indicators", True),
        f"indicators {commune}": (f"/v1/units/{commune}/indicators", True),
        f"history {commune}": (f"/v1/units/{commune}/history", True),
        "units": ("/v1/units", True),
        "profile": ("/v1/profile", True),
        # Ready-made since issue 15's second pass (a page per live tick, a forecast per level and committed change).
        f"dossiers {commune}": (f"/v1/units/{commune}/dossiers?state=overdue", True),
        f"forecast {commune}": (f"/v1/units/{commune}/forecast", True),
    }


@contextlib.asynccontextmanager
async def demo_stack(var: Path) -> AsyncIterator[dict[str, str]]:
    """`python -m infra up --demo` in `var`, until the live feed runs; stopped (SIGTERM) at the end."""
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "KAFKA_BOOTSTRAP_SERVERS", "ADMIN_TOKEN"}}
    env.update(TTHC_VAR_DIR=str(var), TTHC_CACHE_DIR=str(REPO_ROOT / "var" / "cache"))
    log = (var.parent / f"{var.name}.log").open("w")
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "infra", "up", "--demo", cwd=REPO_ROOT, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    assert process.stdout is not None
    found: dict[str, str] = {}
    try:
        async with asyncio.timeout(900):
            async for raw in process.stdout:
                line = raw.decode(errors="replace").rstrip()
                log.write(line + "\n")
                if m := re.search(r"demo API key \(scope H26, the whole city\): (\S+)", line):
                    found["key"] = m.group(1)
                if "live traffic:" in line:
                    break
        pump = asyncio.create_task(_pump(process.stdout, log))
        found["bootstrap"] = f"127.0.0.1:{port('TTHC_KAFKA_PORT')}"
        yield found
    finally:
        if process.returncode is None:
            process.terminate()
            await asyncio.wait_for(process.wait(), 120)
        log.close()
    pump.cancel()


async def _pump(stream: asyncio.StreamReader, log) -> None:  # type: ignore[no-untyped-def]
    async for raw in stream:
        log.write(raw.decode(errors="replace"))


def stack_pids(var: Path) -> dict[str, int]:
    record = json.loads((var / "run" / "stack.json").read_text())
    return {name: int(entry["pid"]) for name, entry in record.items()}


def cpu_seconds(pid: int) -> float:
    times = psutil.Process(pid).cpu_times()
    return times.user + times.system


async def metric_sum(client: httpx.AsyncClient, ports: list[int], name: str) -> float:
    total = 0.0
    for p in ports:
        text = (await client.get(f"http://127.0.0.1:{p}/metrics")).text
        total += sum(float(v) for v in re.findall(rf"^{name}(?:{{[^}}]*}})? (\S+)$", text, re.M))
    return total


async def histogram(
    client: httpx.AsyncClient, base: str, name: str, label: str, values: tuple[str, ...], over: str
) -> dict[str, tuple[float, float, float]]:
    """A histogram of a process's /metrics per label value: (observations, sum, those above the `over` bucket)."""
    text = (await client.get(f"{base}/metrics")).text
    out: dict[str, tuple[float, float, float]] = {}
    for value in values:
        selector = f'{label}="{value}"'

        def sample(kind: str, extra: str = "", selector: str = selector) -> float:
            wanted = "".join(f"(?=[^}}]*{re.escape(part)})" for part in (selector, extra) if part)
            found = re.search(rf"^{name}_{kind}{{{wanted}[^}}]*}} (\S+)$", text, re.M)
            return float(found.group(1)) if found else 0.0

        count = sample("count")
        out[value] = (count, sample("sum"), count - sample("bucket", f'le="{over}"'))
    return out


async def gc_pauses(client: httpx.AsyncClient, base: str) -> dict[str, tuple[float, float, float]]:
    """The API process's garbage-collector pauses so far, by generation: (collections, seconds, those ≥ 10 ms)."""
    return await histogram(client, base, "tthc_scoring_gc_pause_seconds", "generation", ("0", "1", "2"), "0.01")


async def refreshes(client: httpx.AsyncClient, base: str) -> dict[str, tuple[float, float, float]]:
    """The API process's read tables: announced change → recomputed table served, by table (> 300 ms apart)."""
    return await histogram(client, base, "tthc_scoring_read_refresh_seconds", "table", ("month", "live", "level"),
                           "0.3")  # fmt: skip


async def loop_lag(client: httpx.AsyncClient, base: str) -> dict[str, float]:
    """The API process's event-loop lag probe so far (tthc_scoring_loop_lag_seconds): count, sum and the
    cumulative bucket counts by upper bound."""
    text = (await client.get(f"{base}/metrics")).text
    out = {
        le: float(v) for le, v in re.findall(r'^tthc_scoring_loop_lag_seconds_bucket{le="([^"]+)"} (\S+)$', text, re.M)
    }
    for kind in ("count", "sum"):
        found = re.search(rf"^tthc_scoring_loop_lag_seconds_{kind} (\S+)$", text, re.M)
        out[kind] = float(found.group(1)) if found else 0.0
    return out


def lag_line(before: dict[str, float], after: dict[str, float]) -> str:
    """Samples, mean lag, the share above 10 / 50 / 100 ms and the bucket the 99th percentile falls in."""
    count = after.get("count", 0.0) - before.get("count", 0.0)
    if count <= 0:
        return "no samples (a process without the probe)"
    mean = (after["sum"] - before.get("sum", 0.0)) / count * 1000
    over = {le: 1 - (after[le] - before.get(le, 0.0)) / count for le in ("0.01", "0.05", "0.1")}
    p99 = next((le for le in after if le not in ("count", "sum") and (after[le] - before.get(le, 0.0)) >= 0.99 * count),
               "+Inf")  # fmt: skip
    return (f"{count:.0f} samples, mean {mean:.1f} ms, > 10 ms {over['0.01']:.1%}, > 50 ms {over['0.05']:.1%}, "
            f"> 100 ms {over['0.1']:.1%}, p99 ≤ {p99} s")  # fmt: skip


def histogram_line(before: dict[str, tuple[float, float, float]], after: dict[str, tuple[float, float, float]],
            over: str = "10 ms", prefix: str = "gen") -> str:  # fmt: skip
    parts = []
    for key, (count, seconds, long) in after.items():
        c0, s0, l0 = before.get(key, (0.0, 0.0, 0.0))
        parts.append(f"{prefix}{key} {count - c0:.0f} × {1000 * (seconds - s0) / max(1, count - c0):.1f} ms "
                     f"({long - l0:.0f} > {over})")  # fmt: skip
    return ", ".join(parts)


async def caught_up(client: httpx.AsyncClient, applying: list[int], timeout_s: float = 900) -> None:
    """Until the applying processes' lag is (nearly) zero twice in a row: the demo history is applied."""
    calm = 0
    async with asyncio.timeout(timeout_s):
        while calm < 2:
            lag = await metric_sum(client, applying, "tthc_scoring_consumer_lag")
            started = await metric_sum(client, applying, "tthc_scoring_events_applied_total") > 0
            calm = calm + 1 if lag < 50 and started else 0
            await asyncio.sleep(2)


def produce_backfill(bootstrap: str, months: list[int], count: int, tag: str) -> None:
    """In a child process: the back-fill's events made and produced there, so that neither costs the open loop's
    event loop (which shares this process) any time. At nice 10, like the applying processes: the producer stands
    for the source of a back-fill (another machine's client, ingest's callers), not for the system under test, and
    at nice 0 its seconds of JSON-making at the start took the cores from the API process and the client alike."""
    os.nice(10)
    asyncio.run(produce_all(bootstrap, DOSSIER_EVENTS, backfill_events(load_registry(), months, count, tag)))


async def apply_run(client: httpx.AsyncClient, bootstrap: str, batch: tuple[list[int], int, str], applying: list[int],
                    pids: dict[str, int]) -> tuple[float, float, float]:  # fmt: skip
    """Produce `count` events (months, count, tag), wait until applied: events/s from the first applied, CPU
    µs/event of the applying processes, CPU s of the API process meanwhile."""
    count = batch[1]
    before = await metric_sum(client, applying, "tthc_scoring_events_applied_total")
    cpu0 = {n: cpu_seconds(pids[n]) for n in (*APPLYING, "scoring")}
    with ProcessPoolExecutor(1) as child:
        produced = asyncio.get_running_loop().run_in_executor(child, produce_backfill, bootstrap, *batch)
        first = None
        while (done := await metric_sum(client, applying, "tthc_scoring_events_applied_total") - before) < count:
            if first is None and done > 0:
                first = time.perf_counter()
            if produced.done() and produced.exception() is not None:
                await produced  # the producer failed: say why rather than wait for events that never come
            await asyncio.sleep(0.2)
        await produced
    elapsed = time.perf_counter() - (first or time.perf_counter() - 1)
    applying_cpu = sum(cpu_seconds(pids[n]) - cpu0[n] for n in APPLYING)
    return count / elapsed, applying_cpu / count * 1e6, cpu_seconds(pids["scoring"]) - cpu0["scoring"]


@contextlib.asynccontextmanager
async def variant(var: Path, loop: str, parser: str, listen: int) -> AsyncIterator[tuple[str, int]]:
    """An extra API process (SCORING_ROLE=api) on the stack's database and broker; (base URL, pid)."""
    env = {**os.environ, "SCORING_ROLE": "api", "READ_REFRESH_S": "0.1", "READ_TOKEN_MIN_S": "0.1",
           "SCORING_PORT": str(listen),
           "DATABASE_URL": f"postgresql://postgres@127.0.0.1:{port('TTHC_PG_PORT')}/tthc", "LOG_LEVEL": "WARNING",
           "KAFKA_BOOTSTRAP_SERVERS": f"127.0.0.1:{port('TTHC_KAFKA_PORT')}", "ALERTS_PUBLIC_URL": "http://127.0.0.1:9",
           "ADMIN_TOKEN": (var / "run" / "admin_token").read_text().strip(), "PYTHONPATH": str(REPO_ROOT)}  # fmt: skip
    process = await asyncio.create_subprocess_exec(sys.executable, "-c", VARIANT, loop, parser, env=env, cwd=REPO_ROOT)
    base = f"http://127.0.0.1:{listen}"
    try:
        async with httpx.AsyncClient(timeout=5) as client, asyncio.timeout(120):
            while True:
                with contextlib.suppress(httpx.HTTPError):
                    if (await client.get(f"{base}/v1/rankings?level=commune")).status_code == 200:
                        break
                await asyncio.sleep(0.5)
        yield base, process.pid
    finally:
        process.terminate()
        await process.wait()


async def server_ab(var: Path, paths: dict[str, tuple[str, bool]], seconds: int, connections: int) -> None:
    """Both server variants side by side on the running stack, in the order A B B A per endpoint."""
    print(f"\n## server A/B on the same stack: extra API processes, wrk -t1 -c{connections} -d{seconds}s, 200s")
    listen = iter(range(18614, 18620))
    async with contextlib.AsyncExitStack() as stack:
        bases = {name: await stack.enter_async_context(variant(var, loop, parser, next(listen)))
                 for name, (loop, parser) in SERVERS.items()}  # fmt: skip
        names = list(SERVERS)
        for label in list(paths)[:1] + [label for label in paths if label == "summary"]:
            path = paths[label][0]
            for name in (names[0], names[1], names[1], names[0]):
                base, pid = bases[name]
                cpu = cpu_seconds(pid)
                rps, p50, p99, _ = wrk(base + path, connections, seconds, {"Accept-Encoding": ACCEPT})
                per_request = (cpu_seconds(pid) - cpu) / (rps * seconds) * 1000
                print(f"  {label:<34} {name:<28} {rps:7.0f} req/s  p50 {p50:>8}  p99 {p99:>8}  "
                      f"CPU {per_request:.2f} ms/req")  # fmt: skip


async def main_async(args: argparse.Namespace) -> None:
    assert shutil.which("wrk"), "install wrk (apt-get install wrk)"
    registry = load_registry()
    today = datetime.now(UTC).date()
    communes = sorted(u.unit_id for u in registry if str(u.level) == "commune" and u.exists_on(today))
    city = registry.city.unit_id if registry.city else "H26"
    current = month_of(to_instant(datetime.now(UTC)))
    closed = [current - 4, current - 3, current - 2, current - 1, current]  # the last element is never chosen
    api, ingest = f"http://127.0.0.1:{port('SCORING_PORT')}", f"http://127.0.0.1:{port('INGEST_PORT')}"
    applying = [port("SCORING_2_PORT"), port("SCORING_3_PORT")]
    print(f"# {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, load average {os.getloadavg()}, {os.cpu_count()} CPUs")
    var: Path = args.var
    async with demo_stack(var) as stack, httpx.AsyncClient(timeout=30) as client:
        pids = stack_pids(var)
        await caught_up(client, applying)
        print(f"stack ready, history applied; load average {os.getloadavg()}")
        paths = endpoints(city, communes[0], month_label(current - 1))
        etags = {}
        for label, (path, _) in paths.items():
            r = await client.get(api + path, headers={"Accept-Encoding": ACCEPT})
            assert r.status_code == 200, (path, r.status_code, r.text[:200])
            etags[label] = r.headers.get("etag")
            print(f"  {label:<48} {len(r.content):>8} B, {r.num_bytes_downloaded:>7} B as sent")

        print(f"\n## closed loop, wrk -t1 -c{args.connections} -d{args.seconds}s, live feed running")
        collected = await gc_pauses(client, api)
        for label, (path, cached) in paths.items() if args.seconds > 0 else ():
            for conditional in (False, True) if cached else (False,):
                headers = {"Accept-Encoding": ACCEPT, **({"If-None-Match": etags[label]} if conditional else {})}
                cpu = cpu_seconds(pids["scoring"])
                rps, p50, p99, bad = wrk(api + path, args.connections, args.seconds, headers)
                # The API process's CPU per request: what the machine's load does not change (much).
                per_request = (cpu_seconds(pids["scoring"]) - cpu) / (rps * args.seconds) * 1000
                print(f"  {label:<48} {'304' if conditional else '200'} {rps:8.0f} req/s  p50 {p50:>8}  "
                      f"p99 {p99:>8}  API CPU {per_request:5.2f} ms/req  non-2xx/3xx {bad}")  # fmt: skip

        print(f"  API process's collector pauses meanwhile: {histogram_line(collected, await gc_pauses(client, api))}")

        if args.ab:
            await server_ab(var, paths, args.seconds, args.connections)

        if args.backfill:
            print(f"\n## back-fill of {args.backfill} events (received + resolved, closed months)")
            run = uuid.uuid4().hex[:6]  # new dossiers every run: replayed ids would be duplicates, not applied
            alone = await apply_run(client, stack["bootstrap"], (closed, args.backfill, f"A{run}"), applying, pids)
            print(f"  undisturbed: {alone[0]:7.0f} events/s, {alone[1]:.0f} µs CPU/event (applying processes), "
                  f"API process {alone[2]:.1f} CPU s meanwhile")  # fmt: skip
            stop = asyncio.Event()
            mix = [p for p, cached in paths.values() if cached]
            collected, lagged = await gc_pauses(client, api), await loop_lag(client, api)
            api_cpu = cpu_seconds(pids["scoring"])
            readers = asyncio.create_task(open_loop(api, mix, args.rate, stop, max_s=900))
            loaded = await apply_run(client, stack["bootstrap"], (closed, args.backfill, f"B{run}"), applying, pids)
            stop.set()
            paused = histogram_line(collected, await gc_pauses(client, api))
            print(f"  API process's collector pauses meanwhile: {paused}")
            print(f"  API process's event-loop lag meanwhile: {lag_line(lagged, await loop_lag(client, api))}")
            print(
                f"  under {args.rate:.0f} readers/s: {loaded[0]:7.0f} events/s, {loaded[1]:.0f} µs CPU/event, "
                f"API process {loaded[2]:.1f} CPU s meanwhile (ratio to undisturbed {loaded[0] / alone[0]:.2f})"
            )
            served = await readers
            print(f"  readers meanwhile (mix of the {len(mix)} cached endpoints): {served.line()}")
            # Over the whole open loop, its drain after the back-fill included: requests answered late are still
            # answered by this CPU (the back-fill's table refreshes are in it too).
            spent = cpu_seconds(pids["scoring"]) - api_cpu
            print(f"  API process: {spent:.1f} CPU s over the open loop, drain included: "
                  f"{spent / max(1, len(served.latencies_ms)) * 1000:.3f} ms CPU per request")  # fmt: skip

        if args.fresh:
            await caught_up(client, applying)
            database_url = f"postgresql://postgres@127.0.0.1:{port('TTHC_PG_PORT')}/tthc"
            refreshed = await refreshes(client, api)
            async with StreamWatch(api) as watch:
                fresh = await freshness(ingest, api, stack["key"], communes[1:41], args.fresh, watch, database_url)
            print(f"\n## freshness over {args.fresh} events sent through ingest, hop by hop (live feed running)")
            for name, (sample, missed) in fresh.hops().items():
                if len(sample) >= 2:
                    p50, p99, worst = quantiles(sample)
                    print(f"  {name:<36} p50 {p50:6.0f} ms  p99 {p99:6.0f} ms  max {worst:6.0f} ms  missed {missed}")
                else:
                    print(f"  {name:<36} too few seen ({missed} missed)")
            after = await refreshes(client, api)
            print(f"  API process: change announced -> table served: {histogram_line(refreshed, after, '300 ms', '')}")
        print(f"\n# end: load average {os.getloadavg()}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    for flag, kind, default, meaning in (
        ("--seconds", int, 10, "closed loop: seconds per endpoint (0: no closed loop)"),
        ("--connections", int, 8, "closed loop: concurrent clients (wrk -c)"),
        ("--rate", float, 500.0, "open loop during the back-fill: requests started per second"),
        ("--backfill", int, 200_000, "events per back-fill run (0: no back-fill runs)"),
        ("--fresh", int, 100, "freshness: events sent through ingest, one at a time (0: none)"),
    ):
        parser.add_argument(flag, type=kind, default=default, help=f"{meaning} (default {default})")
    parser.add_argument("--ab", action="store_true", help="also compare the API server's loop and HTTP parser")
    parser.add_argument("--var", type=lambda text: Path(text).resolve(), default=REPO_ROOT / "var" / "bench-stack",
                        help="the stack's data directory (the demo history is loaded once there)")  # fmt: skip
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
