"""The accept use case (POST /v1/events, POST /v1/dvcqg/dossiers) on fakes of its publisher, registry and counters."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson
import pytest

from services.ingest.domain.batch import BatchError
from services.ingest.service.accept_events import AcceptEvents
from services.ingest.service.ports import BrokerUnavailableError
from tests.unit.ingest.fakes import FakeCounters, FakePublisher, FakeRegistryView, FakeStore, registry_of
from tests.unit.ingest.test_batch import event as batch_event
from tests.unit.ingest.test_redirections import DUE, REGISTRY_CSV

pytestmark = pytest.mark.unit

NOW = datetime(2025, 7, 15, 3, 0, tzinfo=UTC)
UNITS = REGISTRY_CSV + "H26.STP,Sở Tư pháp,department,H26,,,\n"
EVERYTHING = ("H26",)


def event(event_id: str, unit_id: str = "H26.DD", **overrides: Any) -> dict[str, Any]:
    return batch_event(event_id, unit_id, **{"occurred_at": "2025-07-10T08:00:00+07:00", "due_at": DUE, **overrides})


class World:
    """The use case wired to fakes."""

    def __init__(self, *, down: bool = False, max_event_bytes: int = 1_000_000) -> None:
        self.store = FakeStore(registry_of(UNITS), {"UBND quận Đống Đa": "H26.DD"})
        self.view = FakeRegistryView(self.store)
        self.publisher = FakePublisher(down=down)
        self.counters = FakeCounters()
        self.accept = AcceptEvents(
            self.publisher, self.view, self.counters, max_event_bytes=max_event_bytes, clock=lambda: NOW
        )

    def published_ids(self) -> list[str]:
        return [orjson.loads(value)["event_id"] for _, value in self.publisher.published]


async def test_valid_items_are_published_and_invalid_ones_answered_per_item() -> None:
    world = World()
    items = [event("a"), event("b", channel="pigeon"), event("c", unit_id="H26.STP"), "not an object"]
    answer = (await world.accept.events(items, EVERYTHING)).body()
    assert answer["accepted"] == 2 and "redirected" not in answer
    assert [(item["index"], item["error"]) for item in answer["rejected"]] == [
        (1, "invalid_field"),
        (3, "not_an_object"),
    ]
    assert world.published_ids() == ["a", "c"]
    key, value = world.publisher.published[0]
    assert key == b"HS-a" and orjson.loads(value)["ingested_at"].startswith("2025-07-15T03:00:00")
    assert world.counters.accepted_events == {"events": 2}
    assert sorted(world.counters.rejected_reasons) == ["invalid_field", "not_an_object"]


async def test_events_outside_the_keys_scope_are_forbidden() -> None:
    world = World()
    answer = (await world.accept.events([event("a"), event("b", unit_id="H26.STP")], ["H26.DD"])).body()
    assert answer["accepted"] == 1 and [item["error"] for item in answer["rejected"]] == ["forbidden_unit"]
    assert world.published_ids() == ["a"]


async def test_events_of_a_retired_unit_are_accepted_and_listed_as_redirected() -> None:
    world = World()
    answer = (await world.accept.events([event("old", unit_id="H26.HK.HB"), event("new")], EVERYTHING)).body()
    assert answer == {
        "accepted": 2,
        "rejected": [],
        "redirected": [{"index": 0, "event_id": "old", "unit_id": "H26.HK.HB", "effective_unit_id": "H26.P.HK"}],
    }


async def test_duplicate_items_are_each_accepted_and_published_as_sent() -> None:
    # Deduplication by event_id is downstream's (scoring); the gateway writes what it was given, in order.
    world = World()
    answer = (await world.accept.events([event("same"), event("same")], EVERYTHING)).body()
    assert answer == {"accepted": 2, "rejected": []}
    assert world.published_ids() == ["same", "same"]


async def test_an_unknown_unit_reloads_the_registry_once_and_is_accepted_when_it_now_exists() -> None:
    world = World()
    world.store.registry = registry_of(UNITS + "H26.NEW,Phường Mới,commune,H26,,,\n")  # added by another process
    answer = (await world.accept.events([event("a", unit_id="H26.NEW")], EVERYTHING)).body()
    assert answer == {"accepted": 1, "rejected": []} and world.view.reloads == 1


async def test_an_unknown_unit_stays_rejected_when_no_reload_is_due() -> None:
    world = World()
    world.view = FakeRegistryView(world.store, reload_on_miss=False)
    world.accept = AcceptEvents(world.publisher, world.view, world.counters, max_event_bytes=1_000_000)
    answer = (await world.accept.events([event("a", unit_id="H26.NOPE")], EVERYTHING)).body()
    assert answer["accepted"] == 0 and [item["error"] for item in answer["rejected"]] == ["unknown_unit"]


async def test_an_event_kafka_would_refuse_is_rejected_as_too_large() -> None:
    world = World(max_event_bytes=600)
    answer = (await world.accept.events([event("big", note="x" * 1000), event("small")], EVERYTHING)).body()
    assert answer["accepted"] == 1
    assert [(item["index"], item["error"]) for item in answer["rejected"]] == [(0, "event_too_large")]
    assert world.published_ids() == ["small"]


async def test_broker_down_means_nothing_acknowledged() -> None:
    world = World(down=True)
    with pytest.raises(BrokerUnavailableError):
        await world.accept.events([event("a"), event("b"), event("bad", channel="pigeon")], EVERYTHING)
    assert world.publisher.published == []
    assert world.counters.accepted_events == {} and world.counters.rejected_reasons == []
    assert world.counters.unacknowledged_events == [("events", "TimeoutError", 2)]


def dvcqg_snapshot(ma: str, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "MaHoSo": ma,
        "MaTTHC": "1.004227",
        "DonViXuLy": "UBND quận Đống Đa",  # an alias
        "KenhThucHien": "2",
        "TrangThaiHoSo": "2",
        "NgayTiepNhan": "20250710080000",
        "NgayHenTra": "20250720170000",
    }
    body.update(overrides)
    return body


async def test_dvcqg_snapshots_become_events_and_a_bad_snapshot_is_one_rejected_item() -> None:
    world = World()
    document = {"service": "DongBoHoSoMC", "data": [dvcqg_snapshot("HS-1"), dvcqg_snapshot("HS-2", DonViXuLy="?")]}
    answer = (await world.accept.dvcqg(document, EVERYTHING)).body()
    assert answer["accepted"] >= 1 and [item["index"] for item in answer["rejected"]] == [1]
    published = [orjson.loads(value) for _, value in world.publisher.published]
    assert {event["unit_id"] for event in published} == {"H26.DD"}
    assert {event["dossier_id"] for event in published} == {"HS-1"}
    assert world.counters.accepted_events == {"dvcqg": answer["accepted"]}


async def test_dvcqg_resending_a_snapshot_yields_the_same_event_ids() -> None:
    world = World()
    await world.accept.dvcqg(dvcqg_snapshot("HS-1"), EVERYTHING)
    first = world.published_ids()
    await world.accept.dvcqg([dvcqg_snapshot("HS-1")], EVERYTHING)
    assert world.published_ids() == first + first


async def test_a_dvcqg_body_that_is_no_snapshot_is_refused_whole() -> None:
    world = World()
    with pytest.raises(BatchError):
        await world.accept.dvcqg("DongBoHoSoMC", EVERYTHING)
    assert world.publisher.published == []


async def test_dvcqg_with_the_broker_down_acknowledges_nothing() -> None:
    world = World(down=True)
    with pytest.raises(BrokerUnavailableError):
        await world.accept.dvcqg(dvcqg_snapshot("HS-1"), EVERYTHING)
    assert world.counters.accepted_events == {} and world.counters.unacknowledged_events[0][0] == "dvcqg"


def test_refusals_are_counted_per_endpoint_and_code() -> None:
    world = World()
    world.accept.refused("events", "invalid_api_key")
    assert world.counters.refusals == [("events", "invalid_api_key")]
