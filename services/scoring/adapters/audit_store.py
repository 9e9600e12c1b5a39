"""The counter audit's reads and its rewrite (service/recompute.py's CounterAuditStore) on PostgreSQL."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Mapping, Sequence

import asyncpg
import orjson

from services.scoring.adapters.store import counter_columns
from services.scoring.domain.counters import CounterKey
from services.scoring.domain.state import DossierState

SELECT_TABLE = "SELECT unit_id, month, counter, value FROM unit_month_counters WHERE value <> 0"
DOSSIER_CURSOR = "SELECT dossier_id, state, evaluated_month FROM dossiers ORDER BY dossier_id"
# No consumer may add to the table between the delete and the rewrite.
LOCK_TABLE = "LOCK TABLE unit_month_counters IN EXCLUSIVE MODE"
CLEAR_TABLE = "DELETE FROM unit_month_counters"
WRITE_TABLE = """
INSERT INTO unit_month_counters (unit_id, month, counter, value)
SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[])
"""
MOVE_TO_MONTH = "UPDATE dossiers SET evaluated_month = $2 WHERE dossier_id = ANY($1::text[])"
CURSOR_PREFETCH = 2000


class PostgresSnapshot:
    def __init__(self, conn: asyncpg.Connection) -> None:
        self._conn = conn

    async def counter_table(self) -> dict[CounterKey, int]:
        rows = await self._conn.fetch(SELECT_TABLE)
        return {(row["unit_id"], row["month"], row["counter"]): row["value"] for row in rows}

    async def dossiers(self) -> AsyncIterator[tuple[str, DossierState, str]]:
        async for row in self._conn.cursor(DOSSIER_CURSOR, prefetch=CURSOR_PREFETCH):
            yield row["dossier_id"], DossierState.from_dict(orjson.loads(row["state"])), row["evaluated_month"]


class PostgresCounterAudit:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    @contextlib.asynccontextmanager
    async def snapshot(self) -> AsyncIterator[PostgresSnapshot]:
        async with self._pool.acquire() as conn, conn.transaction(isolation="repeatable_read", readonly=True):
            yield PostgresSnapshot(conn)

    async def rewrite(self, counters: Mapping[CounterKey, int], stale_dossiers: Sequence[str], month: str) -> None:
        async with self._pool.acquire() as conn, conn.transaction():
            await conn.execute(LOCK_TABLE)
            await conn.execute(CLEAR_TABLE)
            await conn.execute(WRITE_TABLE, *counter_columns(counters))
            await conn.execute(MOVE_TO_MONTH, list(stale_dossiers), month)
