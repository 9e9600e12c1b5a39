"""Load and probes for bench/read_stack.py: an open-loop reader mix on raw sockets, and the freshness probe
(event accepted by ingest → visible in the API and on the SSE stream).

Kept apart from the stack driver so each stays short; no state of their own beyond what they measure.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import re
import statistics
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import asyncpg
import httpx
import orjson

ACCEPT = "gzip, br"


def quantiles(values: Sequence[float]) -> tuple[float, float, float]:
    """p50, p99, max of a sample (ms or whatever unit it is in)."""
    q = statistics.quantiles(sorted(values), n=100, method="inclusive")
    return q[49], q[98], max(values)


async def _reader(host: str, port: int, plan: asyncio.Queue, result: OpenLoopResult) -> None:
    """One keep-alive connection taking (planned start, request bytes) from `plan`; bodies are read, not decoded
    (a cheap client: decoding 100 KB bodies saturated the shared machine before the server did)."""
    out, statuses = result.latencies_ms, result.statuses
    reader, writer = await asyncio.open_connection(host, port)
    try:
        while (item := await plan.get()) is not None:
            planned, request = item
            # How late the client itself sends (its loop, its share of the cores): part of every latency below,
            # reported apart so that a late client is not taken for a slow server.
            result.sent_late_ms.append((time.perf_counter() - planned) * 1000)
            try:
                writer.write(request)
                head = await reader.readuntil(b"\r\n\r\n")
                length = re.search(rb"(?i)content-length: *(\d+)", head)
                if length:
                    await reader.readexactly(int(length.group(1)))
                status = int(head[9:12])
            except (ConnectionError, asyncio.IncompleteReadError):
                # The server closed the connection (after a 500 it answers `Connection: close`): counted as
                # status 0 and the connection made again, rather than the whole run lost.
                status = 0
                writer.close()
                reader, writer = await asyncio.open_connection(host, port)
            out.append((time.perf_counter() - planned) * 1000)
            statuses[status] = statuses.get(status, 0) + 1
    finally:
        writer.close()


@dataclass
class OpenLoopResult:
    offered: float
    latencies_ms: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)
    seconds: float = 0.0
    sent_late_ms: list[float] = field(default_factory=list)
    """Per request, how long after its planned start the client wrote it (included in latencies_ms)."""

    def line(self) -> str:
        p50, p99, worst = quantiles(self.latencies_ms)
        late50, late99, _ = quantiles(self.sent_late_ms)
        done = len(self.latencies_ms) / self.seconds
        return (f"offered {self.offered:.0f}/s for {self.seconds:.0f} s: done {done:.1f}/s, p50 {p50:.1f} ms, "
                f"p99 {p99:.1f} ms, max {worst:.0f} ms, statuses {self.statuses}; of which the client sent late "
                f"p50 {late50:.1f} ms, p99 {late99:.1f} ms")  # fmt: skip


async def open_loop(
    base: str, paths: Sequence[str], rate: float, stop: asyncio.Event, max_s: float, connections: int = 64
) -> OpenLoopResult:
    """Requests started at a fixed rate, cycling through `paths`, until `stop` is set (or `max_s`); latency from
    the planned start, so a server falling behind shows."""
    host, port = base.removeprefix("http://").split(":")
    requests = [f"GET {p} HTTP/1.1\r\nHost: {host}\r\nAccept-Encoding: {ACCEPT}\r\n\r\n".encode() for p in paths]
    result = OpenLoopResult(rate)
    plan: asyncio.Queue = asyncio.Queue()
    workers = [asyncio.create_task(_reader(host, int(port), plan, result)) for _ in range(connections)]
    start = time.perf_counter()
    for n, request in zip(itertools.count(), itertools.cycle(requests)):
        planned = start + n / rate
        if stop.is_set() or planned - start > max_s:
            break
        await asyncio.sleep(max(0.0, planned - time.perf_counter()))
        plan.put_nowait((planned, request))
    result.seconds = time.perf_counter() - start
    for _ in workers:
        plan.put_nowait(None)
    await asyncio.gather(*workers)
    return result


class StreamWatch:
    """Follows /v1/stream: for each unit, the `received` count of the newest `indicators` event and when it came."""

    def __init__(self, base: str) -> None:
        self._base = base
        self.received: dict[str, tuple[int, float]] = {}
        self.changed = asyncio.Condition()
        self._task: asyncio.Task[None] | None = None
        self.connected = asyncio.Event()

    async def __aenter__(self) -> StreamWatch:
        self._task = asyncio.create_task(self._follow())
        await asyncio.wait_for(self.connected.wait(), 10)
        return self

    async def __aexit__(self, *_: object) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _follow(self) -> None:
        async with httpx.AsyncClient(timeout=None) as client, client.stream("GET", f"{self._base}/v1/stream") as r:
            event = ""
            async for line in r.aiter_lines():
                self.connected.set()
                if line.startswith("event:"):
                    event = line[6:].strip()
                elif line.startswith("data:") and event == "indicators":
                    body = orjson.loads(line[5:])
                    seen = time.perf_counter()
                    async with self.changed:
                        self.received[body["unit_id"]] = (int(body["counters"]["received"]), seen)
                        self.changed.notify_all()

    async def until(self, unit_id: str, received: int, timeout_s: float) -> float | None:
        """When an event showing at least `received` for the unit arrived (perf_counter), None on time-out."""

        def shown() -> bool:
            return self.received.get(unit_id, (-1, 0.0))[0] >= received

        async with self.changed:
            try:
                await asyncio.wait_for(self.changed.wait_for(shown), timeout_s)
            except TimeoutError:
                return None
            return self.received[unit_id][1]


def vn_now(offset: timedelta = timedelta()) -> str:
    return (datetime.now(UTC) + timedelta(hours=7) + offset).strftime("%Y-%m-%dT%H:%M:%S+07:00")


COMMITTED = "SELECT 1 FROM dossiers WHERE dossier_id = $1"
"""The freshness probe's look at PostgreSQL: the event's dossier exists once an applying process committed it."""


@dataclass
class Freshness:
    """Per event (ms): POST → 202 (ingest + the Kafka append, acks=all), 202 → the batch holding it committed in
    PostgreSQL (the consumer's fetch and linger, the batch's apply and commit), 202 → the API's body showing it
    (NOTIFY, the API process's table refresh, the body rebuild) and 202 → an SSE event showing it (the applying
    process's publication interval, the unit-indicators relay). None: not seen within the time-out."""

    post_ms: list[float] = field(default_factory=list)
    commit_ms: list[float | None] = field(default_factory=list)
    api_ms: list[float | None] = field(default_factory=list)
    sse_ms: list[float | None] = field(default_factory=list)

    def hops(self) -> dict[str, tuple[list[float], int]]:
        """Each hop's sample and how many were missed; the after-commit hops only for events seen at both ends."""
        after_commit = {
            "committed -> API": [a - c for c, a in zip(self.commit_ms, self.api_ms, strict=True) if a and c],
            "committed -> SSE": [e - c for c, e in zip(self.commit_ms, self.sse_ms, strict=True) if e and c],
        }
        seen = {name: [v for v in values if v is not None]
                for name, values in (("ingest 202 -> committed", self.commit_ms), ("ingest 202 -> API", self.api_ms),
                                     ("ingest 202 -> SSE", self.sse_ms))}  # fmt: skip
        out = {"POST -> ingest 202 (Kafka acks=all)": (self.post_ms, 0)}
        out.update({name: (values, len(self.post_ms) - len(values)) for name, values in seen.items()})
        out.update({name: (values, 0) for name, values in after_commit.items()})
        return out


async def _poll(probe: Callable[[], Awaitable[bool]], since: float, timeout_s: float) -> float | None:
    """ms from `since` until `probe()` is true (tried every 5 ms), None on time-out."""
    while time.perf_counter() - since < timeout_s:
        if await probe():
            return (time.perf_counter() - since) * 1000
        await asyncio.sleep(0.005)
    return None


async def freshness(
    ingest: str, api: str, key: str, units: Sequence[str], count: int, watch: StreamWatch, database_url: str,
    timeout_s: float = 15.0,
) -> Freshness:  # fmt: skip
    """`count` received events, one at a time, each to the next of `units`: each hop of Freshness, the API
    polled every 5 ms with If-None-Match (ETag and body changed), PostgreSQL every 5 ms by the dossier's key."""
    result = Freshness()
    run = uuid.uuid4().hex[:8]
    database = await asyncpg.connect(database_url)
    try:
        async with httpx.AsyncClient(timeout=10) as client:
            for n in range(count):
                unit = units[n % len(units)]
                url = f"{api}/v1/units/{unit}/indicators"
                first = await client.get(url)
                etag, base = first.headers["etag"], int(first.json()["counters"]["received"])
                dossier = f"FRESH-{run}-{n}"
                event = {"event_id": f"fresh-{run}-{n}", "dossier_id": dossier, "unit_id": unit,
                         "type": "received", "occurred_at": vn_now(-timedelta(seconds=5)), "channel": "online",
                         "due_at": vn_now(timedelta(days=5))}  # fmt: skip
                sse = asyncio.create_task(watch.until(unit, base + 1, timeout_s))
                posted = time.perf_counter()
                sent = await client.post(f"{ingest}/v1/events", json=[event],
                                         headers={"Authorization": f"Bearer {key}"})  # fmt: skip
                accepted = time.perf_counter()
                assert sent.status_code in (200, 202), sent.text
                result.post_ms.append((accepted - posted) * 1000)

                async def shown(url: str = url, base: int = base) -> bool:
                    nonlocal etag
                    r = await client.get(url, headers={"If-None-Match": etag})
                    if r.status_code != 200:
                        return False
                    etag = r.headers["etag"]
                    return int(r.json()["counters"]["received"]) > base

                async def committed(dossier: str = dossier) -> bool:
                    return await database.fetchval(COMMITTED, dossier) is not None

                commit_ms, api_ms = await asyncio.gather(_poll(committed, accepted, timeout_s),
                                                         _poll(shown, accepted, timeout_s))  # fmt: skip
                result.commit_ms.append(commit_ms)
                result.api_ms.append(api_ms)
                seen_sse = await sse
                result.sse_ms.append(None if seen_sse is None else max(0.0, seen_sse - accepted) * 1000)
                await asyncio.sleep(0.1 + (n % 7) * 0.05)  # land at different phases of the batches and ticks
    finally:
        await database.close()
    return result
