"""API keys in PostgreSQL (table `api_keys` of migration 0001): only the SHA-256 of a key is ever stored.

`key_id` is the key's display prefix ("tthc_" + 7 random characters): operators recognise their key by it, it is
safe to show and log, and it names the key in `DELETE /v1/admin/api-keys/{key_id}`. Revocation notifies every
ingest process (`NOTIFY tthc_api_keys`) so their lookup caches drop the key at once.
"""

from __future__ import annotations

import asyncpg

from services.ingest.domain.api_keys import NewApiKey, StoredKey, generate_api_key

KEYS_CHANNEL = "tthc_api_keys"
_ATTEMPTS = 5  # a display-prefix collision (42 random bits) is astronomically rare; retrying covers it

INSERT_KEY = """
INSERT INTO api_keys (key_id, name, key_hash, units) VALUES ($1, $2, $3, $4)
RETURNING key_id, name, units, created_at, revoked_at
"""
NOTIFY_KEYS = "SELECT pg_notify($1, $2)"
SELECT_KEYS = "SELECT key_id, name, units, created_at, revoked_at FROM api_keys ORDER BY created_at, key_id"
SELECT_KEY_BY_HASH = "SELECT key_id, name, units, created_at, revoked_at FROM api_keys WHERE key_hash = $1"
REVOKE_KEY = """
UPDATE api_keys SET revoked_at = coalesce(revoked_at, now()) WHERE key_id = $1
RETURNING key_id, name, units, created_at, revoked_at
"""
NOTIFY_KEYS = "SELECT pg_notify($1, $2)"


def _stored(row: asyncpg.Record) -> StoredKey:
    return StoredKey(row["key_id"], row["name"], tuple(row["units"]), row["created_at"], row["revoked_at"])


async def create_key(pool: asyncpg.Pool, name: str, units: list[str]) -> tuple[NewApiKey, StoredKey]:
    """Store a new key's hash; the plain key is returned to the caller once and never again."""
    for attempt in range(_ATTEMPTS):
        new = generate_api_key()
        try:
            row = await pool.fetchrow(INSERT_KEY, new.display_prefix, name, new.key_hash, units)
        except asyncpg.UniqueViolationError:
            if attempt == _ATTEMPTS - 1:
                raise
            continue
        assert row is not None
        return new, _stored(row)
    raise AssertionError("unreachable")


async def list_keys(pool: asyncpg.Pool) -> list[StoredKey]:
    return [_stored(row) for row in await pool.fetch(SELECT_KEYS)]


async def find_key(pool: asyncpg.Pool, key_hash: str) -> StoredKey | None:
    row = await pool.fetchrow(SELECT_KEY_BY_HASH, key_hash)
    return _stored(row) if row is not None else None


async def revoke_key(pool: asyncpg.Pool, key_id: str) -> StoredKey | None:
    """Mark the key revoked (idempotent; the first revocation time is kept). None when no such key."""
    async with pool.acquire() as conn, conn.transaction():
        row = await conn.fetchrow(REVOKE_KEY, key_id)
        if row is not None:
            await conn.execute(NOTIFY_KEYS, KEYS_CHANNEL, key_id)
    return _stored(row) if row is not None else None


class PgKeyStore:
    """The KeyStore port over the service's pool."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def create_key(self, name: str, units: list[str]) -> tuple[NewApiKey, StoredKey]:
        return await create_key(self._pool, name, units)

    async def list_keys(self) -> list[StoredKey]:
        return await list_keys(self._pool)

    async def revoke_key(self, key_id: str) -> StoredKey | None:
        return await revoke_key(self._pool, key_id)
