"""PostgreSQL's side of a scoring benchmark run, million by million: what each statement cost, how the write tables
were updated (HOT or not, dead rows, autovacuum) and how much WAL was written — to see why PostgreSQL's CPU per
event moves as the data set grows.

Statement figures come from pg_stat_statements when the server preloads it (`shared_preload_libraries`); without
it only the table and WAL figures are taken. Every figure is a difference between two snapshots, per event.

Lock waits (issue 14: "no row that every batch must lock") are sampled apart, every `LOCK_SAMPLE_S`, from
pg_stat_activity: how many of the bench database's backends were running a statement and how many of those were
waiting for a heavyweight lock (`wait_event_type = 'Lock'`: a row another transaction holds shows as `transactionid`
or `tuple`). Waiting backends over active backends, summed over the samples, is the share of the write path's
database time spent queueing behind another scoring process.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import asyncpg

from bench.pg_process_cpu import ProcessCpu

# Statements of the bench database, grouped by the first words of their text (the write path's handful; a watched
# statement may be wrapped in a WITH, e.g. a write that also appends to another table, and is still recognised).
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
       pg_total_relation_size(relid), n_tup_newpage_upd
FROM pg_stat_user_tables
WHERE relname IN ('dossiers', 'unit_month_counters')
"""
SELECT_WAL = "SELECT wal_bytes::bigint, wal_fpi FROM pg_stat_wal"
# The scoring processes' backends of the bench database (not this sampler's, not autovacuum's) that run a statement,
# with what each waits for (NULL: on CPU).
SELECT_ACTIVITY = """
SELECT wait_event_type, wait_event
FROM pg_stat_activity
WHERE datname = current_database() AND pid <> pg_backend_pid() AND backend_type = 'client backend'
  AND state = 'active'
"""
LOCK_SAMPLE_S = 0.05
WATCHED_STATEMENTS = ("SELECT dossier_id, state", "INSERT INTO dossiers", "UPDATE dossiers", "INSERT INTO unit_month")
# Every other statement is summed under "other"; those above this share of a step's execution time are listed by
# their first words too (the read side a scoring process runs: live figures, a month's counters, …).
OTHER = "other"
LISTED_OTHER_SHARE = 0.02


@dataclass
class Snapshot:
    committed: int
    statements: dict[str, tuple[float, ...]]
    tables: dict[str, tuple[Any, ...]]
    wal: tuple[int, int]
    waits: Counter[str]
    """Cumulative sampler counts: `samples`, `active` (backends running a statement), `Lock:<event>` (of those,
    waiting for a heavyweight lock), `other` (waiting for anything else: I/O, LWLocks, the client)."""
    cpu_by_kind: Counter[str]
    """CPU seconds so far per kind of PostgreSQL process (bench/pg_process_cpu.py); empty without the server's pid."""


@dataclass
class PgStats:
    """Snapshots at every `step` committed events (and at the end); `segments()` gives the per-step differences."""

    url: str
    step: int = 1_000_000
    postmaster_pid: int | None = None
    snapshots: list[Snapshot] = field(default_factory=list)
    _conn: asyncpg.Connection | None = None
    _statements: bool = False
    _waits: Counter[str] = field(default_factory=Counter)
    _sampler: asyncio.Task[None] | None = None
    _processes: ProcessCpu | None = None

    async def start(self) -> None:
        if self.postmaster_pid is not None:
            self._processes = ProcessCpu(self.postmaster_pid)
            self._processes.start()
        self._conn = await asyncpg.connect(self.url)
        with contextlib.suppress(asyncpg.PostgresError):
            await self._conn.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
            await self._conn.fetch("SELECT 1 FROM pg_stat_statements LIMIT 1")
            self._statements = True
        self.snapshots.append(await self._take(0))
        self._sampler = asyncio.create_task(self._sample_waits(await asyncpg.connect(self.url)))

    async def close(self) -> None:
        if self._processes is not None:
            await self._processes.close()
        if self._sampler is not None:
            self._sampler.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sampler
        if self._conn is not None:
            await self._conn.close()

    async def _sample_waits(self, conn: asyncpg.Connection) -> None:
        """Every LOCK_SAMPLE_S until cancelled: what the active backends of the bench database wait for."""
        try:
            while True:
                self._waits["samples"] += 1
                for kind, event in await conn.fetch(SELECT_ACTIVITY):
                    self._waits["active"] += 1
                    if kind == "Lock":
                        self._waits[f"Lock:{event}"] += 1
                    elif kind is not None:
                        self._waits["other"] += 1
                await asyncio.sleep(LOCK_SAMPLE_S)
        finally:
            await conn.close()

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
                text = row[0].strip()
                name = next((w for w in WATCHED_STATEMENTS if w in text), None)
                for key in (name,) if name is not None else (OTHER, f"{OTHER}: {text}"):
                    old = statements.get(key, (0.0,) * 7)
                    statements[key] = tuple(a + float(b or 0) for a, b in zip(old, row[1:], strict=True))
        tables = {row[0]: tuple(row[1:]) for row in await self._conn.fetch(SELECT_TABLES)}
        wal = await self._conn.fetchrow(SELECT_WAL)
        kinds = self._processes.totals() if self._processes is not None else Counter()
        return Snapshot(committed, statements, tables, (int(wal[0]), int(wal[1])), Counter(self._waits), kinds)

    def segments(self) -> list[dict[str, Any]]:
        """Per step: µs of execution and blocks/WAL per event for each watched statement, the dossiers table's
        updates (share HOT, share moved to another page), dead rows, autovacuums and size, WAL bytes and full-page
        images per event."""
        out = []
        for before, after in zip(self.snapshots, self.snapshots[1:], strict=False):
            events = after.committed - before.committed
            if events <= 0:
                continue
            segment: dict[str, Any] = {"events": [before.committed, after.committed]}
            total_ms = sum(
                a[1] - before.statements.get(name, (0.0,) * 7)[1]
                for name, a in after.statements.items()
                if not name.startswith(f"{OTHER}: ")
            )
            listed = [
                name
                for name, a in after.statements.items()
                if name.startswith(f"{OTHER}: ")
                and a[1] - before.statements.get(name, (0.0,) * 7)[1] > LISTED_OTHER_SHARE * total_ms
            ]
            for name in (*WATCHED_STATEMENTS, OTHER, *listed):
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
                updates, hot, new_page = a[3] - b[3], a[4] - b[4], a[8] - b[8]
                segment[table] = {
                    "live": a[0], "dead": a[1], "inserts": a[2] - b[2], "updates": updates,
                    "hot_share": round(hot / updates, 3) if updates else None,
                    # Not HOT for want of room on the page (the rest of the non-HOT updates changed an indexed column).
                    "new_page_share": round(new_page / updates, 3) if updates else None,
                    "autovacuums": a[5] - b[5], "autoanalyzes": a[6] - b[6], "mb": round(a[7] / 2**20),
                }  # fmt: skip
            segment["wal_bytes_per_event"] = round((after.wal[0] - before.wal[0]) / events)
            segment["wal_fpi_per_1000_events"] = round((after.wal[1] - before.wal[1]) * 1000 / events, 2)
            segment["lock_waits"] = lock_waits(after.waits - before.waits)
            if after.cpu_by_kind:
                by_kind = cpu_by_kind(before.cpu_by_kind, after.cpu_by_kind, events)
                segment["postgres_cpu_us_per_event_by_kind"] = by_kind
            out.append(segment)
        return out


def lock_waits(counts: Counter[str]) -> dict[str, Any]:
    """Sampler counts of one step → the share of active backend samples spent waiting for a heavyweight lock
    (overall and by lock kind), and the mean number of backends running a statement."""
    active = counts["active"]
    locked = {key.partition(":")[2]: n for key, n in counts.items() if key.startswith("Lock:")}
    return {
        "samples": counts["samples"],
        "mean_active_backends": round(active / counts["samples"], 2) if counts["samples"] else None,
        "lock_wait_share": round(sum(locked.values()) / active, 3) if active else None,
        "by_lock": {kind: round(n / active, 3) for kind, n in sorted(locked.items())} if active else {},
        "other_wait_share": round(counts["other"] / active, 3) if active else None,
    }


def cpu_by_kind(before: Counter[str], after: Counter[str], events: int) -> dict[str, float]:
    """µs of CPU per event of each kind of PostgreSQL process over a step; `unseen`: the server's CPU no sample
    attributed (children that started and ended between two samples)."""
    out = {
        kind: round((after[kind] - before[kind]) * 1e6 / events, 2)
        for kind in sorted(after)
        if kind != "server" and after[kind] != before[kind]
    }
    server = (after["server"] - before["server"]) * 1e6 / events
    out["unseen"] = round(server - sum(out.values()), 2)
    out["server"] = round(server, 2)
    return out
