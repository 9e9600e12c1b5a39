"""The scoring read path: SQL the API and the indicators publisher run. Kept apart from the write path (store.py).

Monthly counters come from `unit_month_counters`: each unit's OWN counters (facts that name it), summed into
subtrees and successors by domain/effective.py. Live counters and the current month's progress correction are
computed at query time from the open dossiers per home unit, so they are exact at `as_of`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import asyncpg

from services.scoring.domain.live import LiveFigures

SELECT_MONTH_OWN_COUNTERS = "SELECT unit_id, counter, value FROM unit_month_counters WHERE month = $1"

# Open dossiers, as of {now}. "On hold now": a hold that started at or before now and has not been released
# (hold_since is set from the latest known events). {month_end} is the end of the current month: open dossiers not
# on hold with now <= due < month end are on time now although stored as late at the month's end (SPEC §4, T = now).
_LIVE_COLUMNS_TEMPLATE = """
    count(*) AS open,
    count(*) FILTER (WHERE NOT (d.hold_since IS NOT NULL AND d.hold_since <= {now})
                     AND d.due_at < {now}) AS overdue_open,
    count(*) FILTER (WHERE NOT (d.hold_since IS NOT NULL AND d.hold_since <= {now})
                     AND d.due_at >= {now} AND d.due_at < {now} + interval '24 hours') AS due_soon,
    count(*) FILTER (WHERE NOT (d.hold_since IS NOT NULL AND d.hold_since <= {now})
                     AND d.due_at >= {now} AND d.due_at < {month_end}) AS progress_correction
"""

# Every open dossier counted once, at its home unit (the caller adds each unit's figures to its ancestors): one
# pass over the open dossiers for all units at once — joining the unit paths instead would count each dossier
# once per ancestor, and per level.
SELECT_LIVE_BY_HOME_UNIT = f"""
SELECT d.home_unit AS unit_id, {_LIVE_COLUMNS_TEMPLATE.format(now="$1", month_end="$2")}
FROM dossiers d
WHERE d.received_at IS NOT NULL AND d.ended_at IS NULL
GROUP BY d.home_unit
"""

SELECT_RECEIVED_SINCE = "SELECT count(*) FROM dossiers d WHERE d.received_at >= $1"

SELECT_DLQ = """
SELECT id, topic, "partition", "offset", encode(record_key, 'escape') AS record_key,
       convert_from(record_value, 'UTF8') AS record_value, event_id, error, detail, dead_at, status, unit_id,
       resolved_at, attempts
FROM dlq_records WHERE id < $1 AND ($3::text IS NULL OR status = $3) ORDER BY id DESC LIMIT $2
"""

COUNT_DLQ_BY_STATUS = "SELECT status, count(*) AS n FROM dlq_records GROUP BY status"

DISCARD_DLQ = """
UPDATE dlq_records SET status = 'discarded', resolved_at = now(), detail = detail || ' | discarded: ' || $2
WHERE id = ANY($1::bigint[]) AND status IN ('pending', 'dead')
"""


def _live(row: asyncpg.Record | None) -> LiveFigures:
    if row is None:
        return LiveFigures()
    return LiveFigures(row["open"], row["overdue_open"], row["due_soon"], row["progress_correction"])


class PgFigures:
    """The read use cases' FiguresRepository (service/read_ports.py) on PostgreSQL."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def month_own_counters(self, month: str) -> dict[str, dict[str, int]]:
        """unit named on the facts → counter → value, for one month."""
        out: dict[str, dict[str, int]] = {}
        async with self._pool.acquire() as conn:
            rows = await conn.fetch(SELECT_MONTH_OWN_COUNTERS, month)
        for unit_id, counter, value in rows:
            figures = out.get(unit_id)
            if figures is None:
                figures = out[unit_id] = {}
            figures[counter] = value
        return out

    async def live_by_home_unit(self, now: datetime, month_end: datetime) -> dict[str, LiveFigures]:
        """Live figures of the open dossiers per home unit, subtrees NOT included."""
        async with self._pool.acquire() as conn:
            rows = await conn.fetch(SELECT_LIVE_BY_HOME_UNIT, now, month_end)
        return {row["unit_id"]: _live(row) for row in rows}

    async def received_since(self, since: datetime) -> int:
        """Dossiers received since `since`, city-wide."""
        async with self._pool.acquire() as conn:
            return int(await conn.fetchval(SELECT_RECEIVED_SINCE, since))


class PgDeadLetters:
    """The dead-letter table as the admin routes read and discard it."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def page(
        self, before_id: int | None, limit: int, status: str | None = None
    ) -> tuple[dict[str, int], list[asyncpg.Record]]:
        """Counts per status, and a page of rows (newest first, optionally of one status)."""
        async with self._pool.acquire() as conn:
            by_status = {row["status"]: int(row["n"]) for row in await conn.fetch(COUNT_DLQ_BY_STATUS)}
            rows = await conn.fetch(SELECT_DLQ, before_id if before_id is not None else 2**62, limit, status)
        return by_status, rows

    async def discard(self, ids: Sequence[int], reason: str) -> int:
        async with self._pool.acquire() as conn:
            result = await conn.execute(DISCARD_DLQ, list(ids), reason)
        return int(result.split()[-1])
