"""service.ports.TableUpkeep on PostgreSQL: the statistics the upkeep decides on, and the VACUUM it runs."""

from __future__ import annotations

import asyncpg

# Cumulative statistics of the table (pg_stat_user_tables): what vacuum would have to look at.
SELECT_CHANGED_SINCE_VACUUM = """
SELECT coalesce(sum(n_dead_tup + n_ins_since_vacuum), 0)::bigint
FROM pg_stat_user_tables
WHERE relid = 'dossiers'::regclass
"""
SELECT_WRITTEN = """
SELECT coalesce(sum(n_tup_ins + n_tup_upd), 0)::bigint FROM pg_stat_user_tables WHERE relid = 'dossiers'::regclass
"""
# SKIP_LOCKED: when another session vacuums or alters the table, this one returns at once instead of queueing
# (the other applying process got there first). ANALYZE: the planner's estimates of the open dossiers and of
# today's receipts come from these statistics.
VACUUM_DOSSIERS = "VACUUM (ANALYZE, SKIP_LOCKED) dossiers"
SELECT_VACUUM_COUNT = """
SELECT vacuum_count FROM pg_stat_user_tables WHERE relid = 'dossiers'::regclass
"""
# A vacuum's time grows with the table (≈ 0.4 s at 320 k dossiers, ≈ 15 s at 1.3 M on a loaded machine); the pool's
# command timeout (60 s) is meant for the service's statements, not for this one.
VACUUM_TIMEOUT_S = 3600.0


class PgTableUpkeep:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def dossiers_changed_since_vacuum(self) -> int:
        async with self._pool.acquire() as conn:
            return int(await conn.fetchval(SELECT_CHANGED_SINCE_VACUUM))

    async def dossiers_written(self) -> int:
        async with self._pool.acquire() as conn:
            return int(await conn.fetchval(SELECT_WRITTEN))

    async def vacuum_dossiers(self) -> bool:
        async with self._pool.acquire() as conn:
            before = await conn.fetchval(SELECT_VACUUM_COUNT)
            await conn.execute(VACUUM_DOSSIERS, timeout=VACUUM_TIMEOUT_S)
            return bool(await conn.fetchval(SELECT_VACUUM_COUNT) != before)
