"""The scoring read path: SQL the API and the indicators publisher run. Kept apart from the write path (store.py).

Monthly counters come from `unit_month_counters`: each unit's OWN counters (facts that name it), summed into
subtrees and successors by domain/effective.py. Live counters and the current month's progress correction are
computed at query time per home unit, exact at `as_of`: from the open dossiers' counts per hour of due time and of
hold that the write path keeps (migration 0012, adapters/store.py), plus the few dossiers due (or put on hold) in
the hours of the instants compared with — not from a scan of every open dossier.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

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

# Every open dossier counted once, at its home unit (the caller adds each unit's figures to its ancestors), by a scan
# of every open dossier: the reference the maintained form below is proven against (tests), and `recompute`'s check.
SCAN_LIVE_BY_HOME_UNIT = f"""
SELECT d.home_unit AS unit_id, {_LIVE_COLUMNS_TEMPLATE.format(now="$1", month_end="$2")}
FROM dossiers d
WHERE d.received_at IS NOT NULL AND d.ended_at IS NULL
GROUP BY d.home_unit
"""

# The committed deltas folded into the counts (migration 0012), so the next read sums few rows; one process at a time.
COMPACT_LIVE_COUNTS = "SELECT live_open_compact()"


# The instants' hours since the epoch (what migration 0012's live_open_hour keys the counts by): now's, now + 24 h's
# and the month end's ($3–$5), and where each hour starts ($6–$8) — computed once by the caller, not per row.
_LIVE_HOURS = "$3, $4, $5"
_IN_HOUR = "(d.{0} >= ${1} AND d.{0} < ${1} + interval '1 hour')"

# The same figures from the open dossiers' counts per (home unit, hour of due_at, hour of hold_since), kept by the
# dossier writes (migration 0012, adapters/store.py): O(keys + change), not O(open dossiers). The live filters
# compare due_at with now, now + 24 h and the month's end, and hold_since with now; a count whose hours differ from
# those instants' hours is decided as a whole (hour numbers compare like the instants), and the dossiers in the
# instants' hours are read exactly with the scan's own filters. One statement: counts, deltas and dossiers in the
# same snapshot.
SELECT_LIVE_BY_HOME_UNIT = f"""
WITH kept AS (
    SELECT home_unit, due_hour, hold_hour, n FROM live_open_counts
    UNION ALL
    SELECT home_unit, due_hour, hold_hour, n FROM live_open_deltas
), bucketed AS (
    SELECT NULLIF(k.home_unit, '') AS unit_id,
           sum(k.n) AS open,
           sum(k.n) FILTER (WHERE k.hold_hour > $3 AND k.due_hour < $3) AS overdue_open,
           sum(k.n) FILTER (WHERE k.hold_hour > $3 AND k.due_hour > $3 AND k.due_hour < $4) AS due_soon,
           sum(k.n) FILTER (WHERE k.hold_hour > $3 AND k.due_hour > $3 AND k.due_hour < $5) AS progress_correction
    FROM kept k
    WHERE k.due_hour NOT IN ({_LIVE_HOURS}) AND k.hold_hour <> $3
    GROUP BY 1
), exact AS (
    SELECT d.home_unit AS unit_id, {_LIVE_COLUMNS_TEMPLATE.format(now="$1", month_end="$2")}
    FROM dossiers d
    WHERE d.received_at IS NOT NULL AND d.ended_at IS NULL
      AND ({_IN_HOUR.format("due_at", 6)} OR {_IN_HOUR.format("due_at", 7)} OR {_IN_HOUR.format("due_at", 8)}
           OR (d.hold_since IS NOT NULL AND {_IN_HOUR.format("hold_since", 6)}))
    GROUP BY 1
)
SELECT unit_id, sum(open)::bigint AS open, COALESCE(sum(overdue_open), 0)::bigint AS overdue_open,
       COALESCE(sum(due_soon), 0)::bigint AS due_soon,
       COALESCE(sum(progress_correction), 0)::bigint AS progress_correction
FROM (SELECT * FROM bucketed UNION ALL SELECT * FROM exact) AS parts
GROUP BY unit_id
HAVING sum(open) > 0
"""

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_HOUR = timedelta(hours=1)


def live_parameters(now: datetime, month_end: datetime) -> tuple[object, ...]:
    """SELECT_LIVE_BY_HOME_UNIT's parameters. Hours by integer division of exact timedeltas: the same hour as
    live_open_hour's division of the numeric epoch, at every microsecond."""
    hours = [(instant - _EPOCH) // _HOUR for instant in (now, now + timedelta(hours=24), month_end)]
    return (now, month_end, *hours, *(_EPOCH + hour * _HOUR for hour in hours))


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
            await conn.execute(COMPACT_LIVE_COUNTS)
            rows = await conn.fetch(SELECT_LIVE_BY_HOME_UNIT, *live_parameters(now, month_end))
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
