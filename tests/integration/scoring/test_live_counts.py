"""The live figures from the maintained counts (migration 0012) are exactly those of a scan of every open dossier.

A randomized stream of dossier events (receipts, holds and releases that move the due time, payments, endings),
applied by two appliers at once as two scoring processes would, with a month roll-over and folds of the deltas at
random points; after each step both forms are compared at instants chosen where the figures change: every due time
and hold start (one microsecond before, at and after), 24 hours before every due time, month ends equal to due
times, and the real month's end.
"""

from __future__ import annotations

import asyncio
import random
import zlib
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import orjson

from services.scoring.adapters.metrics import METRICS
from services.scoring.adapters.queries import (
    COMPACT_LIVE_COUNTS,
    SCAN_LIVE_BY_HOME_UNIT,
    SELECT_LIVE_BY_HOME_UNIT,
    live_parameters,
)
from services.scoring.adapters.store import PostgresWriteStore
from services.scoring.adapters.units import UnitDirectory
from services.scoring.adapters.wire import ContractDecoder
from services.scoring.domain.timebase import month_end, to_datetime
from services.scoring.service.apply_batch import BatchApplier
from services.scoring.service.periods import current_month
from shared.db import create_pool
from tests.integration.conftest import unique
from tests.integration.scoring.harness import RawRecord, in_process_appliers, no_dead_letters, prepare_database

US = timedelta(microseconds=1)


def _wire(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def dossier_events(rnd: random.Random, dossier: str, unit: str, start: datetime) -> list[dict[str, Any]]:
    """One dossier's events: a receipt, maybe holds and releases (each release sets a new due time), payments, and
    maybe an ending. Due times on the hour, on the minute or anywhere, so that some fall on an hour's first µs."""

    def due_after(moment: datetime) -> datetime:
        due = moment + timedelta(hours=rnd.randint(1, 96), seconds=rnd.randint(0, 3599))
        return due.replace(minute=0, second=0) if rnd.random() < 0.4 else due

    events: list[dict[str, Any]] = []

    def add(kind: str, moment: datetime, **extra: Any) -> None:
        ingested = moment + timedelta(minutes=5)
        events.append({"event_id": f"{dossier}-{len(events)}", "dossier_id": dossier, "unit_id": unit, "type": kind,
                       "occurred_at": _wire(moment), "ingested_at": _wire(ingested), **extra})  # fmt: skip

    moment = start
    add("received", moment, channel="online", due_at=_wire(due_after(moment)))
    for _ in range(rnd.randint(0, 3)):
        moment += timedelta(minutes=rnd.randint(1, 600))
        roll = rnd.random()
        if roll < 0.3:
            hold, release = (
                ("supplement_requested", "supplement_received") if rnd.random() < 0.5 else ("paused", "resumed")
            )
            add(hold, moment)
            if rnd.random() < 0.6:  # otherwise on hold for good
                moment += timedelta(minutes=rnd.randint(1, 600))
                add(release, moment, due_at=_wire(due_after(moment)))
        elif roll < 0.6:
            add("payment", moment, method="online", amount=rnd.randint(1, 9) * 1000)
        elif roll < 0.8:
            ending = rnd.choice(["resolved", "returned", "withdrawn"])
            add(ending, moment, **({"outcome": "approved", "e_result": True} if ending == "resolved" else {}))
            break
        else:
            add("rating", moment, level="satisfied")
    return events


async def instants_to_check(conn: asyncpg.Connection) -> list[tuple[datetime, datetime]]:
    """(now, month end) pairs where the live figures of some open dossier change."""
    rows = await conn.fetch(
        "SELECT due_at, hold_since FROM dossiers WHERE received_at IS NOT NULL AND ended_at IS NULL"
    )
    moments = [moment for row in rows for moment in row if moment is not None]
    real_now = datetime.now(UTC)
    pairs: list[tuple[datetime, datetime]] = []
    for moment in moments:
        for now in (moment - US, moment, moment + US, moment - timedelta(hours=24), moment - timedelta(hours=24) + US):
            pairs.append((now, month_end_of(now)))
        pairs.append((moment - timedelta(hours=3), moment))  # the month ends exactly at a due time
        pairs.append((moment - timedelta(hours=3), moment + US))
    pairs.append((real_now, month_end_of(real_now)))
    return pairs


def month_end_of(now: datetime) -> datetime:
    return to_datetime(month_end(current_month(now)))


async def assert_same_figures(conn: asyncpg.Connection, pairs: Iterable[tuple[datetime, datetime]]) -> int:
    checked = 0
    for now, end in pairs:
        scanned = sorted(tuple(row) for row in await conn.fetch(SCAN_LIVE_BY_HOME_UNIT, now, end))
        kept = sorted(tuple(row) for row in await conn.fetch(SELECT_LIVE_BY_HOME_UNIT, *live_parameters(now, end)))
        assert kept == scanned, (now, end)
        checked += 1
    return checked


async def test_maintained_live_counts_equal_a_full_scan_after_a_randomized_stream(fresh_database: str) -> None:
    rnd = random.Random(20261130)
    prefix = unique("lv").replace("-", "")
    await prepare_database(fresh_database, prefix)
    units = [f"{prefix}.STP", f"{prefix}.SXD", f"{prefix}.BD.PX", f"{prefix}.BD.TB", f"{prefix}.BV.TT"]
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(days=3)
    events: list[dict[str, Any]] = []
    for n in range(300):
        moment = start + timedelta(minutes=rnd.randint(0, 2 * 24 * 60), seconds=rnd.randint(0, 59))
        events.extend(dossier_events(rnd, f"{prefix}-D{n}", rnd.choice(units), moment))
    rnd.shuffle(events)  # out of order, as a back-fill may deliver them: merges move due times back and forth

    conn = await asyncpg.connect(fresh_database)
    checked = 0
    try:
        async with in_process_appliers(fresh_database, 2) as appliers:
            offset = 0
            while offset < len(events):
                size = rnd.randint(20, 150)
                part, offset = events[offset : offset + size], offset + size
                # Two processes at once, each with the dossiers of its partitions.
                by_process: list[list[RawRecord]] = [[], []]
                for event in part:
                    key = event["dossier_id"].encode()
                    by_process[zlib.crc32(key) % 2].append(RawRecord(orjson.dumps(event), key, offset))
                pairs = zip(appliers, by_process, strict=True)
                await asyncio.gather(*(applier.apply(records) for applier, records in pairs))
                if rnd.random() < 0.5:
                    await conn.execute(COMPACT_LIVE_COUNTS)
                if rnd.random() < 0.2:
                    checked += await assert_same_figures(conn, rnd.sample(await instants_to_check(conn), 40))

        # The month roll-over rewrites every open dossier (a new evaluated month): the counts must not move.
        pool = await create_pool(fresh_database, max_size=2)
        try:
            directory = UnitDirectory(pool)
            await directory.load()
            next_month = datetime.now(UTC) + timedelta(days=40)
            roller = BatchApplier(
                PostgresWriteStore(pool),
                directory,
                ContractDecoder(),
                no_dead_letters,
                METRICS,
                clock=lambda: next_month,
            )
            rolled = await roller.roll_over_open_dossiers(chunk=37)
        finally:
            await pool.close()
        assert rolled > 0
        pending = await conn.fetchval("SELECT count(*) FROM live_open_deltas")
        checked += await assert_same_figures(conn, await instants_to_check(conn))  # deltas not folded yet
        assert await conn.fetchval(COMPACT_LIVE_COUNTS) == pending
        checked += await assert_same_figures(conn, await instants_to_check(conn))
        assert await conn.fetchval("SELECT count(*) FROM live_open_counts WHERE n <= 0") == 0
        open_now = await conn.fetchval(
            "SELECT count(*) FROM dossiers WHERE received_at IS NOT NULL AND ended_at IS NULL"
        )
        assert open_now > 50
        assert await conn.fetchval("SELECT sum(n) FROM live_open_counts") == open_now
    finally:
        await conn.close()
    assert checked > 1000
