"""Two local stacks side by side on one machine, every port of each moved, talk only to themselves (issue 12):
each service reports its own stack's identity, each alerts reached its own scoring (and would refuse the other's),
each dashboard points at its own alerts, and an event sent to stack A is counted by A's scoring and not by B's."""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import httpx

from infra import paths
from shared.identity import Identity, identity_problem
from tests.integration.conftest import free_port
from tests.integration.ingest.conftest import vn_time
from tests.integration.processes import REPO_ROOT
from tests.integration.scoring.harness import wait_for

PORTS = ("INGEST_PORT", "SCORING_PORT", "SCORING_2_PORT", "SCORING_3_PORT", "ALERTS_PORT")
UNITS = "unit_id,name,level,parent_id\nT2S,Thành phố thử,city,\n"


@dataclass
class Stack:
    name: str
    var: Path
    ports: dict[str, int]
    process: asyncio.subprocess.Process
    lines: list[str]

    def url(self, port: str) -> str:
        return f"http://127.0.0.1:{self.ports[port]}"

    def admin_token(self) -> str:
        return (self.var / "run" / "admin_token").read_text().strip()


async def _start(name: str, tmp_path: Path) -> Stack:
    ports = {key: free_port() for key in PORTS}
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"DATABASE_URL", "KAFKA_BOOTSTRAP_SERVERS", "ADMIN_TOKEN", "STACK_ID", "SCORING_URL",
                       "ALERTS_PUBLIC_URL", "DASHBOARD_PUBLIC_URL", "CORS_ORIGINS"}
    }  # fmt: skip
    env.update({key: str(port) for key, port in ports.items()})
    env.update(
        TTHC_VAR_DIR=str(tmp_path / name),
        TTHC_CACHE_DIR=str(paths.CACHE),
        TTHC_PG_PORT=str(free_port()),
        TTHC_KAFKA_PORT=str(free_port()),
        TTHC_KAFKA_CONTROLLER_PORT=str(free_port()),
    )
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "infra", "up", cwd=REPO_ROOT, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    return Stack(name, tmp_path / name, ports, process, [])


async def _read_until_ready(stack: Stack) -> None:
    assert stack.process.stdout is not None
    async for raw in stack.process.stdout:
        stack.lines.append(raw.decode(errors="replace").rstrip())
        if "all services ready" in stack.lines[-1]:
            return
    raise AssertionError(f"stack {stack.name} ended before ready:\n" + "\n".join(stack.lines[-40:]))


async def _drain(stream: asyncio.StreamReader) -> None:
    async for _ in stream:
        pass


async def _stop(stack: Stack) -> None:
    if stack.process.returncode is None:
        stack.process.terminate()  # the stack stops every process it started on SIGTERM
        try:
            await asyncio.wait_for(stack.process.wait(), 90)
        except TimeoutError:
            stack.process.kill()
            await stack.process.wait()


@contextlib.asynccontextmanager
async def two_stacks(tmp_path: Path) -> AsyncIterator[tuple[Stack, Stack]]:
    stacks = [await _start("a", tmp_path), await _start("b", tmp_path)]
    drains: list[asyncio.Task[None]] = []
    try:
        async with asyncio.timeout(150):
            await asyncio.gather(*(_read_until_ready(s) for s in stacks))
        drains = [asyncio.create_task(_drain(s.process.stdout)) for s in stacks if s.process.stdout is not None]
        yield stacks[0], stacks[1]
    finally:
        await asyncio.gather(*(_stop(s) for s in stacks))
        for task in drains:
            task.cancel()


async def test_two_stacks_with_every_port_moved_talk_only_to_themselves(tmp_path: Path) -> None:
    started = time.monotonic()
    async with two_stacks(tmp_path) as (a, b), httpx.AsyncClient(timeout=5) as client:
        ready_s = time.monotonic() - started
        ids: dict[str, str] = {}
        for stack in (a, b):
            answers = {port: (await client.get(f"{stack.url(port)}/healthz")).json() for port in PORTS}
            assert [answers[p]["service"] for p in PORTS] == ["ingest", "scoring", "scoring", "scoring", "alerts"]
            assert len({answer["stack_id"] for answer in answers.values()}) == 1, answers
            ids[stack.name] = answers["ALERTS_PORT"]["stack_id"]
        assert ids["a"] != ids["b"]

        for stack, other in ((a, b), (b, a)):
            # Alerts reached a scoring (no "scoring" outage) and did not refuse its identity: its own.
            async def alerts_ready(s: Stack = stack) -> httpx.Response:
                return await client.get(f"{s.url('ALERTS_PORT')}/readyz")

            body = (await wait_for(alerts_ready, lambda r: r.status_code == 200 and not r.json()["details"], 30)).json()
            assert body["checks"]["scoring_identity"] is True and body["stack_id"] == ids[stack.name]
            metrics = (await client.get(f"{stack.url('ALERTS_PORT')}/metrics")).text
            assert "tthc_alerts_scoring_identity_mismatch 0.0" in metrics
            assert "tthc_alerts_scoring_fetch_failures_total 0.0" in metrics
            # ...and the other stack's scoring is one it would refuse.
            theirs = (await client.get(f"{other.url('SCORING_PORT')}/healthz")).json()
            assert "not to this stack" in str(identity_problem(Identity("scoring", ids[stack.name]), theirs))
            # Every dashboard (the API process and the applying ones) sends the browser to this stack's alerts,
            # which lets them read.
            for port in ("SCORING_PORT", "SCORING_2_PORT", "SCORING_3_PORT"):
                config = (await client.get(f"{stack.url(port)}/dashboard/config.json")).json()
                assert config == {"alerts_url": stack.url("ALERTS_PORT")}
                cors = await client.get(f"{stack.url('ALERTS_PORT')}/healthz", headers={"Origin": stack.url(port)})
                assert cors.headers.get("access-control-allow-origin") == stack.url(port)

        # An event sent to A's ingest is counted by A's scoring, not by B's.
        admin = {"Authorization": f"Bearer {a.admin_token()}"}
        for stack in (a, b):
            headers = {"Authorization": f"Bearer {stack.admin_token()}", "Content-Type": "text/csv; charset=utf-8"}
            response = await client.put(f"{stack.url('INGEST_PORT')}/v1/admin/units", content=UNITS, headers=headers)
            assert response.status_code == 200, response.text
        key = await client.post(
            f"{a.url('INGEST_PORT')}/v1/admin/api-keys", json={"name": "two stacks", "units": ["T2S"]}, headers=admin
        )
        assert key.status_code in (200, 201), key.text
        event = {
            "event_id": "two-stacks-1", "dossier_id": "HS-two-stacks-1", "unit_id": "T2S", "type": "received",
            "occurred_at": vn_time(-timedelta(minutes=10)), "channel": "online", "due_at": vn_time(timedelta(days=7)),
        }  # fmt: skip
        sent = await client.post(
            f"{a.url('INGEST_PORT')}/v1/events", json=[event], headers={"Authorization": f"Bearer {key.json()['key']}"}
        )
        assert sent.status_code in (200, 202), sent.text

        def events(stack: Stack) -> object:
            return client.get(f"{stack.url('SCORING_PORT')}/v1/summary")

        await wait_for(lambda: events(a), lambda r: r.json().get("counters", {}).get("events", 0) == 1, 30)
        assert (await events(b)).json().get("counters", {}).get("events", 0) == 0
    print(f"\ntwo stacks: both ready in {ready_s:.0f} s; whole test {time.monotonic() - started:.0f} s")
