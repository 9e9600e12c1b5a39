"""The unit registry as scoring sees it: loaded from the `units` table, refreshed when an unknown unit shows up."""

from __future__ import annotations

import time

import asyncpg

from services.scoring.domain.apply import AncestorLookup
from shared.units import Unit, UnitLevel, UnitRegistry

SELECT_UNITS = "SELECT unit_id, name, level, parent_id FROM units"


class UnitDirectory:
    """An in-memory copy of the registry. `refresh_if_stale` re-reads it at most once per `min_interval_s`, so an
    event for a unit registered a moment ago is accepted, while a flood of unknown units costs one query a second."""

    def __init__(self, pool: asyncpg.Pool, min_interval_s: float = 1.0) -> None:
        self._pool = pool
        self._min_interval_s = min_interval_s
        self._loaded_at = 0.0
        self.registry = UnitRegistry(())
        self.ancestors = AncestorLookup({})

    async def load(self) -> None:
        async with self._pool.acquire() as conn:
            rows = await conn.fetch(SELECT_UNITS)
        units = [Unit(r["unit_id"], r["name"], UnitLevel(r["level"]), r["parent_id"]) for r in rows]
        self.registry = UnitRegistry(units)
        self.ancestors = AncestorLookup({u.unit_id: u.parent_id for u in units})
        self._loaded_at = time.monotonic()

    async def refresh_if_stale(self) -> bool:
        if time.monotonic() - self._loaded_at < self._min_interval_s:
            return False
        await self.load()
        return True

    def exists(self, unit_id: str) -> bool:
        return self.registry.exists(unit_id)
