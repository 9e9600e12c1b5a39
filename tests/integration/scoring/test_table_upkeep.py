"""PgTableUpkeep on the real PostgreSQL (service/upkeep.py decides, this adapter runs): the statistics it reads move
with the writes, VACUUM (ANALYZE, SKIP_LOCKED) runs outside a transaction and leaves the table all-visible, and a
table another session holds is skipped (False) instead of waited for."""

from __future__ import annotations

import asyncio
import time

import asyncpg

from services.scoring.adapters.upkeep import PgTableUpkeep
from shared.db import apply_migrations, create_pool

INSERT_ROWS = """
INSERT INTO dossiers (dossier_id, state, home_unit, received_at, evaluated_month)
SELECT 'upkeep-' || n, '{}', 'unit-' || (n % 7), now() - interval '3 days', '2026-11'
FROM generate_series(1, $1::int) AS n
"""
VISIBILITY = "SELECT relpages, relallvisible FROM pg_class WHERE relname = 'dossiers'"


async def statistics_reach(upkeep: PgTableUpkeep, at_least: int) -> int:
    """The cumulative statistics are flushed by the writing backend within about a second: wait for them."""
    async with asyncio.timeout(15):
        while (changed := await upkeep.dossiers_changed_since_vacuum()) < at_least:  # noqa: ASYNC110
            await asyncio.sleep(0.2)
    return changed


async def test_the_upkeep_reads_the_writes_vacuums_and_skips_a_held_table(fresh_database: str) -> None:
    await asyncio.to_thread(apply_migrations, fresh_database)
    pool = await create_pool(fresh_database)
    writer = await asyncpg.connect(fresh_database)
    try:
        upkeep = PgTableUpkeep(pool)
        assert await upkeep.dossiers_written() == 0
        await writer.execute(INSERT_ROWS, 20_000)
        assert await statistics_reach(upkeep, 20_000) >= 20_000
        assert await upkeep.dossiers_written() >= 20_000

        started = time.monotonic()
        assert await upkeep.vacuum_dossiers()  # ran (vacuum_count rose), outside any transaction
        pages, all_visible = await writer.fetchrow(VISIBILITY)
        assert pages > 0 and all_visible == pages  # the live read can now be index-only
        assert await statistics_reach(upkeep, 0) < 1_000
        assert time.monotonic() - started < 60

        # Another session holds a lock that conflicts with VACUUM's: skipped at once, not queued behind it.
        holder = writer.transaction()
        await holder.start()
        await writer.execute("LOCK TABLE dossiers IN SHARE UPDATE EXCLUSIVE MODE")
        try:
            assert not await asyncio.wait_for(upkeep.vacuum_dossiers(), timeout=30)
        finally:
            await holder.rollback()
    finally:
        await writer.close()
        await pool.close()
