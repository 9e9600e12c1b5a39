"""POST /v1/events against a real ingest process, Kafka broker and PostgreSQL."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import orjson

from tests.integration.conftest import unique
from tests.integration.ingest.conftest import IngestUnderTest, eventually, read_topic, received_event, vn_time
from tests.integration.processes import service_process


def _mixed_batch(prefix: str) -> tuple[list[Any], dict[int, str]]:
    """Items of every kind, and the error code expected at each rejected index."""
    no_offset = vn_time(-timedelta(hours=2))[:-6]
    items: list[Any] = [
        received_event(f"{prefix}-ok-received"),
        42,
        {k: v for k, v in received_event(f"{prefix}-missing").items() if k != "dossier_id"},
        received_event(f"{prefix}-bad-channel", channel="fax"),
        received_event(f"{prefix}-bad-type", type="archived"),
        received_event(f"{prefix}-foreign-field", outcome="approved"),
        received_event(f"{prefix}-no-offset", occurred_at=no_offset),
        received_event(f"{prefix}-due-early", due_at=vn_time(-timedelta(days=1))),
        received_event(f"{prefix}-future", occurred_at=vn_time(timedelta(hours=1))),
        received_event(f"{prefix}-unknown-unit", unit_id="H99.X"),
        received_event(f"{prefix}-other-district", unit_id="H26.D02.C01"),
        {
            "event_id": f"{prefix}-ok-resolved",
            "dossier_id": f"HS-{prefix}-ok-received",
            "unit_id": "H26.D01",
            "type": "resolved",
            "occurred_at": vn_time(-timedelta(minutes=5)),
            "outcome": "approved",
        },
        received_event(
            f"{prefix}-ok-extras", ingested_at="2001-01-01T00:00:00Z", source_system="MC-BaDinh", note="Hồ sơ đất đai"
        ),
    ]
    expected = {
        1: "not_an_object",
        2: "missing_field",
        3: "invalid_field",
        4: "unknown_type",
        5: "field_not_allowed",
        6: "timezone_required",
        7: "due_not_after_occurrence",
        8: "occurred_in_future",
        9: "unknown_unit",
        10: "forbidden_unit",
    }
    return items, expected


def _check_response(body: dict[str, Any], items: list[Any], expected: dict[int, str]) -> None:
    assert body["accepted"] == 3
    assert [(r["index"], r["error"]) for r in body["rejected"]] == sorted(expected.items())
    for rejection in body["rejected"]:
        item = items[rejection["index"]]
        readable = isinstance(item, dict) and rejection["error"] not in ("invalid_field",)
        if readable:
            assert rejection["event_id"] == item["event_id"]
        assert " / " in rejection["detail"]  # Vietnamese / English
    assert next(r for r in body["rejected"] if r["index"] == 1)["event_id"] is None


async def _check_topic(ingest: IngestUnderTest, prefix: str, before: datetime, after: datetime) -> None:
    records = await read_topic(ingest.bootstrap, ingest.topic, at_least=1)
    mine = [r for r in records if orjson.loads(r.value)["event_id"].startswith(prefix)]
    by_id = {orjson.loads(r.value)["event_id"]: r for r in mine}
    assert sorted(by_id) == sorted([f"{prefix}-ok-received", f"{prefix}-ok-resolved", f"{prefix}-ok-extras"])
    assert len(mine) == 3
    for event_id, record in by_id.items():
        value = orjson.loads(record.value)
        assert record.key == value["dossier_id"].encode()
        stamped = datetime.fromisoformat(value["ingested_at"])
        assert value["ingested_at"].endswith("Z")
        assert before - timedelta(seconds=1) <= stamped <= after + timedelta(seconds=1), event_id
    extras = orjson.loads(by_id[f"{prefix}-ok-extras"].value)
    assert extras["source_system"] == "MC-BaDinh" and extras["note"] == "Hồ sơ đất đai"
    assert extras["digitized"] is False and extras["reused_data"] is False
    # The record is raw UTF-8, not \\u-escaped (docs/event-contract.md, wire format).
    assert "Hồ sơ đất đai".encode() in by_id[f"{prefix}-ok-extras"].value


async def test_mixed_json_batch_reports_each_error_and_writes_only_valid_events(ingest: IngestUnderTest) -> None:
    key = await ingest.create_key(["H26.D01"])
    prefix = unique("mixed")
    items, expected = _mixed_batch(prefix)
    before = datetime.now(UTC)
    async with ingest.client(key["key"]) as client:
        response = await client.post("/v1/events", json=items)
    after = datetime.now(UTC)
    assert response.status_code == 200, response.text
    _check_response(response.json(), items, expected)
    await _check_topic(ingest, prefix, before, after)


async def test_mixed_ndjson_batch_with_an_unreadable_line(ingest: IngestUnderTest) -> None:
    key = await ingest.create_key(["H26.D01"])
    prefix = unique("ndjson")
    items, expected = _mixed_batch(prefix)
    lines = [orjson.dumps(item) for item in items]
    # A line that is not JSON takes index 13; a blank line counts for nothing.
    body = b"\n".join([*lines, b"", b"{not json", b""])
    before = datetime.now(UTC)
    async with ingest.client(key["key"]) as client:
        response = await client.post("/v1/events", content=body, headers={"Content-Type": "application/x-ndjson"})
    after = datetime.now(UTC)
    assert response.status_code == 200, response.text
    expected_all = {**expected, 13: "invalid_json"}
    _check_response(response.json(), [*items, None], expected_all)
    await _check_topic(ingest, prefix, before, after)


async def test_rejections_and_acceptances_are_counted_in_metrics(ingest: IngestUnderTest) -> None:
    key = await ingest.create_key(["H26"])
    async with ingest.client() as client:
        before = _samples((await client.get("/metrics")).text)
        prefix = unique("metrics")
        batch = [received_event(f"{prefix}-1"), received_event(f"{prefix}-2", channel="fax"), 7]
        response = await client.post("/v1/events", json=batch, headers={"Authorization": f"Bearer {key['key']}"})
        assert response.json()["accepted"] == 1
        after = _samples((await client.get("/metrics")).text)

    def delta(name: str) -> float:
        return after.get(name, 0.0) - before.get(name, 0.0)

    assert delta('ingest_events_accepted_total{endpoint="events"}') == 1
    assert delta('ingest_events_rejected_total{endpoint="events",reason="invalid_field"}') == 1
    assert delta('ingest_events_rejected_total{endpoint="events",reason="not_an_object"}') == 1
    latency = 'ingest_request_duration_seconds_count{method="POST",route="/v1/events",status="200"}'
    assert delta(latency) == 1


def _samples(exposition: str) -> dict[str, float]:
    samples = {}
    for line in exposition.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            samples[name] = float(value)
    return samples


async def test_a_unit_added_by_another_writer_is_found_on_a_miss(ingest: IngestUnderTest) -> None:
    """The registry changes behind this process's back (as another replica or the CLI would do)."""
    key = await ingest.create_key(["H26"])
    unit_id = unique("H26.D01.NEW")
    conn = await asyncpg.connect(ingest.database_url)
    try:  # written without NOTIFY, so only the reload-on-miss can find it
        await conn.execute(
            "INSERT INTO units (unit_id, name, level, parent_id, path) VALUES ($1, 'Phường Mới', 'commune', "
            "'H26.D01', ARRAY['H26', 'H26.D01', $1])",
            unit_id,
        )
    finally:
        await conn.close()
    prefix = unique("miss")
    # A reload on a miss happens at most every REGISTRY_MISS_REFRESH_S (2 s): the first try may come too soon
    # after the reload create_key triggered. Rejected events are not written, so trying again is harmless.
    async with ingest.client(key["key"]) as client:

        async def accepted() -> dict[str, Any] | None:
            body = (await client.post("/v1/events", json=[received_event(prefix, unit_id=unit_id)])).json()
            if body["accepted"] == 0:
                assert body["rejected"][0]["error"] == "unknown_unit"
                return None
            return dict(body)

        assert await eventually(accepted, timeout_s=15) == {"accepted": 1, "rejected": []}


async def test_ingest_refuses_to_start_without_its_topic(
    database_url: str, kafka_bootstrap: str, admin_token: str
) -> None:
    missing = unique("no-such-topic")
    env = {"DATABASE_URL": database_url, "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap, "ADMIN_TOKEN": admin_token,
           "EVENTS_TOPIC": missing}  # fmt: skip
    async with service_process("ingest", **env) as service:
        exit_code = await asyncio.wait_for(service.process.wait(), 60)
    # Leaving the block waited for the output pump, so the last lines are in service.output.
    assert exit_code != 0
    assert any(f"Kafka topic '{missing}' does not exist" in line for line in service.output), service.output[-20:]
