"""The live figures' read on a bench database after a run (issue 14): what every unit-indicators publication and
live snapshot pays once a back-fill has ended — an index-only scan of the open dossiers once the table is vacuumed
(migration 0012), else heap fetches or a sequential scan of the whole table — and whether the table was vacuumed
after the back-fill (services/scoring/service/upkeep.py)."""

from __future__ import annotations

import json
import statistics
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg

from services.scoring.adapters.queries import SELECT_LIVE_BY_HOME_UNIT

EXPLAIN = "EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) " + SELECT_LIVE_BY_HOME_UNIT
SELECT_VACUUMS = """
SELECT vacuum_count, autovacuum_count,
       EXISTS (SELECT 1 FROM pg_stat_progress_vacuum p WHERE p.relid = 'dossiers'::regclass)
FROM pg_stat_user_tables WHERE relid = 'dossiers'::regclass
"""
SELECT_VISIBILITY = """
SELECT c.relpages, c.relallvisible, s.n_dead_tup, s.n_ins_since_vacuum, s.vacuum_count, s.autovacuum_count
FROM pg_class c JOIN pg_stat_user_tables s ON s.relid = c.oid WHERE c.oid = 'dossiers'::regclass
"""


def vacuumed_after(url: str) -> Callable[[], Awaitable[bool]]:
    """A check that is true once a manual VACUUM of `dossiers` has ended after its first call (none in progress):
    called first when the run's end is committed, so a vacuum during the run does not count."""
    before: list[int] = []

    async def check() -> bool:
        conn = await asyncpg.connect(url)
        try:
            count, _, running = await conn.fetchrow(SELECT_VACUUMS)
        finally:
            await conn.close()
        if not before:
            before.append(count)
            return False
        return bool(count > before[0] and not running)

    return check


def _scan(node: dict[str, Any]) -> dict[str, Any] | None:
    """The plan's scan of `dossiers` (the deepest node that names the relation)."""
    for child in node.get("Plans", []):
        found = _scan(child)
        if found is not None:
            return found
    return node if node.get("Relation Name") == "dossiers" else None


async def live_read(url: str, rounds: int = 3) -> dict[str, Any]:
    """The read EXPLAIN ANALYZEd `rounds` times as of now: execution ms (median), its scan and heap fetches, with
    the table's pages all-visible and its vacuums; and once more without parallel workers."""
    conn = await asyncpg.connect(url)
    try:
        visibility = dict(await conn.fetchrow(SELECT_VISIBILITY))
        out: dict[str, Any] = {"table": visibility}
        for label, setting in (("default", None), ("no_parallel", "SET max_parallel_workers_per_gather = 0")):
            if setting:
                await conn.execute(setting)
            runs = []
            for _ in range(rounds):
                plan = json.loads(await conn.fetchval(EXPLAIN.replace("$1", "now()").replace(
                    "$2", "date_trunc('month', now()) + interval '1 month'")))[0]  # fmt: skip
                scan = _scan(plan["Plan"]) or {}
                runs.append((plan["Execution Time"], scan.get("Node Type"), scan.get("Heap Fetches")))
            out[label] = {
                "ms_median": round(statistics.median(r[0] for r in runs), 1),
                "scan": runs[-1][1],
                "heap_fetches": runs[-1][2],
            }
        return out
    finally:
        await conn.close()
