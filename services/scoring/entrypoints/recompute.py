"""`python -m services.scoring recompute [--fix]`: rebuild every counter from the stored dossier states
and report any difference from the incrementally maintained figures (there must be none).

See services/scoring/service/recompute.py for the three views compared. `--fix` rewrites the table from the
rebuilt view and moves the stale dossiers to the current month, in one transaction.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from datetime import UTC, datetime

from services.scoring.adapters.audit_store import PostgresCounterAudit
from services.scoring.service.recompute import Comparison, compare, fix
from shared.db import create_pool


def report(result: Comparison) -> int:
    lost, stale = result.lost(), result.stale_keys()
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
        store = PostgresCounterAudit(pool)
        now = datetime.now(UTC)
        result = await compare(store, now)
        code = report(result)
        if apply_fix and code:
            await fix(store, result, now)
            print("fixed: counters rewritten from the rebuilt view")
        return code
    finally:
        await pool.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m services.scoring recompute", description=__doc__,
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
