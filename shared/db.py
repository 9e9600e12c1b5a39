"""PostgreSQL plumbing the services share: the asyncpg pool and the schema migrations.

Migrations are numbered plain-SQL files in `migrations/` applied by yoyo-migrations: it records what was applied
in its own table, takes a lock so two starting processes cannot migrate at once, and re-running is a no-op. It was
chosen over alembic because our statements are plain SQL (asyncpg, no ORM), and yoyo applies `.sql` files as they
are, with a rollback file beside each.
"""

from __future__ import annotations

from pathlib import Path

import asyncpg
import orjson
from yoyo import get_backend, read_migrations

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"


def _yoyo_uri(database_url: str) -> str:
    # yoyo picks its driver from the scheme: psycopg 3 (a pure wheel) rather than psycopg2.
    scheme, rest = database_url.split("://", 1)
    return f"postgresql+psycopg://{rest}" if scheme in {"postgresql", "postgres"} else database_url


def pending_migrations(database_url: str) -> list[str]:
    backend = get_backend(_yoyo_uri(database_url))
    try:
        return [m.id for m in backend.to_apply(read_migrations(str(MIGRATIONS_DIR)))]
    finally:
        backend.connection.close()


def apply_migrations(database_url: str) -> list[str]:
    """Apply every pending migration under yoyo's lock; return the ids applied (empty when up to date)."""
    backend = get_backend(_yoyo_uri(database_url))
    try:
        with backend.lock():
            todo = backend.to_apply(read_migrations(str(MIGRATIONS_DIR)))
            backend.apply_migrations(todo)
            return [m.id for m in todo]
    finally:
        backend.connection.close()


async def _init_connection(conn: asyncpg.Connection) -> None:
    # JSONB in and out as Python objects, encoded with orjson (fast, and exact for our ints and floats).
    await conn.set_type_codec(
        "jsonb",
        encoder=lambda value: orjson.dumps(value).decode(),
        decoder=orjson.loads,
        schema="pg_catalog",
    )


async def create_pool(database_url: str, *, max_size: int = 10, min_size: int = 1) -> asyncpg.Pool:
    pool = await asyncpg.create_pool(
        database_url, min_size=min_size, max_size=max_size, init=_init_connection, command_timeout=60
    )
    assert pool is not None
    return pool


async def database_reachable(pool: asyncpg.Pool, timeout_s: float = 2.0) -> bool:
    try:
        async with pool.acquire(timeout=timeout_s) as conn:
            return await conn.fetchval("SELECT 1", timeout=timeout_s) == 1
    except (OSError, asyncpg.PostgresError, TimeoutError):
        return False
