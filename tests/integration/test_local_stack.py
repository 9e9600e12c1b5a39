"""`python -m infra up --demo` (what `make demo` runs) brings every service to ready, feeds the simulated Hanoi
stream through the real interfaces until the scoring API shows it, and `python -m infra down` leaves none of its
processes behind. A nested stack on other ports, with its own data directory, so it cannot disturb the
servers this test run itself uses."""

from __future__ import annotations

import asyncio
import json
import os
import re
import sys
from pathlib import Path

import httpx
import psutil

from infra import paths
from tests.integration.conftest import free_port
from tests.integration.processes import REPO_ROOT
from tests.integration.scoring.harness import wait_for


async def test_demo_reaches_ready_feeds_the_stream_and_down_leaves_nothing(tmp_path: Path) -> None:
    ports = {
        name: str(free_port())
        for name in ("INGEST_PORT", "SCORING_PORT", "SCORING_2_PORT", "SCORING_3_PORT", "ALERTS_PORT")
    }
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"DATABASE_URL", "KAFKA_BOOTSTRAP_SERVERS", "ADMIN_TOKEN"}
    }
    env.update(ports)
    env.update(
        TTHC_VAR_DIR=str(tmp_path / "var"),
        TTHC_CACHE_DIR=str(paths.CACHE),
        TTHC_PG_PORT=str(free_port()),
        TTHC_KAFKA_PORT=str(free_port()),
        TTHC_KAFKA_CONTROLLER_PORT=str(free_port()),
        # A small demo: the history from the first day of last month at 0.5 % of Hanoi, then the live feed after a
        # warm-up of about an hour (its dossiers in progress sent first).
        TTHC_DEMO_BACKFILL_MONTHS="1",
        TTHC_DEMO_SCALE="0.005",
        TTHC_DEMO_WARMUP_DAYS="0.04",
    )
    up = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "infra", "up", "--demo", cwd=REPO_ROOT, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    assert up.stdout is not None
    lines: list[str] = []
    try:
        async with asyncio.timeout(180):
            async for raw in up.stdout:
                lines.append(raw.decode(errors="replace").rstrip())
                if "live traffic:" in lines[-1]:
                    break
        assert any("all services ready" in line for line in lines), "\n".join(lines[-40:])
        assert any("demo API key" in line for line in lines), "\n".join(lines[-40:])
        drain = asyncio.create_task(_drain(up.stdout))  # keep reading so the stack never blocks on a full pipe
        async with httpx.AsyncClient(timeout=5) as client:
            for port in ports.values():
                assert (await client.get(f"http://127.0.0.1:{port}/healthz")).json()["status"] == "ok"
            # The back-filled history reaches the scoring API through Kafka.
            summary_url = f"http://127.0.0.1:{ports['SCORING_PORT']}/v1/summary"
            await wait_for(
                lambda: client.get(summary_url), lambda r: r.json().get("counters", {}).get("events", 0) > 0, 90
            )
        # The live feed, through ingest: its warm-up's dossiers in progress first, every event accepted.
        feed_log = tmp_path / "var" / "log" / "feed.log"
        progress = re.compile(r"events sent in .*; (\d+) accepted, (\d+) rejected\)")

        async def feed_progress() -> list[tuple[int, int]]:
            text = feed_log.read_text(errors="replace") if feed_log.exists() else ""
            return [(int(a), int(r)) for a, r in progress.findall(text)]

        seen = await wait_for(feed_progress, lambda lines: any(accepted > 0 for accepted, _ in lines), 90)
        assert all(rejected == 0 for _, rejected in seen), seen
        record = json.loads((tmp_path / "var" / "run" / "stack.json").read_text())
        started = {"postgres", "kafka", "ingest", "scoring", "scoring-2", "scoring-3", "alerts", "feed", "supervisor"}
        assert started <= set(record)
        pids = [int(entry["pid"]) for entry in record.values()]
        pids += await _ingest_survives_a_killed_process(int(record["ingest"]["pid"]), ports["INGEST_PORT"])

        down = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "infra", "down", cwd=REPO_ROOT, env=env,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        )  # fmt: skip
        output, _ = await asyncio.wait_for(down.communicate(), 120)
        assert down.returncode == 0, output.decode()
        assert await asyncio.wait_for(up.wait(), 60) == 0
        drain.cancel()
        alive = [pid for pid in pids if psutil.pid_exists(pid) and psutil.Process(pid).status() != "zombie"]
        assert alive == [], f"still running: {alive}"
        assert not (tmp_path / "var" / "run" / "stack.json").exists()
        # Nothing of ours is left listening on the nested stack's ports either.
        listening = {c.laddr.port for c in psutil.net_connections("tcp") if c.status == psutil.CONN_LISTEN}
        assert not {int(p) for p in (env["TTHC_PG_PORT"], env["TTHC_KAFKA_PORT"], *ports.values())} & listening
    finally:
        if up.returncode is None:
            # Failed before its own `down` (a timeout under load): stop the stack as an operator would. Killing `up`
            # alone left its five services running with no parent (seen after a CI run at load 25).
            await _down(env)
            if up.returncode is None:
                up.kill()
            await up.wait()


async def _ingest_survives_a_killed_process(launcher_pid: int, port: str) -> list[int]:
    """The stack runs two ingest processes on INGEST_PORT; one SIGKILLed is replaced and readiness returns. Returns
    every ingest process seen, for the check that `down` leaves none."""
    launcher = psutil.Process(launcher_pid)

    def workers() -> set[int]:
        return {child.pid for child in launcher.children() if child.status() != psutil.STATUS_ZOMBIE}

    first = workers()
    assert len(first) == 2, first
    victim = min(first)
    psutil.Process(victim).kill()
    async with httpx.AsyncClient(timeout=5) as client:

        async def replaced_and_ready() -> httpx.Response:
            return await client.get(f"http://127.0.0.1:{port}/readyz")

        await wait_for(replaced_and_ready, lambda r: r.status_code == 200 and len(workers() - {victim}) == 2, 60)
    return sorted(first | workers())


async def _down(env: dict[str, str]) -> None:
    down = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "infra", "down", cwd=REPO_ROOT, env=env,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    try:
        await asyncio.wait_for(down.wait(), 120)
    except TimeoutError:
        down.kill()


async def _drain(stream: asyncio.StreamReader) -> None:
    async for _ in stream:
        pass
