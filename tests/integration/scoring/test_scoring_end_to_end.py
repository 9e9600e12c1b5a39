"""Events produced to the real broker appear in the scoring API with exactly the expected figures.

The September 2026 figures below are worked out by hand from SPEC §4–§5 (see the comments), so this test checks
the whole chain — Kafka, decoding, merge, counter deltas rolled up the unit tree, SQL, rates, points, score, rank —
against arithmetic a reader can redo.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import orjson
import pytest
from aiokafka import AIOKafkaProducer

from tests.integration.conftest import unique
from tests.integration.scoring.harness import (
    create_topics,
    get_json,
    ingested_after,
    prepare_database,
    produce,
    scoring_service,
    utc,
    vn,
    wait_for,
)


def ev(
    event_id: str, dossier: str, unit: str, kind: str, at: str, late: timedelta | None = None, **fields: Any
) -> dict:
    occurred = vn(at)
    ingested = ingested_after(occurred, late or timedelta(hours=1))
    return {"event_id": event_id, "dossier_id": dossier, "unit_id": unit, "type": kind, "occurred_at": occurred,
            "ingested_at": ingested, **fields}  # fmt: skip


def september_events(p: str) -> list[dict]:
    stp, px = f"{p}.STP", f"{p}.BD.PX"
    return [
        # D1 at Sở Tư pháp: online, digitised, resolved early with an e-result, paid online, rated satisfied.
        ev(f"{p}-1a", f"{p}-D1", stp, "received", "2026-09-02 09:00", channel="online", due_at=vn("2026-09-05 17:00"),
           digitized=True),
        ev(f"{p}-1b", f"{p}-D1", stp, "payment", "2026-09-02 09:30", method="online", amount=50000),
        ev(f"{p}-1c", f"{p}-D1", stp, "resolved", "2026-09-04 10:00", outcome="approved", e_result=True),
        ev(f"{p}-1d", f"{p}-D1", stp, "rating", "2026-09-05 08:00", level="satisfied"),
        # D2 at Sở Tư pháp: direct, resolved LATE, paid at the counter, rated dissatisfied; one event synced late.
        ev(f"{p}-2a", f"{p}-D2", stp, "received", "2026-09-03 14:00", channel="direct", due_at=vn("2026-09-06 17:00")),
        ev(f"{p}-2b", f"{p}-D2", stp, "payment", "2026-09-03 14:10", late=timedelta(days=2), method="counter",
           amount=20000),
        ev(f"{p}-2c", f"{p}-D2", stp, "resolved", "2026-09-08 09:00", outcome="approved"),
        ev(f"{p}-2d", f"{p}-D2", stp, "rating", "2026-09-09 09:00", level="dissatisfied"),
        # D3 at Phường Phúc Xá (Ba Đình): online, reused data; a supplement moves the due; resolved before it.
        ev(f"{p}-3a", f"{p}-D3", px, "received", "2026-09-10 08:00", channel="online", due_at=vn("2026-09-12 17:00"),
           reused_data=True, procedure_id="1.001234"),
        ev(f"{p}-3b", f"{p}-D3", px, "supplement_requested", "2026-09-11 09:00"),
        ev(f"{p}-3c", f"{p}-D3", px, "supplement_received", "2026-09-14 09:00", due_at=vn("2026-09-18 17:00")),
        ev(f"{p}-3d", f"{p}-D3", px, "resolved", "2026-09-17 15:00", outcome="approved", e_result=True),
    ]  # fmt: skip


def live_events(p: str, now: datetime) -> list[dict]:
    tt, bt = f"{p}.BV.TT", f"{p}.BV.BT"

    def at(delta: timedelta) -> str:
        return utc(now + delta)

    def open_event(event_id: str, dossier: str, unit: str, received: timedelta, due: timedelta) -> dict:
        return {"event_id": event_id, "dossier_id": dossier, "unit_id": unit, "type": "received",
                "occurred_at": at(received), "ingested_at": at(received), "channel": "direct",
                "due_at": at(due), "procedure_id": "2.000001"}  # fmt: skip

    return [
        open_event(f"{p}-4a", f"{p}-D4", tt, -timedelta(days=3), -timedelta(days=1)),  # overdue
        open_event(f"{p}-5a", f"{p}-D5", tt, -timedelta(hours=1), timedelta(hours=10)),  # due within 24 h
        open_event(f"{p}-6a", f"{p}-D6", bt, -timedelta(days=3), -timedelta(days=1)),  # overdue, but on hold:
        {
            "event_id": f"{p}-6b",
            "dossier_id": f"{p}-D6",
            "unit_id": bt,
            "type": "supplement_requested",
            "occurred_at": at(-timedelta(days=2)),
            "ingested_at": at(-timedelta(days=2)),
        },
    ]


@pytest.fixture
async def scenario(fresh_database: str, kafka_bootstrap: str):
    prefix = unique("u").replace("-", "")
    await prepare_database(fresh_database, prefix)
    topics = await create_topics(kafka_bootstrap)
    return prefix, fresh_database, topics


async def test_events_on_kafka_appear_in_the_api_with_exact_figures(scenario, kafka_bootstrap: str) -> None:
    p, database_url, topics = scenario
    now = datetime.now(UTC)
    events = september_events(p) + live_events(p, now)
    duplicates = [dict(events[0], ingested_at=utc(now)), dict(events[5])]  # re-deliveries change nothing
    async with scoring_service(database_url, kafka_bootstrap, topics) as svc:
        await produce(kafka_bootstrap, topics.events, events + duplicates, shuffle=7)
        city = await wait_for(lambda: get_json(svc, f"/v1/units/{p}.H26/indicators", period="2026-09"),
                              lambda body: body.get("counters", {}).get("events") == 12)  # fmt: skip

        stp = await get_json(svc, f"/v1/units/{p}.STP/indicators", period="2026-09")
        assert stp["counters"] == {
            "received": 2, "received_online": 1, "received_digitized": 1, "received_reused": 0,
            "resolved": 2, "resolved_with_due": 2, "resolved_on_time": 1, "resolved_e_result": 1,
            "payments": 2, "payments_online": 1, "ratings": 2, "ratings_satisfied": 1,
            "events": 8, "events_timely": 7, "progress_total": 2, "progress_on_time": 1,
        }  # fmt: skip
        assert stp["rates"]["timely_sync_rate"] == pytest.approx(7 / 8)
        assert stp["rates"]["on_time_rate"] == pytest.approx(0.5)
        assert stp["rates"]["data_reuse_rate"] == 0
        # 18×7/8 + 20×0.5 + 12×min(0.5/0.5,1) + 10×0.5/0.8 + 18×0.5/0.9 + 8×0.5 + 8×0.5 + 6×0 = 62 of 100.
        assert stp["score"] == pytest.approx(62.0)
        assert stp["groups"]["payment"] == {"points": pytest.approx(6.25), "max": 10}
        # rank_of counts the RANKED departments (SPEC §5 revised): Sở Xây dựng has no data, so it is not ranked.
        assert (stp["rank"], stp["rank_of"], stp["unranked_reason"]) == (1, 1, None)

        ba_dinh = await get_json(svc, f"/v1/units/{p}.BD/indicators", period="2026-09")
        assert ba_dinh["counters"]["events"] == 4 and ba_dinh["counters"]["resolved_on_time"] == 1
        assert ba_dinh["rates"]["satisfaction_rate"] is None and ba_dinh["rates"]["online_payment_rate"] is None
        # Rated indicators only: (18 + 20 + 12 + 0 + 8 + 6) / (18 + 20 + 12 + 8 + 8 + 6) = 64 / 72.
        assert ba_dinh["score"] == pytest.approx(100 * 64 / 72)

        # The city covers everything; Sở Xây dựng and Ba Vì have no September data: null score, no rank.
        assert city["counters"]["received"] == 3 and city["counters"]["progress_on_time"] == 2
        ranking = await get_json(svc, "/v1/rankings", level="district", period="2026-09")
        assert [(i["unit_id"], i["rank"]) for i in ranking["items"]] == [(f"{p}.BD", 1), (f"{p}.BV", None)]

        # Live counters: D4 overdue, D5 due within 24 h, D6 overdue but on hold (not counted as overdue).
        ba_vi = await get_json(svc, f"/v1/units/{p}.BV/indicators")
        assert (ba_vi["live"]["open"], ba_vi["live"]["overdue_open"], ba_vi["live"]["due_soon"]) == (3, 1, 1)
        overdue = await get_json(svc, f"/v1/units/{p}.BV/dossiers", state="overdue")
        assert [item["dossier_id"] for item in overdue["items"]] == [f"{p}-D4"]
        assert overdue["items"][0]["days_late"] == pytest.approx(1.0, abs=0.01)

        # Prometheus: events applied, dead letters none, consumer lag per partition, per-unit score gauges.
        async def metrics_text() -> str:
            async with httpx.AsyncClient(base_url=svc.base_url) as client:
                return (await client.get("/metrics")).text

        # Gauges are of the current month: Ba Vì has this month's open dossiers (Sở Tư pháp only September's).
        ba_vi_gauge = f'tthc_unit_live{{counter="overdue_open",level="district",unit_id="{p}.BV"}} 1.0'
        metrics = await wait_for(metrics_text, lambda text: ba_vi_gauge in text)
        assert _metric(metrics, "tthc_scoring_events_applied_total") == 16
        assert _metric(metrics, "tthc_scoring_events_duplicate_total") == 2
        assert "tthc_scoring_consumer_lag{partition=" in metrics

        # A late event changes a past month: D3 is rated "very satisfied" on 20 September, synced only now.
        late = {"event_id": f"{p}-3e", "dossier_id": f"{p}-D3", "unit_id": f"{p}.BD.PX", "type": "rating",
                "occurred_at": vn("2026-09-20 10:00"), "ingested_at": utc(now), "level": "very_satisfied"}  # fmt: skip
        await produce(kafka_bootstrap, topics.events, [late])
        ba_dinh = await wait_for(lambda: get_json(svc, f"/v1/units/{p}.BD/indicators", period="2026-09"),
                                 lambda body: body["counters"]["ratings"] == 1)  # fmt: skip
        assert ba_dinh["counters"]["ratings_satisfied"] == 1
        assert (ba_dinh["counters"]["events"], ba_dinh["counters"]["events_timely"]) == (5, 4)
        # satisfaction now 1.0 (18 points); publicity 18 × 4/5: (14.4 + 20 + 12 + 0 + 8 + 6 + 18) / 90.
        assert ba_dinh["score"] == pytest.approx(100 * 78.4 / 90)


async def test_unknown_unit_is_404_and_malformed_period_is_422(scenario, kafka_bootstrap: str) -> None:
    p, database_url, topics = scenario
    async with scoring_service(database_url, kafka_bootstrap, topics) as svc:
        missing = await get_json(svc, "/v1/units/NO.SUCH.UNIT/indicators")
        assert missing["status"] == 404 and missing["error"] == "unknown_unit"
        malformed = await get_json(svc, f"/v1/units/{p}.H26/indicators", period="2026-13")
        assert malformed["status"] == 422 and malformed["error"] == "invalid_period"


async def test_live_stream_pushes_indicators_of_changed_units(scenario, kafka_bootstrap: str) -> None:
    p, database_url, topics = scenario
    now = datetime.now(UTC)
    async with scoring_service(database_url, kafka_bootstrap, topics) as svc:
        seen: dict[str, dict] = {}
        connected = asyncio.Event()

        async def listen() -> None:
            async with (
                httpx.AsyncClient(base_url=svc.base_url, timeout=None) as client,
                client.stream("GET", "/v1/stream") as response,
            ):
                assert response.headers["content-type"].startswith("text/event-stream")
                event = None
                async for line in response.aiter_lines():
                    connected.set()  # the server's first line ("retry: …") means we are subscribed
                    if line.startswith("event: "):
                        event = line[7:]
                    elif line.startswith("data: ") and event == "indicators":
                        body = orjson.loads(line[6:])
                        seen[body["unit_id"]] = body
                        if {f"{p}.BV.TT", f"{p}.BV", f"{p}.H26"} <= set(seen):
                            return

        listener = asyncio.create_task(listen())
        await asyncio.wait_for(connected.wait(), 10)
        await produce(kafka_bootstrap, topics.events, live_events(p, now)[:1])
        await asyncio.wait_for(listener, 30)
        assert seen[f"{p}.BV"]["live"]["overdue_open"] == 1
        assert seen[f"{p}.BV"]["ancestors"] == [f"{p}.H26"]


async def test_live_stream_relays_indicators_published_by_another_scoring_process(
    scenario, kafka_bootstrap: str
) -> None:
    """With several scoring processes, each publishes the units its own batches touched: a browser connected to
    this one must also get what another one publishes (the relay reads the topic, not the local publisher)."""
    p, database_url, topics = scenario
    async with scoring_service(database_url, kafka_bootstrap, topics) as svc:
        received: list[dict] = []
        connected = asyncio.Event()

        async def listen() -> None:
            async with (
                httpx.AsyncClient(base_url=svc.base_url, timeout=None) as client,
                client.stream("GET", "/v1/stream") as response,
            ):
                event = None
                async for line in response.aiter_lines():
                    connected.set()
                    if line.startswith("event: "):
                        event = line[7:]
                    elif line.startswith("data: ") and event == "indicators":
                        received.append(orjson.loads(line[6:]))
                        return

        listener = asyncio.create_task(listen())
        await asyncio.wait_for(connected.wait(), 10)
        from_elsewhere = {"unit_id": f"{p}.BD", "published_by": "another scoring process"}
        producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap)
        await producer.start()
        try:
            # The relay starts at the latest offset once its fetcher has looked it up: a message sent in the
            # instant before that is (rightly) not replayed, so send again until one arrives.
            for _ in range(15):
                await producer.send_and_wait(topics.indicators, orjson.dumps(from_elsewhere), key=f"{p}.BD".encode())
                done, _ = await asyncio.wait({listener}, timeout=2)
                if done:
                    break
        finally:
            await producer.stop()
        await asyncio.wait_for(listener, 5)
        assert received == [from_elsewhere]


def _metric(text: str, name: str) -> float:
    """The value of an unlabelled Prometheus sample."""
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    raise AssertionError(f"{name} not exported")
