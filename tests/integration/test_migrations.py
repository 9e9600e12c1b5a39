"""Migrations apply to the real PostgreSQL, and re-applying them is a no-op."""

from __future__ import annotations

import asyncio

import asyncpg

from shared.db import MIGRATIONS_DIR, apply_migrations, pending_migrations


async def test_migrations_apply_then_reapply_as_noop(fresh_database: str) -> None:
    files = sorted(p.stem for p in MIGRATIONS_DIR.glob("*.sql") if not p.stem.endswith(".rollback"))
    assert files, "no migrations found"

    first = await asyncio.to_thread(apply_migrations, fresh_database)
    assert first == files

    conn = await asyncpg.connect(fresh_database)
    try:
        tables = {r["tablename"] for r in await conn.fetch("SELECT tablename FROM pg_tables WHERE schemaname='public'")}
        applied = await conn.fetchval("SELECT count(*) FROM _yoyo_migration")
    finally:
        await conn.close()
    assert {"units", "unit_aliases", "api_keys"} <= tables
    assert applied == len(files)

    assert await asyncio.to_thread(pending_migrations, fresh_database) == []
    assert await asyncio.to_thread(apply_migrations, fresh_database) == []
