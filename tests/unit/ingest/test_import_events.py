"""The bulk import use case on a fake sender, and its HTTP sender (adapter) on a fake ingest API and a fake sleep."""

from __future__ import annotations

import io
from typing import Any

import httpx
import orjson
import pytest

from services.ingest.adapters.ingest_client import HttpEventSender
from services.ingest.domain.bulk_import import read_jsonl
from services.ingest.service.import_events import ImportAbortedError, import_events
from shared.http_retry import RetryPolicy

pytestmark = pytest.mark.unit


def jsonl(*lines: str) -> io.StringIO:
    return io.StringIO("".join(line + "\n" for line in lines))


def event_line(event_id: str) -> str:
    return orjson.dumps({"event_id": event_id, "unit_id": "H26"}).decode()


def _parsed(line: bytes) -> dict[str, Any]:
    """A line as the service reads it: an object, or an `invalid_json` item."""
    try:
        return dict(orjson.loads(line))
    except orjson.JSONDecodeError:
        return {"error": "invalid_json"}


class FakeSender:
    """Answers every body with the next scripted (status, body); 200 bodies reject every event_id in `bad`."""

    def __init__(self, *statuses: int, bad: frozenset[str] = frozenset()) -> None:
        self._statuses = list(statuses)
        self._bad = bad
        self.bodies: list[list[dict[str, Any]]] = []

    async def send(self, body: bytes) -> tuple[int, dict[str, Any]]:
        events = [_parsed(line) for line in body.splitlines()]
        self.bodies.append(events)
        status = self._statuses.pop(0) if self._statuses else 200
        if status != 200:
            return status, {"error": "broker_unavailable" if status == 503 else "unauthorized", "detail": "…"}
        rejected = [
            {"index": i, "event_id": e.get("event_id"), "error": e.get("error", "unknown_unit"), "detail": "…"}
            for i, e in enumerate(events)
            if "error" in e or e["event_id"] in self._bad
        ]
        return 200, {"accepted": len(events) - len(rejected), "rejected": rejected}


class Progress:
    def __init__(self) -> None:
        self.lines = 0

    def advance(self, lines: int, *, accepted: int, rejected: int) -> None:
        self.lines += lines


async def test_every_line_is_accounted_for() -> None:
    sender, progress = FakeSender(bad=frozenset({"e2"})), Progress()
    source = jsonl(event_line("e1"), event_line("e2"), "{not json", event_line("e3"))
    tally = await import_events(read_jsonl(source), sender, concurrency=2, batch=2, progress=progress)
    assert tally.records == 4 and tally.accepted == 2
    assert [(item["line"], item["error"]) for item in tally.rejected_lines()] == [
        (2, "unknown_unit"),
        (3, "invalid_json"),
    ]
    assert [len(body) for body in sender.bodies] == [2, 2] and progress.lines == 4


async def test_a_request_still_failing_after_the_sender_s_retries_rejects_its_lines() -> None:
    sender = FakeSender(503)
    tally = await import_events(read_jsonl(jsonl(event_line("e1"), event_line("e2"))), sender, concurrency=1)
    assert tally.accepted == 0 and {item["error"] for item in tally.rejected} == {"broker_unavailable"}


@pytest.mark.parametrize("status", [401, 403, 404])
async def test_a_refusal_that_would_repeat_stops_the_import(status: int) -> None:
    sender = FakeSender(*[status] * 50)
    lines = jsonl(*(event_line(f"e{i}") for i in range(50)))
    with pytest.raises(ImportAbortedError, match=str(status)):
        await import_events(read_jsonl(lines), sender, concurrency=2, batch=1)
    assert len(sender.bodies) < 10  # it stopped sending (and did not wait for the workers it had lost)


class FakeIngestApi:
    """Plays POST /v1/events: the scripted answers first (429/503 with or without Retry-After), then 200."""

    def __init__(self, *answers: httpx.Response) -> None:
        self._answers = list(answers)
        self.calls = 0

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.calls += 1
        assert request.url.path == "/v1/events" and request.headers["content-type"] == "application/x-ndjson"
        if self._answers:
            return self._answers.pop(0)
        return httpx.Response(200, json={"accepted": request.content.count(b"\n") + 1, "rejected": []})


async def post_through(api: FakeIngestApi, policy: RetryPolicy) -> tuple[tuple[int, dict[str, Any]], list[float]]:
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    async with httpx.AsyncClient(base_url="http://ingest.test", transport=httpx.MockTransport(api)) as client:
        answer = await HttpEventSender(client, policy, sleep=sleep).send(b'{"event_id": "e1"}')
    return answer, waits


async def test_the_sender_waits_out_503_retry_after_and_429() -> None:
    api = FakeIngestApi(
        httpx.Response(503, headers={"Retry-After": "5"}, json={"error": "broker_unavailable", "detail": "…"}),
        httpx.Response(429, headers={"Retry-After": "2"}, json={"error": "too_many_requests", "detail": "…"}),
    )
    (status, body), waits = await post_through(api, RetryPolicy(max_retries=5))
    assert status == 200 and body["accepted"] == 1 and api.calls == 3 and waits == [5.0, 2.0]


async def test_the_sender_caps_a_long_retry_after_and_backs_off_without_one() -> None:
    api = FakeIngestApi(httpx.Response(503, headers={"Retry-After": "600"}), httpx.Response(429))
    (status, _), waits = await post_through(api, RetryPolicy(max_retries=5, max_wait_s=60.0, initial_backoff_s=0.5))
    assert status == 200 and waits[0] == 60.0 and 1.0 <= waits[1] <= 1.5


async def test_the_sender_gives_the_last_503_once_its_retries_are_spent() -> None:
    busy = [httpx.Response(503, headers={"Retry-After": "1"}, json={"error": "broker_unavailable", "detail": "…"})]
    (status, body), waits = await post_through(FakeIngestApi(*busy * 3), RetryPolicy(max_retries=2))
    assert (status, body["error"]) == (503, "broker_unavailable") and waits == [1.0, 1.0]


async def test_the_sender_reports_an_unreachable_api_as_not_delivered() -> None:
    def unreachable(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    async with httpx.AsyncClient(base_url="http://ingest.test", transport=httpx.MockTransport(unreachable)) as client:
        status, body = await HttpEventSender(client, RetryPolicy(max_retries=3), sleep=sleep).send(b"{}")
    assert (status, body["error"]) == (0, "not_delivered") and len(waits) == 3
