"""The live figures read the open dossiers only (migration 0012), and count exactly what SPEC §4 says.

The query (adapters/queries.SELECT_LIVE_BY_HOME_UNIT) used to scan the whole `dossiers` table at every publication;
with the covering open-dossier index it is an index-only scan whose cost follows the open dossiers, not every
dossier ever received (issue 14, docs/benchmarks.md, helper "live"). Two things are checked on the real PostgreSQL:
the figures equal a plain count over the rows (boundaries at `now`, `now + 24 h` and the month's end included), and
the plan is that index-only scan once the table is analysed, whatever the share of ended dossiers.
"""

from __future__ import annotations

import asyncio
import random
from datetime import UTC, datetime, timedelta

import asyncpg

from services.scoring.adapters.queries import SELECT_LIVE_BY_HOME_UNIT, SELECT_RECEIVED_SINCE, PgFigures
from services.scoring.domain.live import LiveFigures
from shared.db import apply_migrations, create_pool

NOW = datetime(2026, 11, 20, 3, 0, tzinfo=UTC)
MONTH_END = datetime(2026, 11, 30, 17, 0, tzinfo=UTC)  # midnight of 1 December, Vietnam time
UNITS = [f"unit-{n}" for n in range(12)]
# Instants on and around every boundary the query compares with, so that < and <= are both exercised.
_EDGES = [NOW, NOW + timedelta(hours=24), MONTH_END]
_AROUND = [edge + timedelta(microseconds=d) for edge in _EDGES for d in (-1, 0, 1)]
_SPREAD = [NOW + timedelta(hours=h) for h in (-24 * 40, -30, -1, 2, 23, 25, 24 * 5, 24 * 15, 24 * 45)]
DUES = [None, *_AROUND, *_SPREAD]
HOLDS = [None, NOW - timedelta(days=3), NOW - timedelta(microseconds=1), NOW, NOW + timedelta(microseconds=1)]


def expected(rows: list[tuple[str, datetime | None, datetime | None, datetime | None, datetime | None]]) -> dict:
    """SPEC §4's live counters per home unit, counted row by row in Python."""
    out: dict[str, list[int]] = {}
    for home, received, due, ended, hold in rows:
        if received is None or ended is not None:
            continue
        figures = out.setdefault(home, [0, 0, 0, 0])
        figures[0] += 1
        if (hold is not None and hold <= NOW) or due is None:
            continue
        figures[1] += due < NOW
        figures[2] += NOW <= due < NOW + timedelta(hours=24)
        figures[3] += NOW <= due < MONTH_END
    return {home: LiveFigures(*figures) for home, figures in out.items()}


async def test_live_figures_are_exact_and_read_through_the_open_dossier_index(fresh_database: str) -> None:
    await asyncio.to_thread(apply_migrations, fresh_database)
    rng = random.Random(14)
    rows = []
    for n in range(3000):  # every combination of due and hold instants, open, ended, or never received
        received = None if n % 97 == 0 else NOW - timedelta(days=rng.randint(0, 60))
        ended = NOW - timedelta(hours=1) if n % 5 == 0 else None
        rows.append((rng.choice(UNITS), received, DUES[n % len(DUES)], ended, HOLDS[(n // len(DUES)) % len(HOLDS)]))
    conn = await asyncpg.connect(fresh_database)
    try:
        await conn.executemany(
            """INSERT INTO dossiers (dossier_id, state, home_unit, received_at, due_at, ended_at, hold_since,
                                     evaluated_month)
               VALUES ($1, '{}', $2, $3, $4, $5, $6, '2026-11')""",
            [(f"open-{n}", *row) for n, row in enumerate(rows)],
        )
        # Most dossiers ever received have ended: the table is many times the open set, as in a year's back-fill.
        await conn.execute(
            """INSERT INTO dossiers (dossier_id, state, home_unit, received_at, due_at, ended_at, evaluated_month)
               SELECT 'ended-' || n, '{}', 'unit-' || (n % 12), $1::timestamptz - interval '90 days',
                      $1::timestamptz - interval '80 days', $1::timestamptz - interval '85 days', '2026-08'
               FROM generate_series(1, 60000) AS n""",
            NOW,
        )
        await conn.execute("VACUUM ANALYZE dossiers")
        plan = "\n".join(r[0] for r in await conn.fetch(f"EXPLAIN {SELECT_LIVE_BY_HOME_UNIT}", NOW, MONTH_END))
    finally:
        await conn.close()
    assert "Index Only Scan using dossiers_open_live" in plan, plan
    assert "Seq Scan" not in plan, plan
    assert "Gather" not in plan, plan  # migration 0014: no parallel workers for this table's scans

    pool = await create_pool(fresh_database, max_size=1)
    try:
        figures = await PgFigures(pool).live_by_home_unit(NOW, MONTH_END)
    finally:
        await pool.close()
    want = expected(rows)
    assert sum(f.open for f in want.values()) > 2000
    assert all(f.overdue_open and f.due_soon and f.progress_correction for f in want.values())
    assert figures == want


async def test_todays_receipts_are_counted_exactly_through_the_brin_index(fresh_database: str) -> None:
    """Migration 0013: the receipts since an instant, counted through the BRIN index of receipt times — exact at
    the boundary (± 1 µs), with rows appended in time order and others scattered among older pages (updates that
    moved a row), and read through that index once the table is analysed."""
    await asyncio.to_thread(apply_migrations, fresh_database)
    since = NOW - timedelta(hours=3)
    rng = random.Random(13)
    times = [NOW - timedelta(days=90) + timedelta(minutes=n) for n in range(60_000)]  # appended in time order
    times += [since + timedelta(microseconds=d) for d in (-1, 0, 1)]
    conn = await asyncpg.connect(fresh_database)
    try:
        await conn.executemany(
            "INSERT INTO dossiers (dossier_id, state, received_at, evaluated_month) VALUES ($1, '{}', $2, '2026-11')",
            [(f"d-{n}", at) for n, at in enumerate(times)],
        )
        moved = rng.sample(range(60_000), 500)  # rewritten without HOT: a new version wherever there is room
        await conn.execute(
            "UPDATE dossiers SET home_unit = 'u', received_at = received_at WHERE dossier_id = ANY($1::text[])",
            [f"d-{n}" for n in moved],
        )
        await conn.execute("VACUUM ANALYZE dossiers")
        plan = "\n".join(r[0] for r in await conn.fetch(f"EXPLAIN {SELECT_RECEIVED_SINCE}", since))
    finally:
        await conn.close()
    assert "dossiers_received_brin" in plan, plan

    pool = await create_pool(fresh_database, max_size=1)
    try:
        figures = PgFigures(pool)
        counted = [await figures.received_since(at) for at in (since, NOW - timedelta(days=30), NOW)]
    finally:
        await pool.close()
    assert counted == [sum(at >= bound for at in times) for bound in (since, NOW - timedelta(days=30), NOW)]
