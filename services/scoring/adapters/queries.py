"""The scoring read path: SQL the API and the indicators publisher run. Kept apart from the write path (store.py).

Monthly counters come from `unit_month_counters` (already summed over each unit's subtree). Live counters and the
current month's progress correction are computed at query time from the open dossiers, so they are exact at `as_of`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import asyncpg

SELECT_UNITS = "SELECT unit_id, name, level, parent_id, path FROM units ORDER BY unit_id"

SELECT_UNIT_COUNTERS = """
SELECT month, counter, value FROM unit_month_counters WHERE unit_id = $1 AND month = ANY($2::text[])
"""

SELECT_LEVEL_COUNTERS = """
SELECT c.unit_id, c.counter, c.value
FROM unit_month_counters c JOIN units u ON u.unit_id = c.unit_id
WHERE u.level = $1 AND c.month = $2
"""

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
_LIVE_COLUMNS = _LIVE_COLUMNS_TEMPLATE.format(now="$2", month_end="$3")

SELECT_LIVE_FOR_UNIT = f"""
SELECT {_LIVE_COLUMNS}
FROM dossiers d JOIN units u ON u.unit_id = d.home_unit
WHERE d.received_at IS NOT NULL AND d.ended_at IS NULL AND u.path @> ARRAY[$1::text]
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

SELECT_RECEIVED_SINCE = """
SELECT count(*) FROM dossiers d JOIN units u ON u.unit_id = d.home_unit
WHERE d.received_at >= $2 AND u.path @> ARRAY[$1::text]
"""

SELECT_DOSSIERS_OVERDUE = """
SELECT d.dossier_id, d.procedure_id, d.home_unit, d.due_at, d.received_at
FROM dossiers d JOIN units u ON u.unit_id = d.home_unit
WHERE d.received_at IS NOT NULL AND d.ended_at IS NULL
  AND NOT (d.hold_since IS NOT NULL AND d.hold_since <= $2)
  AND d.due_at < $2
  AND (CASE WHEN $3 THEN u.path @> ARRAY[$1::text] ELSE d.home_unit = $1 END)
  AND (d.due_at, d.dossier_id) > ($4::timestamptz, $5::text)
ORDER BY d.due_at, d.dossier_id
LIMIT $6
"""

SELECT_DOSSIERS_DUE_SOON = """
SELECT d.dossier_id, d.procedure_id, d.home_unit, d.due_at, d.received_at
FROM dossiers d JOIN units u ON u.unit_id = d.home_unit
WHERE d.received_at IS NOT NULL AND d.ended_at IS NULL
  AND NOT (d.hold_since IS NOT NULL AND d.hold_since <= $2)
  AND d.due_at >= $2 AND d.due_at < $2 + $7::float8 * interval '1 hour'
  AND (CASE WHEN $3 THEN u.path @> ARRAY[$1::text] ELSE d.home_unit = $1 END)
  AND (d.due_at, d.dossier_id) > ($4::timestamptz, $5::text)
ORDER BY d.due_at, d.dossier_id
LIMIT $6
"""

SELECT_DLQ = """
SELECT id, topic, "partition", "offset", encode(record_key, 'escape') AS record_key,
       convert_from(record_value, 'UTF8') AS record_value, event_id, error, detail, dead_at
FROM dlq_records WHERE id < $1 ORDER BY id DESC LIMIT $2
"""

COUNT_DLQ = "SELECT count(*) FROM dlq_records"


@dataclass(frozen=True, slots=True)
class LiveFigures:
    open: int = 0
    overdue_open: int = 0
    due_soon: int = 0
    progress_correction: int = 0


def _live(row: asyncpg.Record | None) -> LiveFigures:
    if row is None:
        return LiveFigures()
    return LiveFigures(row["open"], row["overdue_open"], row["due_soon"], row["progress_correction"])


async def units(conn: asyncpg.Connection) -> list[asyncpg.Record]:
    return await conn.fetch(SELECT_UNITS)


async def unit_counters(conn: asyncpg.Connection, unit_id: str, months: Sequence[str]) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {month: {} for month in months}
    for row in await conn.fetch(SELECT_UNIT_COUNTERS, unit_id, list(months)):
        out[row["month"]][row["counter"]] = row["value"]
    return out


async def level_counters(conn: asyncpg.Connection, level: str, month: str) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {}
    for row in await conn.fetch(SELECT_LEVEL_COUNTERS, level, month):
        out.setdefault(row["unit_id"], {})[row["counter"]] = row["value"]
    return out


async def live_for_unit(conn: asyncpg.Connection, unit_id: str, now: datetime, month_end: datetime) -> LiveFigures:
    return _live(await conn.fetchrow(SELECT_LIVE_FOR_UNIT, unit_id, now, month_end))


async def live_by_home_unit(conn: asyncpg.Connection, now: datetime, month_end: datetime) -> dict[str, LiveFigures]:
    """Live figures of the open dossiers per home unit, subtrees NOT included."""
    rows = await conn.fetch(SELECT_LIVE_BY_HOME_UNIT, now, month_end)
    return {row["unit_id"]: _live(row) for row in rows}


async def received_since(conn: asyncpg.Connection, unit_id: str, since: datetime) -> int:
    return int(await conn.fetchval(SELECT_RECEIVED_SINCE, unit_id, since))


async def dossiers(
    conn: asyncpg.Connection,
    *,
    unit_id: str,
    state: str,
    now: datetime,
    subtree: bool,
    after: tuple[datetime, str] | None,
    limit: int,
    within: timedelta = timedelta(hours=24),
) -> list[asyncpg.Record]:
    after_due, after_id = after if after is not None else (datetime.min.replace(tzinfo=now.tzinfo), "")
    if state == "overdue":
        return await conn.fetch(SELECT_DOSSIERS_OVERDUE, unit_id, now, subtree, after_due, after_id, limit)
    hours = within.total_seconds() / 3600
    return await conn.fetch(SELECT_DOSSIERS_DUE_SOON, unit_id, now, subtree, after_due, after_id, limit, hours)


async def dead_letters(conn: asyncpg.Connection, before_id: int | None, limit: int) -> tuple[int, list[asyncpg.Record]]:
    total = int(await conn.fetchval(COUNT_DLQ))
    rows = await conn.fetch(SELECT_DLQ, before_id if before_id is not None else 2**62, limit)
    return total, rows
