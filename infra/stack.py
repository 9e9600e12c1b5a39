"""The local stack: PostgreSQL + Kafka + the three services, started in order, each waited for until ready.

    python -m infra up [--demo]     everything, in the foreground; Ctrl-C stops it all
    python -m infra backing         only PostgreSQL and Kafka (for running tests by hand)
    python -m infra test [ARGS]     backing services, migrations, pytest ARGS, teardown; exits with pytest's code
    python -m infra test --unit-alongside [ARGS]   the same, with tests/unit in a second pytest beside the rest
    python -m infra down            stop whatever a previous run recorded (also after a crash)

`DATABASE_URL` / `KAFKA_BOOTSTRAP_SERVERS` in the environment point the stack at existing servers: then that
server is not started locally.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

import httpx

from infra import kafka_local, paths, postgres_local
from infra.pytest_split import (
    LAST_FAILED,
    UNIT_TIER_CACHE,
    can_split,
    combined_exit_code,
    merge_last_failed,
    unit_cache_option,
)
from infra.supervisor import Supervisor, stop_recorded
from infra.wiring import new_stack_id, stack_wiring
from shared.db import apply_migrations


@dataclass(frozen=True)
class ServiceSpec:
    name: str
    module: str
    port_env: str
    default_port: int
    listens_on: str | None = None
    """The variable the service reads its port from, when it is not `port_env` (a second instance)."""
    extra_env: tuple[tuple[str, str], ...] = ()
    """Settings of this process alone (a scoring process's SCORING_ROLE)."""


# PROCESS_NICE 10: the applying processes yield the cores to the API process, whose readers must not wait behind a
# back-fill (docs/benchmarks.md: the API process otherwise got ~15 % of a core while two processes applied).
# BATCH_TIMEOUT_MS 20: when a fetch finds nothing, FastStream's batch subscriber sleeps this long before it asks
# again — with the default 200 ms, a live event arriving during that sleep waited for it (freshness, benchmarks.md).
APPLYING_ENV = (("SCORING_ROLE", "consumer"), ("INDICATORS_INTERVAL_S", "0.1"), ("PROCESS_NICE", "10"),
                ("BATCH_TIMEOUT_MS", "20"))  # fmt: skip
# Ingest: two processes on its one port (services/ingest/processes.py) — one is Python-bound at ~40 k events/s, two
# reach the 50 k of issue 14 on two cores (docs/benchmarks.md); more than the cores only adds switching. Their shared
# metrics directory is under var/run, emptied at each start.
INGEST_ENV = (("INGEST_PROCESSES", os.environ.get("INGEST_PROCESSES", "2")),
              ("PROMETHEUS_MULTIPROC_DIR", str(paths.RUN / "ingest-metrics")))  # fmt: skip
SERVICES = (
    ServiceSpec("ingest", "services.ingest", "INGEST_PORT", 8001, extra_env=INGEST_ENV),
    # The API and dashboard port is served by a process that never applies a batch: readers never wait behind one
    # (SCORING_ROLE, docs/architecture.md). It learns of committed batches through PostgreSQL NOTIFY and, doing
    # nothing else, recomputes a changed read table within 0.1 s (READ_REFRESH_S) rather than 1 s — under a
    # back-fill at most once per twice its duration (read_cache.LOAD_FACTOR) — and changes the readers' token at
    # most 10 times a second (READ_TOKEN_MIN_S: fewer requests routed while tables change continuously). Its event
    # loop waits at most 0.5 ms for the GIL while a worker thread refreshes a table (GIL_SWITCH_INTERVAL_S; CPython's
    # 5 ms made every system call of the loop wait that long during a back-fill, docs/benchmarks.md).
    ServiceSpec("scoring", "services.scoring", "SCORING_PORT", 8002,
                extra_env=(("SCORING_ROLE", "api"), ("READ_REFRESH_S", "0.1"), ("READ_TOKEN_MIN_S", "0.1"),
                           ("GIL_SWITCH_INTERVAL_S", "0.0005"))),
    # Two applying processes in the same consumer group (the 12 partitions are shared): one process is Python-bound
    # at ~17 k events/s on two cores, two reach 26–31 k (docs/benchmarks.md). They serve the same API (identical
    # bodies) for health, metrics and admin, but readers are sent to SCORING_PORT. They publish a changed unit's
    # figures within 0.1 s (INDICATORS_INTERVAL_S; 5 s by default), so /v1/stream follows the feed closely; under
    # load a publication waits twice the last one's duration (service/publisher.PUBLISH_LOAD_FACTOR).
    ServiceSpec("scoring-2", "services.scoring", "SCORING_2_PORT", 8012, listens_on="SCORING_PORT",
                extra_env=APPLYING_ENV),
    ServiceSpec("scoring-3", "services.scoring", "SCORING_3_PORT", 8022, listens_on="SCORING_PORT",
                extra_env=APPLYING_ENV),
    ServiceSpec("alerts", "services.alerts", "ALERTS_PORT", 8003),
)  # fmt: skip

PG_PORT = int(os.environ.get("TTHC_PG_PORT", "55432"))
KAFKA_PORTS = kafka_local.KafkaPorts(
    broker=int(os.environ.get("TTHC_KAFKA_PORT", "9092")),
    controller=int(os.environ.get("TTHC_KAFKA_CONTROLLER_PORT", "9093")),
)


def say(message: str) -> None:
    print(f"   stack | {message}", flush=True)


def admin_token() -> str:
    """The operator's token: from ADMIN_TOKEN, else generated once for this checkout and kept in var/run."""
    if token := os.environ.get("ADMIN_TOKEN"):
        return token
    paths.RUN.mkdir(parents=True, exist_ok=True)
    if paths.ADMIN_TOKEN_FILE.exists():
        return paths.ADMIN_TOKEN_FILE.read_text().strip()
    token = secrets.token_urlsafe(32)
    paths.ADMIN_TOKEN_FILE.write_text(token + "\n")
    paths.ADMIN_TOKEN_FILE.chmod(0o600)
    return token


async def start_backing(supervisor: Supervisor) -> dict[str, str]:
    """Start (or adopt) PostgreSQL and Kafka, migrate, and return the environment the services need."""
    paths.ensure_dirs()
    env: dict[str, str] = {}

    async def postgres() -> str:
        if database_url := os.environ.get("DATABASE_URL"):
            say("DATABASE_URL is set: using that PostgreSQL, none started locally")
            return database_url
        plan = await asyncio.to_thread(postgres_local.prepare, PG_PORT)
        await supervisor.start("postgres", plan.argv, user=plan.user, stop_signal=signal.SIGINT, stop_grace_s=30)
        await postgres_local.wait_ready(plan.admin_url)
        say(f"PostgreSQL ready at 127.0.0.1:{PG_PORT}")
        return plan.url

    async def kafka() -> str:
        if bootstrap := os.environ.get("KAFKA_BOOTSTRAP_SERVERS"):
            say("KAFKA_BOOTSTRAP_SERVERS is set: using that Kafka, none started locally")
        else:
            argv = await kafka_local.prepare(KAFKA_PORTS)
            await supervisor.start("kafka", argv, stop_grace_s=40, echo=False)
            say(f"Kafka starting (log: {paths.LOGS / 'kafka.log'})")
            await kafka_local.wait_ready(KAFKA_PORTS.bootstrap)
            bootstrap = KAFKA_PORTS.bootstrap
            say(f"Kafka ready at {bootstrap}")
        await kafka_local.ensure_topics(bootstrap)
        return bootstrap

    # Both at once: the broker's JVM start and PostgreSQL's initdb overlap (the caller stops both on a failure).
    env["DATABASE_URL"], env["KAFKA_BOOTSTRAP_SERVERS"] = await asyncio.gather(postgres(), kafka())

    applied = await asyncio.to_thread(apply_migrations, env["DATABASE_URL"])
    say(f"migrations: {len(applied)} applied" if applied else "migrations: up to date")
    return env


def service_env(base: dict[str, str], *, wired: bool = True) -> dict[str, str]:
    """The services' environment: backing servers, the admin token and (`wired`) every cross-service URL, the CORS
    origins and a fresh STACK_ID, derived from the ports this stack starts on (infra/wiring.py)."""
    env = {**os.environ, **base, "ADMIN_TOKEN": admin_token(), "PYTHONUNBUFFERED": "1"}
    env["PYTHONPATH"] = str(paths.REPO_ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    if wired:
        env.update(stack_wiring(env, new_stack_id(str(paths.VAR))))
    return env


def port_of(spec: ServiceSpec, env: Mapping[str, str] | None = None) -> int:
    return int((os.environ if env is None else env).get(spec.port_env, spec.default_port))


async def wait_http_ready(url: str, alive: Callable[[], bool], timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    async with httpx.AsyncClient(timeout=2.0) as client:
        while time.monotonic() < deadline:
            if not alive():
                raise RuntimeError(f"{url}: the process exited before it was ready")
            with contextlib.suppress(httpx.HTTPError):
                if (await client.get(url)).status_code == 200:
                    return
            await asyncio.sleep(0.2)
    raise TimeoutError(f"{url} not ready after {timeout_s:.0f}s")


# Started together, wave after wave: alerts checks its scoring's identity at start, so scoring answers first.
START_WAVES = (("ingest", "scoring", "scoring-2", "scoring-3"), ("alerts",))


async def start_services(supervisor: Supervisor, env: dict[str, str]) -> None:
    specs = {spec.name: spec for spec in SERVICES}
    assert sorted(specs) == sorted(name for wave in START_WAVES for name in wave)
    for wave in START_WAVES:
        await asyncio.gather(*(start_service(supervisor, env, specs[name]) for name in wave))


async def start_service(supervisor: Supervisor, env: dict[str, str], spec: ServiceSpec) -> None:
    child_env = {**env, **dict(spec.extra_env)}
    if spec.listens_on is not None:
        child_env[spec.listens_on] = str(port_of(spec, env))
    argv = [sys.executable, "-m", spec.module]
    child = await supervisor.start(spec.name, argv, env=child_env, cwd=paths.REPO_ROOT)
    assert child.process is not None
    process = child.process
    url = f"http://127.0.0.1:{port_of(spec, env)}"
    await wait_http_ready(f"{url}/readyz", alive=lambda p=process: p.returncode is None)
    say(f"{spec.name} ready on {url}")


async def run_until_signal(supervisor: Supervisor, work: Callable[[], Awaitable[None]] | None = None) -> int:
    """Block until Ctrl-C / SIGTERM or until a child dies; then stop everything."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    exit_code = 0
    try:
        if work is not None:
            await work()
        crashed = asyncio.create_task(supervisor.wait_any_exit())
        stopped = asyncio.create_task(stop.wait())
        done, _ = await asyncio.wait({crashed, stopped}, return_when=asyncio.FIRST_COMPLETED)
        if crashed in done:
            child = crashed.result()
            say(f"{child.name} exited unexpectedly (code {child.process.returncode if child.process else '?'})")
            exit_code = 1
        for task in (crashed, stopped):
            task.cancel()
    finally:
        say("stopping...")
        await supervisor.stop_all()
        say("stopped")
    return exit_code


async def cmd_up(demo: bool) -> int:
    recovered = stop_recorded()
    if recovered:
        say(f"stopped {recovered} process(es) left by an earlier run")
    supervisor = Supervisor()
    try:
        env = service_env(await start_backing(supervisor))
        await start_services(supervisor, env)
    except BaseException:
        await supervisor.stop_all()
        raise

    async def after_start() -> None:
        say(f"all services ready (stack {env['STACK_ID']})")
        for spec in SERVICES:
            say(f"  {spec.name:<9} http://127.0.0.1:{port_of(spec, env)}  (/healthz, /readyz, /docs)")
        say(f"  wiring: SCORING_URL={env['SCORING_URL']} ALERTS_PUBLIC_URL={env['ALERTS_PUBLIC_URL']} "
            f"CORS_ORIGINS={env['CORS_ORIGINS']}")  # fmt: skip
        say(f"  admin token: {env['ADMIN_TOKEN']}")
        if demo:
            from infra.demo import start_demo_feed

            await start_demo_feed(supervisor, env)
        say("Ctrl-C (or `make down` from another shell) stops everything")

    return await run_until_signal(supervisor, after_start)


async def cmd_backing() -> int:
    stop_recorded()
    supervisor = Supervisor()
    env = await start_backing(supervisor)
    for key, value in env.items():
        say(f"export {key}={value}")
    return await run_until_signal(supervisor)


async def cmd_test(pytest_args: list[str], *, unit_alongside: bool = False) -> int:
    stop_recorded()
    supervisor = Supervisor()
    started = time.monotonic()
    units: asyncio.subprocess.Process | None = None
    unit_alongside = unit_alongside and can_split(pytest_args)
    unit_log = paths.LOGS / "unit-tier.log"
    try:
        if unit_alongside:
            # The unit tier needs no server and is CPU-bound, while the other tiers mostly wait on servers: run it
            # beside them (from before the servers start) instead of before them — the whole suite in ~2 min less
            # wall time on 2 cores. Its report is printed whole once both have finished.
            paths.LOGS.mkdir(parents=True, exist_ok=True)
            (UNIT_TIER_CACHE / LAST_FAILED).unlink(missing_ok=True)  # only this run's failures are merged
            say(f"unit tier running alongside (log: {unit_log})")
            with unit_log.open("wb") as log:
                units = await asyncio.create_subprocess_exec(
                    sys.executable, "-m", "pytest", "tests/unit", *unit_cache_option(pytest_args), *pytest_args,
                    stdout=log, stderr=subprocess.STDOUT, cwd=paths.REPO_ROOT,
                )  # fmt: skip
            pytest_args = ["--ignore=tests/unit", *pytest_args]
        # pytest starts its own services (and stand-ins): it gets no stack wiring or STACK_ID to inherit.
        env = service_env(await start_backing(supervisor), wired=False)
        say(f"backing services ready in {time.monotonic() - started:.0f}s; running pytest")
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "pytest", *pytest_args, env=env, cwd=paths.REPO_ROOT
        )
        code = await proc.wait()
        if units is not None:
            unit_code = await units.wait()
            say(f"unit tier (ran alongside, exit code {unit_code}):")
            sys.stdout.write(unit_log.read_text(errors="replace"))
            sys.stdout.flush()
            merge_last_failed(UNIT_TIER_CACHE)
            say(f"exit codes: unit tier {unit_code}, other tiers {code}")
            code = combined_exit_code(code, unit_code)
            units = None
        return code
    finally:
        if units is not None and units.returncode is None:
            units.kill()
            await units.wait()
        await supervisor.stop_all()
        say("stack stopped")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    sub = parser.add_subparsers(dest="command", required=True)
    up = sub.add_parser("up", help="run the whole system in the foreground")
    up.add_argument("--demo", action="store_true", help="load the Hanoi registry and feed simulated traffic")
    sub.add_parser("backing", help="run only PostgreSQL and Kafka")
    test = sub.add_parser("test", help="run pytest against a fresh local stack")
    test.add_argument(
        "--unit-alongside",
        action="store_true",
        help="run tests/unit in a second pytest beside the other tiers (the whole suite only)",
    )
    test.add_argument("pytest_args", nargs=argparse.REMAINDER)
    sub.add_parser("down", help="stop what a previous run left running")
    sub.add_parser("migrate", help="apply migrations to DATABASE_URL")
    args = parser.parse_args(argv)

    if args.command == "down":
        count = stop_recorded()
        say(f"stopped {count} process(es)" if count else "nothing was running")
        return 0
    if args.command == "migrate":
        return subprocess.call([sys.executable, "-m", "shared.migrate"])
    if args.command == "up":
        return asyncio.run(cmd_up(args.demo))
    if args.command == "backing":
        return asyncio.run(cmd_backing())
    pytest_args = [a for a in args.pytest_args if a != "--"]
    return asyncio.run(cmd_test(pytest_args, unit_alongside=args.unit_alongside))
