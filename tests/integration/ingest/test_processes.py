"""INGEST_PROCESSES=2: two processes behind one port (SO_REUSEPORT) against the real broker and PostgreSQL — both
serve, `/metrics` from either adds up both, a killed process is replaced without losing an acknowledged event, and
SIGTERM stops them all with every acknowledged event on the topic."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import signal
import socket
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx
import orjson
import psutil

from tests.integration.conftest import unique
from tests.integration.ingest.conftest import (
    IngestUnderTest,
    eventually,
    read_topic,
    received_event,
    running_ingest,
)
from tests.integration.processes import service_process

BATCH = 20


def _fresh_connections(ingest: IngestUnderTest, token: str) -> httpx.AsyncClient:
    """A client that opens a new connection per request: the kernel picks a process for each (keep-alive would pin
    every request to the process that accepted the first)."""
    return httpx.AsyncClient(
        base_url=ingest.service.base_url,
        headers={"Authorization": f"Bearer {token}"},
        timeout=30.0,
        limits=httpx.Limits(max_keepalive_connections=0),
    )


def _counter(exposition: str, sample: str) -> float:
    for line in exposition.splitlines():
        name, _, value = line.rpartition(" ")
        if name == sample:
            return float(value)
    return 0.0


def _workers(ingest: IngestUnderTest) -> set[int]:
    launcher = psutil.Process(ingest.service.process.pid)
    return {child.pid for child in launcher.children() if child.status() != psutil.STATUS_ZOMBIE}


async def test_two_processes_serve_one_port_and_metrics_add_up(
    database_url: str, kafka_bootstrap: str, admin_token: str, tmp_path: Path
) -> None:
    # The metrics directory in tmp_path: the harness SIGKILLs the launcher at the end, which then cannot remove its own.
    env = {"INGEST_PROCESSES": "2", "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    async with running_ingest(database_url, kafka_bootstrap, admin_token, **env) as ingest:
        assert len(_workers(ingest)) == 2
        key = (await ingest.create_key(["H26"]))["key"]
        prefix = unique("mp")
        served: collections.Counter[str] = collections.Counter()
        async with _fresh_connections(ingest, key) as client:
            ready = (await client.get("/readyz")).json()
            assert ready["checks"]["processes"] is True
            for number in range(40):
                batch = [received_event(f"{prefix}-{number}-a"), received_event(f"{prefix}-{number}-b"),
                         received_event(f"{prefix}-{number}-bad", channel="fax")]  # fmt: skip
                response = await client.post("/v1/events", json=batch)
                assert response.status_code == 200, response.text
                assert response.json()["accepted"] == 2
                served[response.headers["x-ingest-process"]] += 1
            # Both processes answered (40 new connections hashed onto two sockets), and they are the launcher's.
            assert {int(pid) for pid in served} == _workers(ingest), served
            # Whichever process answers the scrape, the counts are both processes' together, exactly.
            scraped: collections.Counter[str] = collections.Counter()
            for _ in range(12):
                response = await client.get("/metrics")
                scraped[response.headers["x-ingest-process"]] += 1
                text = response.text
                assert _counter(text, 'ingest_events_accepted_total{endpoint="events"}') == 80
                assert _counter(text, 'ingest_events_rejected_total{endpoint="events",reason="invalid_field"}') == 40
                requests = 'ingest_request_duration_seconds_count{method="POST",route="/v1/events",status="200"}'
                assert _counter(text, requests) == 40
                assert _counter(text, "ingest_kafka_producer_connected") == 1
        records = await read_topic(ingest.bootstrap, ingest.topic, at_least=80)
        assert len([r for r in records if orjson.loads(r.value)["event_id"].startswith(prefix)]) == 80


async def _post_until(
    ingest: IngestUnderTest, key: str, tag: str, stop: asyncio.Event, acked: set[str], served: collections.Counter[str]
) -> None:
    """Post batches of new events until `stop`; an event is acknowledged when its request was answered 200."""
    number = 0
    async with _fresh_connections(ingest, key) as client:
        while not stop.is_set():
            ids = [f"{tag}-{number}-{item}" for item in range(BATCH)]
            number += 1
            try:
                response = await client.post("/v1/events", json=[received_event(event_id) for event_id in ids])
            except httpx.HTTPError:
                # The process holding this connection was killed or is stopping: nothing acknowledged (a real client
                # retries). Refused connections while all are stopping come fast; do not spin.
                await asyncio.sleep(0.05)
                continue
            if response.status_code == 200:
                assert response.json()["accepted"] == BATCH, response.text
                acked.update(ids)
                served[response.headers["x-ingest-process"]] += 1


async def test_a_killed_process_is_replaced_and_no_acknowledged_event_is_lost(
    database_url: str, kafka_bootstrap: str, admin_token: str
) -> None:
    async with running_ingest(database_url, kafka_bootstrap, admin_token, INGEST_PROCESSES="2") as ingest:
        key = (await ingest.create_key(["H26"]))["key"]
        prefix = unique("kill")
        stop = asyncio.Event()
        acked: set[str] = set()
        served: collections.Counter[str] = collections.Counter()
        clients = [
            asyncio.create_task(_post_until(ingest, key, f"{prefix}-{n}", stop, acked, served)) for n in range(4)
        ]
        try:
            first = _workers(ingest)
            await eventually(_holds(lambda: len(served) == 2), timeout_s=30)
            victim = min(first)
            served_before_kill = sum(served.values())
            psutil.Process(victim).kill()  # SIGKILL: no graceful anything

            async def replaced() -> set[int] | None:
                now = _workers(ingest)
                return now if len(now) == 2 and victim not in now else None

            workers = await eventually(replaced, timeout_s=30)
            newcomer = next(iter(workers - first))
            async with httpx.AsyncClient(base_url=ingest.service.base_url, timeout=5) as probe:

                async def ready_again() -> bool | None:
                    return True if (await probe.get("/readyz")).status_code == 200 else None

                await eventually(ready_again, timeout_s=30)
            # The replacement serves on the same port, and the posting went on around the kill.
            await eventually(_holds(lambda: str(newcomer) in served), timeout_s=30)
            assert sum(served.values()) > served_before_kill

            # A graceful stop while the clients keep posting: requests in flight are answered, the producers flushed.
            ingest.service.process.send_signal(signal.SIGTERM)
            assert await asyncio.wait_for(ingest.service.process.wait(), 40) == 0
            assert not [pid for pid in workers if psutil.pid_exists(pid)]
        finally:
            stop.set()
            for client in clients:
                with contextlib.suppress(Exception):
                    await client
        on_topic = {
            orjson.loads(record.value)["event_id"]
            for record in await read_topic(ingest.bootstrap, ingest.topic, at_least=len(acked))
        }
        assert acked, "nothing was acknowledged"
        assert acked <= on_topic, f"{len(acked - on_topic)} acknowledged events missing from the topic"


def _holds(predicate: Callable[[], bool]) -> Callable[[], Awaitable[bool | None]]:
    """For `eventually`: the predicate as a check that is None until it holds."""

    async def check() -> bool | None:
        return True if predicate() else None

    return check


async def test_processes_that_cannot_start_stop_the_launcher(
    database_url: str, kafka_bootstrap: str, admin_token: str
) -> None:
    """A missing topic fails every process the same way: the launcher exits 1 instead of restarting them forever;
    a port already in use is refused before any process starts (SO_REUSEPORT would otherwise share it)."""
    env = {"DATABASE_URL": database_url, "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap, "ADMIN_TOKEN": admin_token,
           "INGEST_PROCESSES": "2"}  # fmt: skip
    async with service_process("ingest", **env, EVENTS_TOPIC=unique("missing")) as service:
        assert await asyncio.wait_for(service.process.wait(), 60) == 1
        await eventually(_holds(lambda: any("does not exist" in line for line in service.output)), timeout_s=5)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        async with service_process("ingest", port, **env) as service:
            assert await asyncio.wait_for(service.process.wait(), 30) == 1
            await eventually(_holds(lambda: any("already in use" in line for line in service.output)), timeout_s=5)
