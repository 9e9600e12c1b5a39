"""PostgreSQL's side of a scoring benchmark run, million by million: what each statement cost, how the write tables
were updated (HOT or not, dead rows, autovacuum) and how much WAL was written — to see why PostgreSQL's CPU per
event moves as the data set grows.

Statement figures come from pg_stat_statements when the server preloads it (`shared_preload_libraries`); without
it only the table and WAL figures are taken. Every figure is a difference between two snapshots, per event.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from typing import Any

import asyncpg

# Statements of the bench database, grouped by the first words of their text (the write path's handful).
SELECT_STATEMENTS = """
SELECT left(regexp_replace(query, '\\s+', ' ', 'g'), 60) AS statement, sum(calls)::bigint, sum(total_exec_time),
       sum(shared_blks_hit)::bigint, sum(shared_blks_read)::bigint, sum(shared_blks_dirtied)::bigint,
       sum(wal_bytes)::bigint, sum(wal_fpi)::bigint
FROM pg_stat_statements
WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
GROUP BY 1
"""
SELECT_TABLES = """
SELECT relname, n_live_tup, n_dead_tup, n_tup_ins, n_tup_upd, n_tup_hot_upd, autovacuum_count, autoanalyze_count,
       pg_total_relation_size(relid)
FROM pg_stat_user_tables
WHERE relname IN ('dossiers', 'unit_month_counters')
"""
SELECT_WAL = "SELECT wal_bytes::bigint, wal_fpi FROM pg_stat_wal"
WATCHED_STATEMENTS = ("SELECT dossier_id, state", "INSERT INTO dossiers", "UPDATE dossiers", "INSERT INTO unit_month")


@dataclass
class Snapshot:
    committed: int
    statements: dict[str, tuple[float, ...]]
    tables: dict[str, tuple[Any, ...]]
    wal: tuple[int, int]


@dataclass
class PgStats:
    """Snapshots at every `step` committed events (and at the end); `segments()` gives the per-step differences."""

    url: str
    step: int = 1_000_000
    snapshots: list[Snapshot] = field(default_factory=list)
    _conn: asyncpg.Connection | None = None
    _statements: bool = False

    async def start(self) -> None:
        self._conn = await asyncpg.connect(self.url)
        with contextlib.suppress(asyncpg.PostgresError):
            await self._conn.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
            await self._conn.fetch("SELECT 1 FROM pg_stat_statements LIMIT 1")
            self._statements = True
        self.snapshots.append(await self._take(0))

    async def close(self) -> None:
        if self._conn is not None:
            await self._conn.close()

    async def on_progress(self, committed: int) -> None:
        """The benchmark's progress hook: a snapshot each time the committed count crosses the next step."""
        if committed // self.step > self.snapshots[-1].committed // self.step:
            self.snapshots.append(await self._take(committed))

    async def finish(self, committed: int) -> None:
        if committed > self.snapshots[-1].committed:
            self.snapshots.append(await self._take(committed))

    async def _take(self, committed: int) -> Snapshot:
        assert self._conn is not None
        statements: dict[str, tuple[float, ...]] = {}
        if self._statements:
            for row in await self._conn.fetch(SELECT_STATEMENTS):
                name = next((w for w in WATCHED_STATEMENTS if row[0].strip().startswith(w)), None)
                if name is not None:
                    old = statements.get(name, (0.0,) * 7)
                    statements[name] = tuple(a + float(b or 0) for a, b in zip(old, row[1:], strict=True))
        tables = {row[0]: tuple(row[1:]) for row in await self._conn.fetch(SELECT_TABLES)}
        wal = await self._conn.fetchrow(SELECT_WAL)
        return Snapshot(committed, statements, tables, (int(wal[0]), int(wal[1])))

    def segments(self) -> list[dict[str, Any]]:
        """Per step: µs of execution and blocks/WAL per event for each watched statement, the dossiers table's
        updates (share HOT), dead rows, autovacuums and size, WAL bytes and full-page images per event."""
        out = []
        for before, after in zip(self.snapshots, self.snapshots[1:], strict=False):
            events = after.committed - before.committed
            if events <= 0:
                continue
            segment: dict[str, Any] = {"events": [before.committed, after.committed]}
            for name in WATCHED_STATEMENTS:
                a, b = after.statements.get(name), before.statements.get(name, (0.0,) * 7)
                if a is None:
                    continue
                calls, ms, hit, read, dirtied, wal_bytes, fpi = (x - y for x, y in zip(a, b, strict=True))
                segment[name] = {
                    "calls": int(calls),
                    "exec_us_per_event": round(ms * 1000 / events, 2),
                    "blocks_hit_per_event": round(hit / events, 2),
                    "blocks_read_per_event": round(read / events, 3),
                    "blocks_dirtied_per_event": round(dirtied / events, 3),
                    "wal_bytes_per_event": round(wal_bytes / events),
                    "wal_fpi_per_1000_events": round(fpi * 1000 / events, 2),
                }
            for table in ("dossiers", "unit_month_counters"):
                a, b = after.tables.get(table), before.tables.get(table)
                if a is None or b is None:
                    continue
                updates, hot = a[3] - b[3], a[4] - b[4]
                segment[table] = {
                    "live": a[0], "dead": a[1], "inserts": a[2] - b[2], "updates": updates,
                    "hot_share": round(hot / updates, 3) if updates else None,
                    "autovacuums": a[5] - b[5], "autoanalyzes": a[6] - b[6], "mb": round(a[7] / 2**20),
                }  # fmt: skip
            segment["wal_bytes_per_event"] = round((after.wal[0] - before.wal[0]) / events)
            segment["wal_fpi_per_1000_events"] = round((after.wal[1] - before.wal[1]) * 1000 / events, 2)
            out.append(segment)
        return out
