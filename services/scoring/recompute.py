"""`python -m services.scoring.recompute [--fix]`: rebuild every counter from the stored dossier states and report
any difference from the incrementally maintained figures (there must be none).

Three views are compared, key by key ((unit named on the facts, month, counter): the stored counters are each
unit's OWN, subtrees and successors are summed when read — domain/effective.py):
  table      — `unit_month_counters` as the consumer maintained it;
  stored     — the sum of every dossier's contribution evaluated in the month its row was written in (what the
               consumer added: the row keeps its state and that month, see migration 0005);
  rebuilt    — the sum of contributions recomputed from each dossier's merged events at `now`.
table ≠ stored means an increment was lost or doubled; stored ≠ rebuilt means a dossier's contribution is stale (for
open dossiers only before the month roll-over has run, or after a change of the counting rules). `--fix` rewrites
the table from the rebuilt view and moves the stale dossiers to the current month, in one transaction.

Own counters do not depend on the registry, so a unit moved, merged or retired changes nothing here.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

import asyncpg
import orjson

from services.scoring.domain.apply import StoredDossierLoader
from services.scoring.domain.counters import CounterKey, add_into, contribution
from services.scoring.domain.state import DossierState
from services.scoring.domain.timebase import month_label, month_of, to_instant
from shared.db import create_pool

SELECT_TABLE = "SELECT unit_id, month, counter, value FROM unit_month_counters WHERE value <> 0"
DOSSIER_CURSOR = "SELECT dossier_id, state, evaluated_month FROM dossiers ORDER BY dossier_id"
CLEAR_TABLE = "DELETE FROM unit_month_counters"
WRITE_TABLE = """
INSERT INTO unit_month_counters (unit_id, month, counter, value)
SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[])
"""
MOVE_TO_MONTH = "UPDATE dossiers SET evaluated_month = $2 WHERE dossier_id = ANY($1::text[])"


@dataclass
class Comparison:
    dossiers: int = 0
    table: dict[CounterKey, int] = field(default_factory=dict)
    stored: dict[CounterKey, int] = field(default_factory=dict)
    rebuilt: dict[CounterKey, int] = field(default_factory=dict)
    stale: list[tuple[str, str, dict[CounterKey, int]]] = field(default_factory=list)

    @staticmethod
    def differences(a: Mapping[CounterKey, int], b: Mapping[CounterKey, int]) -> dict[CounterKey, tuple[int, int]]:
        return {k: (a.get(k, 0), b.get(k, 0)) for k in set(a) | set(b) if a.get(k, 0) != b.get(k, 0)}


async def compare(pool: asyncpg.Pool, now: datetime) -> Comparison:
    result = Comparison()
    now_instant = to_instant(now)
    loader = StoredDossierLoader()
    async with pool.acquire() as conn, conn.transaction(isolation="repeatable_read", readonly=True):
        for row in await conn.fetch(SELECT_TABLE):
            result.table[(row["unit_id"], row["month"], row["counter"])] = row["value"]
        async for row in conn.cursor(DOSSIER_CURSOR, prefetch=2000):
            result.dossiers += 1
            state = DossierState.from_dict(orjson.loads(row["state"]))
            stored = loader.load(state, row["evaluated_month"]).contribution
            fresh = contribution(state, now_instant)
            add_into(result.stored, stored)
            add_into(result.rebuilt, fresh)
            if stored != fresh:
                result.stale.append((row["dossier_id"], state.dossier_id, fresh))
    return result


async def fix(pool: asyncpg.Pool, result: Comparison, now: datetime) -> None:
    month = month_label(month_of(to_instant(now)))
    keys = sorted(result.rebuilt)
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute("LOCK TABLE unit_month_counters IN EXCLUSIVE MODE")
        await conn.execute(CLEAR_TABLE)
        await conn.execute(WRITE_TABLE, [k[0] for k in keys], [k[1] for k in keys], [k[2] for k in keys],
                           [result.rebuilt[k] for k in keys])  # fmt: skip
        await conn.execute(MOVE_TO_MONTH, [dossier_id for dossier_id, _, _ in result.stale], month)


def report(result: Comparison) -> int:
    lost = Comparison.differences(result.table, result.stored)
    stale = Comparison.differences(result.stored, result.rebuilt)
    print(f"dossiers: {result.dossiers}; counter keys: {len(result.rebuilt)}")
    print(f"table vs stored contributions: {len(lost)} differing keys")
    for key, (table, stored) in sorted(lost.items())[:20]:
        print(f"  {key}: table={table} stored={stored}")
    print(f"stored vs rebuilt from events: {len(stale)} differing keys ({len(result.stale)} dossiers)")
    for key, (stored, rebuilt) in sorted(stale.items())[:20]:
        print(f"  {key}: stored={stored} rebuilt={rebuilt}")
    return 0 if not lost and not stale else 1


async def main_async(database_url: str, apply_fix: bool) -> int:
    pool = await create_pool(database_url, max_size=2)
    try:
        now = datetime.now(UTC)
        result = await compare(pool, now)
        code = report(result)
        if apply_fix and code:
            await fix(pool, result, now)
            print("fixed: counters rewritten from the rebuilt view")
        return code
    finally:
        await pool.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m services.scoring.recompute", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    parser.add_argument("--fix", action="store_true", help="rewrite the counters from the rebuilt view")
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL"))
    args = parser.parse_args(argv)
    if not args.database_url:
        print("DATABASE_URL is not set", file=sys.stderr)
        return 2
    return asyncio.run(main_async(args.database_url, args.fix))


if __name__ == "__main__":
    raise SystemExit(main())
