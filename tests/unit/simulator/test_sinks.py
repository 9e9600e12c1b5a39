"""Sinks against in-memory fakes (httpx.MockTransport plays the ingest API); real services are the lead's tests."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx
import orjson
import pytest

from shared.http_retry import retry_after_seconds
from simulator.sinks.base import SinkError
from simulator.sinks.file import JsonlSink
from simulator.sinks.http import HttpSink, split_by_body_size
from simulator.sinks.pacing import Pacer, paced_batches, run
from simulator.stream import Delivery


def deliveries(n: int, start: int = 1_785_000_000) -> list[Delivery]:
    return [
        Delivery(
            start + i,
            {
                "event_id": f"e{i}",
                "dossier_id": f"d{i % 7}",
                "unit_id": "H26",
                "type": "returned",
                "occurred_at": "2026-08-03T09:00:00+07:00",
            },
        )
        for i in range(n)
    ]


class FakeIngest:
    """Answers like SPEC §7: 503 with Retry-After for the first `outages` calls, then per-item results."""

    def __init__(self, outages: int = 0, reject_every: int = 0, status: int = 200) -> None:
        self.outages, self.reject_every, self.status = outages, reject_every, status
        self.bodies: list[list[dict]] = []
        self.auth: set[str] = set()

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.auth.add(request.headers["Authorization"])
        if self.outages:
            self.outages -= 1
            return httpx.Response(503, headers={"Retry-After": "0"}, json={"error": "broker_unavailable"})
        if self.status != 200:
            return httpx.Response(self.status, json={"error": "unauthorized", "detail": "bad key"})
        events = orjson.loads(request.content)
        self.bodies.append(events)
        rejected = [
            {"index": i, "event_id": e["event_id"], "error": "unknown_unit", "detail": "…"}
            for i, e in enumerate(events)
            if self.reject_every and i % self.reject_every == 0
        ]
        return httpx.Response(200, json={"accepted": len(events) - len(rejected), "rejected": rejected})


async def test_http_sink_batches_retries_and_counts() -> None:
    fake = FakeIngest(outages=2, reject_every=10)
    sink = HttpSink("http://ingest.test/", "k-123", concurrency=3, transport=httpx.MockTransport(fake))
    result = await run(deliveries(12_345), sink, Pacer(realtime=False), batch_size=5000)
    assert fake.auth == {"Bearer k-123"}
    assert all(len(body) <= 5000 for body in fake.bodies)
    assert sorted(e["event_id"] for body in fake.bodies for e in body) == sorted(f"e{i}" for i in range(12_345))
    assert result.retries == 2
    assert result.rejected == sum(len(range(0, len(body), 10)) for body in fake.bodies)
    assert result.accepted + result.rejected == result.sent == 12_345
    assert result.rejected_by_error == {"unknown_unit": result.rejected}


async def test_http_sink_stops_on_a_refusal() -> None:
    sink = HttpSink("http://ingest.test", "wrong", transport=httpx.MockTransport(FakeIngest(status=401)))
    with pytest.raises(SinkError, match="401"):
        await run(deliveries(10), sink, Pacer(realtime=False), batch_size=5000)


def test_retry_after_forms() -> None:
    assert retry_after_seconds("7") == 7.0
    assert retry_after_seconds(None) == 1.0
    assert retry_after_seconds("soon", default=2.0) == 2.0
    later = format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
    assert 25 <= retry_after_seconds(later) <= 31


def test_big_batches_are_split_under_the_body_limit() -> None:
    events = [{"event_id": str(i), "pad": "x" * 100} for i in range(100)]
    bodies = split_by_body_size(events, limit=2_000)
    assert all(len(b) <= 2_000 for b in bodies)
    assert [e for b in bodies for e in orjson.loads(b)] == events


async def test_jsonl_sink_writes_one_event_per_line() -> None:
    out = io.BytesIO()
    sink = JsonlSink(out, stamp_ingested=True)
    await run(deliveries(3), sink, Pacer(realtime=False), batch_size=2)
    lines = [orjson.loads(line) for line in out.getvalue().splitlines()]
    assert [line["event_id"] for line in lines] == ["e0", "e1", "e2"]
    assert lines[0]["ingested_at"] == "2026-07-25T17:20:00.000Z"


async def test_real_time_pacing_waits_for_the_clock() -> None:
    clock = {"now": 1_785_000_000.0}
    stream = deliveries(5)  # one event per simulated second

    class Sleeper(Pacer):
        def seconds_until(self, deliver_at: int) -> float:
            wait = super().seconds_until(deliver_at)
            clock["now"] += wait  # a fake clock: "sleeping" moves time forward
            return 0.0

    pacer = Sleeper(realtime=True, clock=lambda: clock["now"])
    batches = [b async for b in paced_batches(stream, pacer, max_size=2)]
    assert [len(b) for b in batches] == [2, 2, 1]
    assert clock["now"] == 1_785_000_004.0
    assert Pacer(realtime=False).seconds_until(2_000_000_000) == 0.0
