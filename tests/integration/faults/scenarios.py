"""The five fault scenarios of issue 12, each ending with exact figures and `recompute` at 0 differences.

One code path for the bounded suite (`make test`) and the heavy one (`make faults`): only the sizes differ, read
from FAULT_* environment variables (`clients.Sizes.from_env`). Each scenario returns its measured figures (events,
outage length, recovery seconds, 5xx counts by code, deliveries per notification) for docs/reliability.md.
"""

from __future__ import annotations

import asyncio
import json
import random
import signal
import time
from collections import Counter
from datetime import UTC, datetime
from typing import Any

import asyncpg
import httpx
import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.structs import RecordMetadata

from shared.kafka import DLQ_VALUE_MAX_BYTES, RECORD_MAX_BYTES
from tests.integration.faults.clients import Feeder, Sizes
from tests.integration.faults.stack import ALERT_UNITS, STREAM_UNITS, FaultStack, event
from tests.integration.processes import wait_ready
from tests.integration.scoring.harness import wait_for


async def settle(stack: FaultStack, timeout_s: float) -> dict[str, Any]:
    """Wait until scoring has committed every record, then: counters exactly as the ledger implies, recompute 0."""
    started = time.monotonic()
    await wait_for(stack.caught_up, bool, timeout_s=timeout_s)
    caught_up_s = time.monotonic() - started
    expected, actual = stack.ledger.expected(), await stack.counters()
    wrong = {k: (actual.get(k), v) for k, v in expected.items() if actual.get(k) != v}
    extra = {k: v for k, v in actual.items() if k not in expected}
    assert not wrong and not extra, f"(counted, owed): {sorted(wrong.items())[:20]}; never owed: {extra}"
    await stack.recompute()
    return {"events_owed": len(stack.ledger.owed), "caught_up_s": round(caught_up_s, 1), "recompute_diffs": 0}


async def crash_loop(stack: FaultStack, sizes: Sizes) -> dict[str, Any]:
    """a. SIGKILL a scoring process again and again while events stream in over HTTP."""
    feeder = Feeder(stack, "crash", sizes.batch)
    rng = random.Random(12)
    kills_done = False
    streaming = asyncio.create_task(
        feeder.pour(sizes.crash_rate, sizes.clients, lambda: kills_done and feeder.sequence >= sizes.crash_events)
    )
    restarts: dict[str, asyncio.Task[float]] = {}
    restart_s: list[float] = []
    for _ in range(sizes.crash_kills):
        await asyncio.sleep(rng.uniform(0.5, 1.5) * sizes.crash_interval_s)
        # Kill a process that is consuming (ready), not one still starting: wait for one if both are restarting.
        if len(restarts) == 2:
            await asyncio.wait(restarts.values(), return_when=asyncio.FIRST_COMPLETED)
        ready = [name for name in ("scoring", "scoring-2") if name not in restarts or restarts[name].done()]
        victim = rng.choice(ready)
        if victim in restarts:
            restart_s.append(restarts.pop(victim).result())
        assert not streaming.done(), streaming  # every kill lands mid-stream
        restarts[victim] = await stack.kill_and_restart(victim)
    restart_s.extend(await asyncio.gather(*restarts.values()))
    kills_done = True
    await streaming
    figures = await settle(stack, sizes.settle_timeout_s)
    assert feeder.five_hundreds() == {}, feeder.statuses
    return {"events_sent": feeder.sequence, "sigkills": sizes.crash_kills,
            "restart_ready_s_max": round(max(restart_s), 1), **figures}  # fmt: skip


async def _probe(feeder: Feeder, count: int) -> bool:
    async with feeder.stack.ingest_client() as client:
        return await feeder.send(client, feeder.events(count, STREAM_UNITS), retry=False)


async def broker_outage(stack: FaultStack, sizes: Sizes) -> dict[str, Any]:
    """b. Kafka stopped for a while: ingest answers 503 + Retry-After and acknowledges nothing it did not write (the
    probe batches sent while the broker is down are never retried: not one of them may be counted)."""
    feeder = Feeder(stack, "broker", sizes.batch)
    probes = Feeder(stack, "broker-probe", 10)
    streaming = asyncio.create_task(feeder.stream(sizes.broker_events, sizes.broker_outage_s + 6, sizes.clients))
    await asyncio.sleep(1.5)
    # A crash (SIGKILL): a controlled shutdown takes tens of seconds here, and a crash is the harder case.
    await stack.broker.stop(signal.SIGKILL)
    down_at = time.monotonic()
    ready_during: set[int] = set()
    async with httpx.AsyncClient(timeout=10) as client:
        while time.monotonic() - down_at < sizes.broker_outage_s:
            assert not await _probe(probes, 10), "a probe was acknowledged while the broker was down"
            ready_during.add((await client.get(f"{stack.url('ingest')}/readyz")).status_code)
            await asyncio.sleep(0.3)
    starting = time.monotonic()
    await stack.broker.start()
    up_at = time.monotonic()
    # Recovery: the first acknowledged batch after the broker answers again.
    async with stack.ingest_client() as client:
        await feeder.send(client, feeder.events(10, STREAM_UNITS))
    recovery_s = time.monotonic() - up_at
    await streaming
    figures = await settle(stack, sizes.settle_timeout_s)
    assert ready_during == {503}, ready_during
    assert feeder.without_retry_after == probes.without_retry_after == 0
    five = Counter(feeder.five_hundreds()) + Counter(probes.five_hundreds())
    assert set(five) == {"503 broker_unavailable"}, five
    return {"events_sent": feeder.sequence, "probe_events_refused": probes.sequence,
            "outage_s": round(up_at - down_at, 1), "broker_start_s": round(up_at - starting, 1),
            "recovery_s": round(recovery_s, 2), "http_5xx": dict(five), **figures}  # fmt: skip


async def postgres_outage(stack: FaultStack, sizes: Sizes) -> dict[str, Any]:
    """c. PostgreSQL stopped while events flow: every service answers 503 + Retry-After where it needs the
    database, readiness false, and everything recovers without a restart."""
    feeder = Feeder(stack, "pg", sizes.batch)
    streaming = asyncio.create_task(feeder.stream(sizes.pg_events, sizes.pg_outage_s + 5, sizes.clients))
    await asyncio.sleep(1.0)
    probes = {
        "ingest": ("GET", f"{stack.url('ingest')}/v1/admin/api-keys"),
        "alerts": ("GET", f"{stack.url('alerts')}/v1/alerts"),
        "scoring": ("GET", f"{stack.url('scoring')}/v1/dlq"),
    }
    answers: Counter[str] = Counter()
    ready: dict[str, set[int]] = {name: set() for name in stack.services}
    stopping = time.monotonic()
    await stack.postgres.stop()
    down_at = time.monotonic()
    async with httpx.AsyncClient(timeout=10, headers=stack.admin_headers()) as client:
        while time.monotonic() - down_at < sizes.pg_outage_s:
            for name, (method, url) in probes.items():
                response = await client.request(method, url)
                retry_after = "+retry-after" if "retry-after" in response.headers else ""
                answers[f"{name} {response.status_code}{retry_after}"] += 1
            for name in ready:
                ready[name].add((await client.get(f"{stack.url(name)}/readyz")).status_code)
            await asyncio.sleep(0.3)
    await stack.postgres.start()
    up_at = time.monotonic()
    recovered: dict[str, float] = {}
    for name, service in list(stack.services.items()):
        await wait_ready(service, timeout_s=60)
        recovered[name] = round(time.monotonic() - up_at, 2)
    await streaming
    figures = await settle(stack, sizes.settle_timeout_s)
    assert feeder.without_retry_after == 0
    assert set(feeder.five_hundreds()) <= {"503 database_unavailable"}, feeder.statuses
    assert all(503 in codes for codes in ready.values()), ready
    assert all(a.split(" ")[1] == "503+retry-after" for a in answers), answers
    return {"events_sent": feeder.sequence, "outage_s": round(up_at - stopping, 1),
            "ready_again_s": recovered, "ingest_events_5xx": feeder.five_hundreds(),
            "probe_answers": dict(answers), **figures}  # fmt: skip


def _hostile() -> list[tuple[str, bytes]]:
    now = datetime.now(UTC).isoformat()
    wrong_types = {**event("hostile-types", STREAM_UNITS[0]), "occurred_at": 12345, "channel": 7, "ingested_at": now}
    unknown = {**event("hostile-unit", STREAM_UNITS[0]), "unit_id": "F.NO.SUCH", "ingested_at": now}
    return [
        ("oversized_invalid", b'{"event_id": "hostile-big", "note": "' + b"x" * 1_500_000),
        ("malformed_json", b"{not json"),
        ("wrong_types", orjson.dumps(wrong_types)),
        ("unknown_unit", orjson.dumps(unknown)),
    ]


async def hostile_records(stack: FaultStack, sizes: Sizes) -> dict[str, Any]:
    """d. Records written straight to dossier-events: the invalid ones dead-lettered (table and DLQ topic agree,
    the DLQ copy truncated with its original size, source coordinates kept), a valid 2 MB event counted, and the
    valid traffic behind them counted — nothing retried forever."""
    producer = AIOKafkaProducer(bootstrap_servers=stack.broker.bootstrap, acks="all",
                                max_request_size=RECORD_MAX_BYTES)  # fmt: skip
    await producer.start()
    placed: dict[str, RecordMetadata] = {}
    direct: list[dict[str, Any]] = []
    try:
        for partition, (name, value) in enumerate(_hostile()):
            placed[name] = await producer.send_and_wait("dossier-events", value, key=name.encode(), partition=partition)
        big = {**event("hostile-valid-2mb", STREAM_UNITS[1]), "note": "y" * 2_000_000,
               "ingested_at": datetime.now(UTC).isoformat()}  # fmt: skip
        placed["valid_2mb"] = await producer.send_and_wait("dossier-events", orjson.dumps(big), key=b"big", partition=4)
        direct.append(big)
        # Valid records behind the hostile ones, on every partition.
        for partition in range(12):
            e = {**event(f"hostile-behind-{partition}", STREAM_UNITS[partition % len(STREAM_UNITS)]),
                 "ingested_at": datetime.now(UTC).isoformat()}  # fmt: skip
            await producer.send_and_wait("dossier-events", orjson.dumps(e), key=b"behind", partition=partition)
            direct.append(e)
    finally:
        await producer.stop()
    stack.ledger.add(direct)
    feeder = Feeder(stack, "hostile-http", sizes.batch)
    await feeder.stream(sizes.hostile_valid, 2.0, sizes.clients)
    figures = await settle(stack, sizes.settle_timeout_s)

    rows = await _dead_letter_rows(stack)
    source = {f"dossier-events/{m.partition}/{m.offset}": name for name, m in placed.items() if name != "valid_2mb"}
    assert sorted(rows) == sorted(source), (rows, source)
    topic = await _dlq_topic(stack, len(source))
    assert sorted(topic) == sorted(source), topic
    for coordinates, (error, size) in rows.items():
        headers, value_size = topic[coordinates]
        assert headers["x-error"] == error and headers["x-original-size"] == str(size)
        truncated = size > DLQ_VALUE_MAX_BYTES
        assert value_size == (DLQ_VALUE_MAX_BYTES if truncated else size)
        assert (headers.get("x-truncated") == "true") is truncated
    errors = {source[c]: error for c, (error, _) in rows.items()}
    assert errors["oversized_invalid"] == errors["malformed_json"] == "invalid_json", errors
    assert errors["unknown_unit"] == "unknown_unit", errors
    return {"hostile_records": len(source), "dead_letter_errors": errors, "valid_2mb_counted": True,
            "valid_behind": len(direct) - 1 + sizes.hostile_valid, **figures}  # fmt: skip


async def _dead_letter_rows(stack: FaultStack) -> dict[str, tuple[str, int]]:
    conn = await asyncpg.connect(stack.database_url)
    try:
        rows = await conn.fetch(
            'SELECT topic, "partition", "offset", error, octet_length(record_value) AS size FROM dlq_records'
        )
    finally:
        await conn.close()
    return {f"{r['topic']}/{r['partition']}/{r['offset']}": (r["error"], r["size"]) for r in rows}


async def _dlq_topic(stack: FaultStack, expected: int) -> dict[str, tuple[dict[str, str], int]]:
    consumer = AIOKafkaConsumer("dossier-events-dlq", bootstrap_servers=stack.broker.bootstrap,
                                auto_offset_reset="earliest", group_id=None)  # fmt: skip
    await consumer.start()
    found: dict[str, tuple[dict[str, str], int]] = {}
    try:
        async with asyncio.timeout(30):
            while len(found) < expected:
                for records in (await consumer.getmany(timeout_ms=500)).values():
                    for r in records:
                        headers = {k: v.decode() for k, v in r.headers}
                        found[headers["x-source"]] = (headers, len(r.value or b""))
        for records in (await consumer.getmany(timeout_ms=1000)).values():  # nothing more than expected
            for r in records:
                found[dict(r.headers)["x-source"].decode()] = ({}, -1)
    finally:
        await consumer.stop()
    return found


async def receiver_failure(stack: FaultStack, sizes: Sizes) -> dict[str, Any]:
    """e. The webhook receiver answers 500 for a while, then refuses connections, then recovers: every
    notification delivered (at least once, the same delivery id on every attempt), none lost."""
    sink = stack.sink
    sink.fail_with = 500
    feeder = Feeder(stack, "receiver", sizes.batch)
    async with stack.ingest_client() as client:
        assert await feeder.send(client, feeder.events(3 * len(ALERT_UNITS), ALERT_UNITS, channel="direct"))

    def attempted() -> set[str]:
        return {a["labels"]["unit_id"] for d in sink.received for a in json.loads(d.body)["alerts"]}

    # After the heavy scenarios, alerts may still be working through a backlog of unit-indicators that grew with
    # the sizes: the first attempt is waited for as long as a settle, not a fixed minute.
    await wait_for(lambda: _now(attempted()), lambda units: units >= set(ALERT_UNITS), timeout_s=sizes.settle_timeout_s)
    errors_until = time.monotonic() + sizes.receiver_error_s
    await asyncio.sleep(max(0.0, errors_until - time.monotonic()))
    await stack.stop_sink()
    refused_at = time.monotonic()
    await asyncio.sleep(sizes.receiver_refused_s)
    sink.fail_with = None
    await stack.start_sink()
    back_at = time.monotonic()

    def delivered() -> set[str]:
        return {a["labels"]["unit_id"] for a in sink.alerts("firing")}

    # Retries back off while the receiver fails; after the longest failure the next attempt can be that far off.
    recovery_limit_s = 60 + sizes.receiver_error_s + sizes.receiver_refused_s
    await wait_for(lambda: _now(delivered()), lambda units: units >= set(ALERT_UNITS), timeout_s=recovery_limit_s)
    recovery_s = time.monotonic() - back_at
    figures = await settle(stack, sizes.settle_timeout_s)

    def undelivered() -> set[str]:
        return {d.headers["x-tthc-delivery"] for d in sink.received} - {
            d.headers["x-tthc-delivery"] for d in sink.accepted
        }

    await wait_for(lambda: _now(undelivered()), lambda missing: not missing, timeout_s=30)
    attempts = Counter(d.headers["x-tthc-delivery"] for d in sink.received)
    accepted = Counter(d.headers["x-tthc-delivery"] for d in sink.accepted)
    assert delivered() == set(ALERT_UNITS) and len(sink.alerts("firing")) >= len(ALERT_UNITS)
    return {"notifications": len(attempts), "firing_units": len(ALERT_UNITS),
            "attempts_per_notification": sorted(attempts.values()),
            "deliveries_per_notification": sorted(accepted.values()),
            "errors_500": sum(1 for d in sink.received if d.status == 500),
            "refused_s": round(back_at - refused_at, 1), "delivered_after_recovery_s": round(recovery_s, 2),
            **figures}  # fmt: skip


async def _now(value: Any) -> Any:
    return value
