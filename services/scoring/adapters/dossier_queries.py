"""SQL of the dossier-level reads: one dossier by id, a unit's open dossiers, today's to-do.

"On hold now" is ``hold_since <= now`` (hold_since is set from the dossier's latest known events), as in
queries.py. Home units are passed as an array: the units whose dossiers count for the unit asked about
(ScoringReader.home_units_of: its subtree and the units retired into it).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

import asyncpg

SELECT_DOSSIER = """
SELECT dossier_id, state, home_unit, evaluated_month, updated_at FROM dossiers WHERE dossier_id = $1
"""

_OPEN_OF_UNITS = "d.received_at IS NOT NULL AND d.ended_at IS NULL AND d.home_unit = ANY($1::text[])"
_NOT_ON_HOLD = "NOT (d.hold_since IS NOT NULL AND d.hold_since <= $2)"
_ITEM_COLUMNS = (
    "d.dossier_id, d.procedure_id, d.home_unit, d.received_at, d.due_at, "
    "(d.hold_since IS NOT NULL AND d.hold_since <= $2) AS on_hold"
)

# $2 now, $3 midnight tonight, $4 midnight tomorrow night, $5 end of the month (Vietnam time).
COUNT_TODO = f"""
SELECT count(*) FILTER (WHERE d.due_at >= $2 AND d.due_at < $3) AS due_today,
       count(*) FILTER (WHERE d.due_at >= $3 AND d.due_at < $4) AS due_tomorrow,
       count(*) FILTER (WHERE d.due_at >= $4 AND d.due_at < $5) AS due_this_month,
       count(*) FILTER (WHERE d.due_at < $2) AS overdue
FROM dossiers d
WHERE {_OPEN_OF_UNITS} AND {_NOT_ON_HOLD}
"""


def _page_of(condition: str) -> str:
    """A page of the open dossiers of the units $1, by (due, id) after the cursor ($3, $4), at most $5 of them;
    `condition` may use $2 (now) and $6."""
    return f"""
SELECT {_ITEM_COLUMNS}
FROM dossiers d
WHERE {_OPEN_OF_UNITS}{condition}
  AND (d.due_at, d.dossier_id) > ($3::timestamptz, $4::text)
ORDER BY d.due_at, d.dossier_id
LIMIT $5
"""


# Not yet overdue and on the list (due before $6 = max(end of tomorrow, end of month)).
SELECT_TODO_UPCOMING = _page_of(f" AND {_NOT_ON_HOLD}\n  AND d.due_at >= $2 AND d.due_at < $6")
SELECT_TODO_OVERDUE = _page_of(f" AND {_NOT_ON_HOLD}\n  AND d.due_at < $2")
SELECT_OPEN = _page_of("")
# Not on hold and due within $6 hours of now: the `due_soon` page of /v1/units/{id}/dossiers.
SELECT_DUE_WITHIN = _page_of(
    f" AND {_NOT_ON_HOLD}\n  AND d.due_at >= $2 AND d.due_at < $2 + $6::float8 * interval '1 hour'"
)

COUNT_OPEN = f"""
SELECT count(*) AS open, count(*) FILTER (WHERE NOT {_NOT_ON_HOLD}) AS on_hold
FROM dossiers d WHERE {_OPEN_OF_UNITS}
"""

EPOCH_START = datetime.fromisoformat("0001-01-01T00:00:00+00:00")
TODO_BUCKETS = ("due_today", "due_tomorrow", "due_this_month", "overdue")


class PgDossiers:
    """The read use cases' DossierRepository (service/ports.py) on PostgreSQL."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def _page(
        self, sql: str, home_units: Sequence[str], now: datetime, after: tuple[datetime, str] | None, *rest: object
    ) -> list[asyncpg.Record]:
        """A page ordered by (due, id) after the cursor: $1 home units, $2 now, $3/$4 the cursor, then `rest`."""
        after_due, after_id = after or (EPOCH_START, "")
        async with self._pool.acquire() as conn:
            return await conn.fetch(sql, list(home_units), now, after_due, after_id, *rest)

    async def late_or_due(
        self,
        home_units: Sequence[str],
        state: str,
        now: datetime,
        after: tuple[datetime, str] | None,
        limit: int,
        within: timedelta = timedelta(hours=24),
    ) -> list[asyncpg.Record]:
        if state == "overdue":
            return await self._page(SELECT_TODO_OVERDUE, home_units, now, after, limit)
        return await self._page(SELECT_DUE_WITHIN, home_units, now, after, limit, within.total_seconds() / 3600)

    async def dossier(self, dossier_id: str) -> asyncpg.Record | None:
        async with self._pool.acquire() as conn:
            return await conn.fetchrow(SELECT_DOSSIER, dossier_id)

    async def todo_counts(
        self,
        home_units: Sequence[str],
        now: datetime,
        today_end: datetime,
        tomorrow_end: datetime,
        month_end: datetime,
    ) -> dict[str, int]:
        async with self._pool.acquire() as conn:
            row = await conn.fetchrow(COUNT_TODO, list(home_units), now, today_end, tomorrow_end, month_end)
        return {key: int(row[key]) for key in TODO_BUCKETS}

    async def todo_upcoming(
        self,
        home_units: Sequence[str],
        now: datetime,
        list_end: datetime,
        after: tuple[datetime, str] | None,
        limit: int,
    ) -> list[asyncpg.Record]:
        return await self._page(SELECT_TODO_UPCOMING, home_units, now, after, limit, list_end)

    async def todo_overdue(
        self, home_units: Sequence[str], now: datetime, after: tuple[datetime, str] | None, limit: int
    ) -> list[asyncpg.Record]:
        return await self._page(SELECT_TODO_OVERDUE, home_units, now, after, limit)

    async def open_counts(self, home_units: Sequence[str], now: datetime) -> tuple[int, int]:
        """(open dossiers, of which on hold now)."""
        async with self._pool.acquire() as conn:
            row = await conn.fetchrow(COUNT_OPEN, list(home_units), now)
        return int(row["open"]), int(row["on_hold"])

    async def open_dossiers(
        self, home_units: Sequence[str], now: datetime, after: tuple[datetime, str] | None, limit: int
    ) -> list[asyncpg.Record]:
        return await self._page(SELECT_OPEN, home_units, now, after, limit)
