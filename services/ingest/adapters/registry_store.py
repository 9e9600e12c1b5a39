"""The unit registry and its aliases in PostgreSQL (tables `units`, `unit_aliases` of migration 0001; validity and
successor columns of 0007).

Every write ends with `NOTIFY tthc_registry` in the same transaction, so every ingest process listening reloads
its in-memory copy right after the commit (see `adapters/caches.py`); the periodic reload is the fallback.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import asyncpg

from shared.unit_loading import MergeOutcome, merge_registry
from shared.units import Unit, UnitLevel, UnitRecord, UnitRegistry

REGISTRY_CHANNEL = "tthc_registry"
# Serialises registry writers across processes (CLI and any number of ingest replicas).
_REGISTRY_LOCK_KEY = 0x7474_6863_0001

SELECT_UNITS = "SELECT unit_id, name, level, parent_id, valid_from, valid_to, successor_id FROM units"
SELECT_ALIASES = "SELECT alias, unit_id FROM unit_aliases ORDER BY alias"
# One statement for the whole registry; only rows that really change get a new updated_at. `path` is recomputed
# for every unit from the current tree (parent links), retired units included.
UPSERT_UNITS = """
INSERT INTO units (unit_id, name, level, parent_id, path, valid_from, valid_to, successor_id)
SELECT u.unit_id, u.name, u.level, NULLIF(u.parent_id, ''), string_to_array(u.path, '/'), u.valid_from, u.valid_to,
       u.successor_id
FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::date[], $7::date[], $8::text[])
     AS u(unit_id, name, level, parent_id, path, valid_from, valid_to, successor_id)
ON CONFLICT (unit_id) DO UPDATE
   SET name = EXCLUDED.name, level = EXCLUDED.level, parent_id = EXCLUDED.parent_id, path = EXCLUDED.path,
       valid_from = EXCLUDED.valid_from, valid_to = EXCLUDED.valid_to, successor_id = EXCLUDED.successor_id,
       updated_at = now()
 WHERE (units.name, units.level, units.parent_id, units.path, units.valid_from, units.valid_to, units.successor_id)
       IS DISTINCT FROM (EXCLUDED.name, EXCLUDED.level, EXCLUDED.parent_id, EXCLUDED.path, EXCLUDED.valid_from,
                         EXCLUDED.valid_to, EXCLUDED.successor_id)
"""
UPSERT_ALIASES = """
INSERT INTO unit_aliases (alias, unit_id)
SELECT * FROM unnest($1::text[], $2::text[])
ON CONFLICT (alias) DO UPDATE SET unit_id = EXCLUDED.unit_id
"""
DELETE_ALIAS = "DELETE FROM unit_aliases WHERE alias = $1"
NOTIFY_REGISTRY = "SELECT pg_notify($1, $2)"
LOCK_REGISTRY = "SELECT pg_advisory_xact_lock($1)"


@dataclass(frozen=True, slots=True)
class RegistrySnapshot:
    registry: UnitRegistry
    aliases: dict[str, str]


async def load_snapshot(conn: asyncpg.Connection | asyncpg.Pool) -> RegistrySnapshot:
    """The registry and aliases as stored (assumed valid: they were validated as a tree when written)."""
    rows = await conn.fetch(SELECT_UNITS)
    units = [
        Unit(
            r["unit_id"], r["name"], UnitLevel(r["level"]), r["parent_id"], r["valid_from"], r["valid_to"],
            r["successor_id"],
        )
        for r in rows
    ]  # fmt: skip
    aliases = {r["alias"]: r["unit_id"] for r in await conn.fetch(SELECT_ALIASES)}
    return RegistrySnapshot(UnitRegistry(units), aliases)


def unit_path(registry: UnitRegistry, unit_id: str) -> list[str]:
    """Ancestors from the city down to the unit, inclusive (the `units.path` column scoring relies on)."""
    return [*reversed(registry.ancestors(unit_id)), unit_id]


async def upsert_units(pool: asyncpg.Pool, incoming: Iterable[UnitRecord]) -> MergeOutcome:
    """Merge `incoming` over the stored registry, validated as one tree; write it all or nothing.

    Units missing from `incoming` are kept with their validity (SPEC §1: ids never disappear while events may
    reference them; `merge_registry` refuses a level change).
    """
    incoming = list(incoming)
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute(LOCK_REGISTRY, _REGISTRY_LOCK_KEY)
        stored = await load_snapshot(conn)
        outcome = merge_registry(stored.registry if len(stored.registry) else None, incoming)
        if outcome.registry is None:
            return outcome
        registry = outcome.registry
        units = list(registry)
        await conn.execute(
            UPSERT_UNITS,
            [u.unit_id for u in units],
            [u.name for u in units],
            [str(u.level) for u in units],
            [u.parent_id or "" for u in units],
            ["/".join(unit_path(registry, u.unit_id)) for u in units],
            [u.valid_from for u in units],
            [u.valid_to for u in units],
            [u.successor_id for u in units],
        )
        await conn.execute(NOTIFY_REGISTRY, REGISTRY_CHANNEL, "units")
        return outcome


async def upsert_aliases(pool: asyncpg.Pool, aliases: Mapping[str, str]) -> None:
    """Add or re-point aliases (the caller checked that every target unit exists)."""
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute(LOCK_REGISTRY, _REGISTRY_LOCK_KEY)
        await conn.execute(UPSERT_ALIASES, list(aliases), list(aliases.values()))
        await conn.execute(NOTIFY_REGISTRY, REGISTRY_CHANNEL, "aliases")


async def delete_alias(pool: asyncpg.Pool, alias: str) -> bool:
    async with pool.acquire() as conn, conn.transaction():
        status = await conn.execute(DELETE_ALIAS, alias)
        await conn.execute(NOTIFY_REGISTRY, REGISTRY_CHANNEL, "aliases")
    return status.endswith(" 1")


class PgRegistryStore:
    """The RegistryStore port over the service's pool."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def load_snapshot(self) -> RegistrySnapshot:
        return await load_snapshot(self._pool)

    async def upsert_units(self, incoming: Iterable[UnitRecord]) -> MergeOutcome:
        return await upsert_units(self._pool, incoming)

    async def upsert_aliases(self, aliases: Mapping[str, str]) -> None:
        await upsert_aliases(self._pool, aliases)

    async def delete_alias(self, alias: str) -> bool:
        return await delete_alias(self._pool, alias)
