"""A unit moved to another parent in the registry carries its counted history to its new ancestors at once: the
stored counters are each unit's own, summed up the current tree when read, so nothing is rewritten — and
`recompute` agrees. A process that still had the old registry in memory counts later events the same way."""

from __future__ import annotations

from datetime import UTC, datetime

import asyncpg
import orjson

from services.scoring.adapters.audit_store import PostgresCounterAudit
from services.scoring.adapters.profile_file import ProfileStore
from services.scoring.adapters.queries import PgFigures
from services.scoring.adapters.units import UnitDirectory
from services.scoring.bootstrap import build_applier
from services.scoring.service.periods import resolve_period
from services.scoring.service.reading import ScoringReader
from services.scoring.service.recompute import Comparison, compare
from services.scoring.settings import REPO_ROOT
from shared.db import create_pool
from tests.integration.conftest import unique
from tests.integration.scoring.harness import RawRecord, no_dead_letters, prepare_database

SEPTEMBER = datetime(2026, 9, 20, 3, tzinfo=UTC)


def receipts(unit: str, dossiers: list[str]) -> list[RawRecord]:
    return [
        RawRecord(
            orjson.dumps({"event_id": f"{d}-rcv", "dossier_id": d, "unit_id": unit, "type": "received",
                          "occurred_at": "2026-09-02T09:00:00+07:00", "ingested_at": "2026-09-02T02:00:00Z",
                          "channel": "online", "due_at": "2026-09-10T17:00:00+07:00"}),
            d.encode(),
            n,
        )
        for n, d in enumerate(dossiers)
    ]  # fmt: skip


async def received(reader: ScoringReader, *units: str) -> list[int]:
    await reader.directory.load()
    figures = await reader.month_figures(resolve_period("2026-09", SEPTEMBER), fresh=True)
    return [figures.get(unit, {}).get("received", 0) for unit in units]


async def test_moving_a_commune_moves_its_history_and_later_events_follow_the_new_tree(fresh_database: str) -> None:
    p = unique("m").replace("-", "")
    await prepare_database(fresh_database, p)
    pool = await create_pool(fresh_database, max_size=3)
    other_pool = await create_pool(fresh_database, max_size=2)
    conn = await asyncpg.connect(fresh_database)
    try:
        directory = UnitDirectory(pool)
        await directory.load()
        applier = build_applier(pool, directory, no_dead_letters)
        reader = ScoringReader(
            PgFigures(other_pool),
            UnitDirectory(other_pool),
            ProfileStore(REPO_ROOT / "config" / "score_profile.yaml"),
            clock=lambda: SEPTEMBER,
        )
        await applier.apply(receipts(f"{p}.BD.PX", [f"{p}-X{n}" for n in range(3)]))
        await applier.apply(receipts(f"{p}.BV.TT", [f"{p}-T{n}" for n in range(2)]))
        assert await received(reader, f"{p}.BD", f"{p}.BV", f"{p}.H26") == [3, 2, 5]
        stored_before = await conn.fetch("SELECT * FROM unit_month_counters ORDER BY 1, 2, 3")

        # The registry moves Phúc Xá from Ba Đình to Ba Vì (as ingest's registry upsert writes it).
        await conn.execute(
            "UPDATE units SET parent_id = $2, path = $3, updated_at = now() WHERE unit_id = $1",
            f"{p}.BD.PX", f"{p}.BV", [f"{p}.H26", f"{p}.BV", f"{p}.BD.PX"],
        )  # fmt: skip
        assert await received(reader, f"{p}.BD", f"{p}.BV", f"{p}.BD.PX", f"{p}.H26") == [0, 5, 3, 5]
        # Nothing stored was rewritten: the move was a registry write only.
        assert await conn.fetch("SELECT * FROM unit_month_counters ORDER BY 1, 2, 3") == stored_before

        # The applier still holds the old registry in memory: its next batch counts the same way.
        assert directory.registry.get(f"{p}.BD.PX").parent_id == f"{p}.BD"
        await applier.apply(receipts(f"{p}.BD.PX", [f"{p}-Y0"]))
        assert await received(reader, f"{p}.BD", f"{p}.BV", f"{p}.BD.PX", f"{p}.H26") == [0, 6, 4, 6]

        comparison = await compare(PostgresCounterAudit(pool), datetime.now(UTC))
        assert comparison.dossiers == 6
        assert Comparison.differences(comparison.table, comparison.stored) == {}
        assert Comparison.differences(comparison.stored, comparison.rebuilt) == {}
    finally:
        await conn.close()
        await pool.close()
        await other_pool.close()
