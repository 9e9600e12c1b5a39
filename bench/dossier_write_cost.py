"""What one dossier write costs PostgreSQL, statement by statement, on a realistic table (issue 14, helper "locks").

    .venv/bin/python bench/dossier_write_cost.py postgresql://postgres@127.0.0.1:55811/<a kept bench database> \\
        [--rows 2500] [--rounds 6]

Run it on a database a 1 M-event bench left behind (`BENCH_KEEP_DATABASE=1 bench/scoring_bench.py …`). Every round
takes `--rows` dossiers it has not touched yet (among the most recently written: the ones a back-fill's batches
touch) and runs, each variant on its own ids in a transaction that is rolled back:

- `select`: the batch's load without row locks (`SELECT dossier_id, state, evaluated_month, xmin … ORDER BY`);
- `select for update`: the load as main runs it (row locks in id order);
- `update after select` / `update after lock`: the same load followed by the write path's UPDATE of those rows
  (with its version check), each state extended by one event row of 110 bytes (a typical appended event) — the
  lock's share is the difference;
- `update, states ×0.5`: the update with every state cut to half its length (what a twice as compact encoding would
  send); `update state only`: only `state` and `updated_at` set, from two text arrays (no JSON document).

Per row: the backend's CPU time (/proc/<pid>/schedstat, nanoseconds on a CPU — the backend runs on this machine) and
the WAL bytes inserted (pg_current_wal_insert_lsn). Medians over the rounds are printed.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
from pathlib import Path

import asyncpg

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from services.scoring.adapters.store import UPDATE_DOSSIERS  # noqa: E402

LOAD = "SELECT dossier_id, state, evaluated_month, xmin FROM dossiers WHERE dossier_id = ANY($1::text[]) ORDER BY 1"
ROW_SOURCE = """
SELECT dossier_id, state, home_unit, procedure_id,
       (extract(epoch FROM received_at) * 1000000)::bigint, (extract(epoch FROM due_at) * 1000000)::bigint,
       (extract(epoch FROM ended_at) * 1000000)::bigint, (extract(epoch FROM hold_since) * 1000000)::bigint,
       evaluated_month, xmin
FROM dossiers WHERE dossier_id = ANY($1::text[]) ORDER BY 1
"""
# The state alone (the small columns unchanged): what most updates of a back-fill need.
UPDATE_STATES = """
UPDATE dossiers AS t SET state = d.s, updated_at = now()
FROM unnest($1::text[], $2::text[]) AS d (i, s)
WHERE t.dossier_id = d.i
"""
EXTRA_EVENT = ',["0193c4b2-7a51-7cc0-9d2e-5b1f0c2a9e11","paused","HN-P-PHUC-XA",1733011200000000,1733011260000000]'


def cpu_ns(pid: int) -> int:
    return int(Path(f"/proc/{pid}/schedstat").read_text().split()[0])


async def measure(
    conn: asyncpg.Connection, pid: int, statements: list[tuple[str, tuple[object, ...]]]
) -> tuple[int, int, int]:
    """CPU ns, WAL bytes and rows the last statement reported, in one transaction rolled back."""
    tr = conn.transaction()
    await tr.start()
    try:
        lsn0 = await conn.fetchval("SELECT pg_current_wal_insert_lsn()")
        cpu0 = cpu_ns(pid)
        status = ""
        for sql, args in statements:
            status = await conn.execute(sql, *args)
        cpu1 = cpu_ns(pid)
        wal = await conn.fetchval("SELECT pg_current_wal_insert_lsn() - $1::pg_lsn", lsn0)
    finally:
        await tr.rollback()
    return cpu1 - cpu0, int(wal), int(status.rpartition(" ")[2] or 0)


async def update_args(conn: asyncpg.Connection, ids: list[str], keep: float = 1.0) -> tuple[str, list[str]]:
    """UPDATE_DOSSIERS's parameters for these rows, every state one event longer (and cut to `keep` of its
    length: what a more compact encoding of the same state would send)."""
    import orjson

    rows = await conn.fetch(ROW_SOURCE, ids)
    document = [
        {"i": r[0], "h": r[2], "p": r[3], "r": r[4], "d": r[5], "e": r[6], "o": r[7], "m": r[8], "x": r[9]}
        for r in rows
    ]
    states = [r[1][:-3] + EXTRA_EVENT + "]]}" if r[1].endswith("]]}") else r[1] for r in rows]
    if keep < 1.0:
        states = [state[: int(len(state) * keep)] for state in states]
    return orjson.dumps(document).decode(), states


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("url")
    parser.add_argument("--rows", type=int, default=2500)
    parser.add_argument("--rounds", type=int, default=6)
    args = parser.parse_args()
    conn = await asyncpg.connect(args.url)
    pid = await conn.fetchval("SELECT pg_backend_pid()")
    variants = ("select", "select for update", "update after select", "update after lock", "update, states ×0.5",
                "update state only")  # fmt: skip
    needed = args.rows * args.rounds * len(variants)
    pool = [r[0] for r in await conn.fetch("SELECT dossier_id FROM dossiers ORDER BY updated_at DESC LIMIT $1", needed)]
    results: dict[str, list[tuple[float, float]]] = {v: [] for v in variants}
    for round_ in range(args.rounds):
        for k, variant in enumerate(variants):
            start = (round_ * len(variants) + (k + round_) % len(variants)) * args.rows
            ids = sorted(pool[start : start + args.rows])
            load = (LOAD + (" FOR UPDATE" if variant in ("select for update", "update after lock") else ""), (ids,))
            statements = [load]
            if variant.startswith("update"):
                keep = 0.5 if variant.endswith("×0.5") else 1.0
                document, states = await update_args(conn, ids, keep)
                if variant == "update state only":
                    statements.append((UPDATE_STATES, (ids, states)))
                else:
                    statements.append((UPDATE_DOSSIERS, (document, states)))
            cpu, wal, written = await measure(conn, pid, statements)
            assert written in (0, len(ids)), f"{variant}: {written} of {len(ids)} rows written"
            results[variant].append((cpu / 1000 / len(ids), wal / len(ids)))
    print(f"{args.rows} rows a statement, {args.rounds} rounds; per row, medians (all rounds)")
    for variant, values in results.items():
        cpus = [c for c, _ in values]
        wals = [w for _, w in values]
        print(f"  {variant:20s} CPU {statistics.median(cpus):6.2f} µs ({', '.join(f'{c:.1f}' for c in cpus)})"
              f"   WAL {statistics.median(wals):6.1f} B ({', '.join(f'{w:.0f}' for w in wals)})")  # fmt: skip
    await conn.close()


if __name__ == "__main__":
    asyncio.run(main())
