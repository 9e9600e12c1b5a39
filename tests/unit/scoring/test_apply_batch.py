"""The apply-a-batch use case (services/scoring/service/apply_batch.py) on hand-written fakes of its stores,
registry copy and dead-letter publisher (tests/unit/scoring/fakes.py); the records go through the service's own
decoder (pure: adapters/wire.py)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import orjson
import pytest

from services.scoring.adapters.wire import ContractDecoder
from services.scoring.domain.counters import CounterKey, add_into, contribution
from services.scoring.domain.timebase import to_instant
from services.scoring.service.apply_batch import BatchApplier
from tests.unit.scoring.fakes import (
    OCTOBER,
    SEPTEMBER,
    FakeDeadLetterPublisher,
    FakeDirectory,
    FakeMetrics,
    FakeWriteStore,
    Record,
)

pytestmark = pytest.mark.unit


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


class World:
    """The use case wired to fakes, as bootstrap.py wires it to PostgreSQL and Kafka."""

    def __init__(self, units: tuple[str, ...] = ("U1", "U2"), now: datetime = SEPTEMBER, part: int = 2) -> None:
        self.directory = FakeDirectory(units)
        self.store = FakeWriteStore(self.directory)
        self.dead_letters = FakeDeadLetterPublisher()
        self.metrics = FakeMetrics()
        self.clock = Clock(now)
        self.applier = BatchApplier(
            self.store, self.directory, ContractDecoder(), self.dead_letters, self.metrics,
            clock=self.clock, part_dossiers=part,
        )  # fmt: skip

    def counters(self) -> dict[CounterKey, int]:
        return {key: value for key, value in self.store.tables.counters.items() if value}

    def rebuilt(self) -> dict[CounterKey, int]:
        """What the counters must be: every stored dossier's contribution now (what recompute checks)."""
        out: dict[CounterKey, int] = {}
        for state, _ in self.store.tables.dossiers.values():
            add_into(out, contribution(state, to_instant(self.clock())))
        return out


def event(event_id: str, dossier: str, kind: str, unit: str = "U1", **fields: Any) -> dict[str, Any]:
    return {"event_id": event_id, "dossier_id": dossier, "unit_id": unit, "type": kind,
            "occurred_at": "2026-09-02T09:00:00+07:00", "ingested_at": "2026-09-02T02:00:00Z", **fields}  # fmt: skip


def receipt(dossier: str, unit: str = "U1") -> dict[str, Any]:
    return event(f"{dossier}-rcv", dossier, "received", unit, channel="online", due_at="2026-09-10T17:00:00+07:00")


def records(*items: dict[str, Any] | bytes, first_offset: int = 0) -> list[Record]:
    return [
        Record(item if isinstance(item, bytes) else orjson.dumps(item), first_offset + n)
        for n, item in enumerate(items)
    ]


def valid_batch() -> list[Record]:
    return records(
        receipt("A"),
        event("A-pay", "A", "payment", method="online", amount=1000),
        receipt("B", "U2"),
        receipt("C"),
        event(
            "C-res",
            "C",
            "resolved",
            outcome="approved",
            occurred_at="2026-09-05T09:00:00+07:00",
            ingested_at="2026-09-05T03:00:00Z",
        ),
    )


async def test_a_valid_batch_is_merged_counted_and_announced_in_one_transaction() -> None:
    world = World()
    report = await world.applier.apply(valid_batch())
    assert (report.applied, report.duplicates, report.dead) == (5, 0, [])
    assert set(world.store.tables.dossiers) == {"A", "B", "C"}
    assert world.counters() == world.rebuilt()
    assert world.counters()[("U1", "2026-09", "received")] == 2
    assert world.store.transactions == 1
    assert world.store.tables.notified == [{"2026-09"}]
    assert report.months == {"2026-09"}
    assert {"U1", "U2", "D1", "CITY"} <= report.touched_units
    assert world.metrics.batches == [(5, 5, 0, [])]
    assert world.dead_letters.published == []


async def test_invalid_records_are_dead_lettered_stored_then_published_and_the_rest_applied() -> None:
    world = World()
    batch = records(receipt("A"), b"{not json", event("X-1", "X", "teleported"), b'["an", "array"]')
    report = await world.applier.apply(batch)
    assert report.applied == 1
    assert [str(letter.rejection.error) for letter in report.dead] == ["invalid_json", "unknown_type", "not_an_object"]
    assert [letter.record.offset for letter in world.dead_letters.published] == [1, 2, 3]
    rows = world.store.tables.dead_letters.values()
    assert [(row.record.offset, row.status, row.unit_id) for row in rows] == [(1, "dead", None), (2, "dead", None),
                                                                              (3, "dead", None)]  # fmt: skip
    assert world.metrics.batches == [(4, 1, 0, ["invalid_json", "unknown_type", "not_an_object"])]


async def test_nothing_is_published_when_the_transaction_fails() -> None:
    world = World()
    world.store.down = True
    with pytest.raises(ConnectionError):
        await world.applier.apply(records(receipt("A"), b"{not json"))
    assert world.dead_letters.published == []
    assert world.store.tables.dossiers == {} and world.store.tables.dead_letters == {}


async def test_a_unit_registered_after_the_copy_was_read_is_looked_up_not_dead_lettered() -> None:
    world = World()
    world.directory.committed.add("U7")  # committed by ingest; this process's copy is a second old
    report = await world.applier.apply(records(receipt("A", "U7")))
    assert (report.applied, report.dead) == (1, [])
    assert world.directory.loads == 1


async def test_an_unknown_unit_waits_pending_and_is_applied_exactly_once_when_registered() -> None:
    world = World()
    report = await world.applier.apply(records(receipt("A"), receipt("P", "U9")))
    assert report.applied == 1
    (letter,) = report.dead
    assert (str(letter.rejection.error), letter.status, letter.unit_id) == ("unknown_unit", "pending", "U9")
    assert (await world.applier.redrive(pending_only=True)).applied == 0  # U9 still unknown: stays pending

    world.directory.committed.add("U9")
    first = await world.applier.redrive(pending_only=True)
    again = await world.applier.redrive(pending_only=True)
    assert (first.applied, first.still_rejected, again.applied) == (1, 0, 0)
    assert [row.status for row in world.store.tables.dead_letters.values()] == ["applied"]
    assert world.counters()[("U9", "2026-09", "received")] == 1
    assert world.counters() == world.rebuilt()
    assert "U9" in first.touched_units and first.months == {"2026-09"}
    assert world.metrics.redrives == [(1, 0)]  # the redrives that found nothing to lock observed nothing


async def test_an_operator_redrive_of_a_still_invalid_record_keeps_it_with_the_new_reason() -> None:
    world = World()
    report = await world.applier.apply(records(b"{not json"))
    (dead_id,) = world.store.tables.dead_letters
    again = await world.applier.redrive(pending_only=False, ids=[dead_id])
    assert (report.applied, again.applied, again.still_rejected) == (0, 0, 1)
    row = world.store.tables.dead_letters[dead_id]
    assert (row.status, row.attempts, str(row.rejection.error)) == ("dead", 1, "invalid_json")


async def test_replaying_a_batch_changes_nothing() -> None:
    world = World()
    batch = [*valid_batch(), *records(b"{not json", receipt("P", "U9"), first_offset=5)]
    await world.applier.apply(batch)
    counters, dossiers, dead = world.counters(), dict(world.store.tables.dossiers), len(world.store.tables.dead_letters)
    replay = await world.applier.apply(batch)
    assert (replay.applied, replay.duplicates) == (0, 5)
    assert world.counters() == counters
    assert world.store.tables.dossiers == dossiers
    assert len(world.store.tables.dead_letters) == dead == 2
    assert world.store.tables.notified == [{"2026-09"}]  # a batch of duplicates changes no figure


async def test_new_dossiers_created_meanwhile_by_another_consumer_are_merged_into_theirs() -> None:
    theirs, mine = World(), World()
    await theirs.applier.apply(records(receipt("A")))
    (state, _), = theirs.store.tables.dossiers.values()  # fmt: skip
    mine.store.created_meanwhile = {"A": state}
    report = await mine.applier.apply(records(receipt("A"), event("A-pay", "A", "payment", method="online")))
    assert report.applied == 1  # the receipt was theirs already
    assert {r.event_id for r in mine.store.tables.dossiers["A"][0].records} == {"A-rcv", "A-pay"}
    # The plain insert failed on their row; the batch was applied again in a transaction expecting it.
    assert mine.store.modes == [False, True]


async def test_a_batch_without_such_a_race_is_one_transaction_with_the_plain_insert() -> None:
    world = World()
    await world.applier.apply(valid_batch())
    await world.applier.apply(records(receipt("D"), first_offset=10))
    assert world.store.modes == [False, False]


async def test_open_dossiers_roll_into_the_new_month_once() -> None:
    world = World()
    await world.applier.apply(valid_batch())  # A and B are open, C resolved
    world.clock.now = OCTOBER
    assert await world.applier.roll_over_open_dossiers(chunk=1) == 2
    assert await world.applier.roll_over_open_dossiers() == 0
    months = {i: month for i, (_, month) in world.store.tables.dossiers.items()}
    assert months == {"A": "2026-10", "B": "2026-10", "C": "2026-09"}
    assert world.counters() == world.rebuilt()


async def test_a_batch_of_events_ingested_long_ago_is_reported_as_catching_up() -> None:
    # SEPTEMBER is 2026-09-20 03:00Z; the batch's newest event was ingested on 2026-09-05: a back-fill or a replay.
    world = World()
    assert (await world.applier.apply(valid_batch())).catching_up is True
    # A batch that reaches an event ingested a minute ago has caught up, whatever older events it also holds.
    fresh = event("D-rcv", "D", "received", channel="online", due_at="2026-09-25T17:00:00+07:00",
                  occurred_at="2026-09-20T09:59:00+07:00", ingested_at="2026-09-20T02:59:00Z")  # fmt: skip
    report = await world.applier.apply(records(receipt("E"), fresh, first_offset=10))
    assert report.catching_up is False
    # Nothing decodable: the batch says nothing either way.
    assert (await world.applier.apply(records(b"not json", first_offset=20))).catching_up is None
