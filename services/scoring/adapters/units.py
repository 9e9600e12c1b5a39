"""The unit registry as scoring sees it (`units`, owned by ingest): names, levels, the tree, validity, successors.

Scoring stores each unit's OWN counters (migration 0007) and resolves subtrees and successors when it reads
(domain/effective.py), so a registry change needs no rewrite of stored figures: this copy only has to be current.
It is re-read every few seconds (app.py) and whenever a batch names a unit the copy does not know; whether such a
unit exists is then decided by the database as committed (`known_in_database`), never by a copy that may be a
second old (SPEC §1, "registry changes lose nothing").
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

import asyncpg

from services.scoring.domain.effective import TreeView
from shared.units import Unit, UnitLevel, UnitRegistry

SELECT_UNITS = "SELECT unit_id, name, level, parent_id, valid_from, valid_to, successor_id FROM units"
SELECT_KNOWN = "SELECT unit_id FROM units WHERE unit_id = ANY($1::text[])"
# Cheap fingerprint of the registry: a reload is only needed when it changed.
SELECT_FINGERPRINT = "SELECT count(*), max(updated_at) FROM units"


def unit_from_row(row: asyncpg.Record) -> Unit:
    return Unit(
        row["unit_id"],
        row["name"],
        UnitLevel(row["level"]),
        row["parent_id"],
        row["valid_from"],
        row["valid_to"],
        row["successor_id"],
    )


class UnitDirectory:
    """An in-memory copy of the registry and a `TreeView` over it (rebuilt on every change)."""

    def __init__(self, pool: asyncpg.Pool, min_interval_s: float = 1.0) -> None:
        self._pool = pool
        self._min_interval_s = min_interval_s
        self._loaded_at = 0.0
        self._fingerprint: tuple[object, ...] | None = None
        self.registry = UnitRegistry(())
        self.view = TreeView(self.registry)
        self.on_change: list[Callable[[], None]] = []
        """Called after a new registry was read (the read tables built on the old one are dropped)."""

    async def load(self) -> bool:
        """Re-read the registry if it changed since the last read; returns whether it did."""
        async with self._pool.acquire() as conn, conn.transaction(isolation="repeatable_read", readonly=True):
            fingerprint = tuple(await conn.fetchrow(SELECT_FINGERPRINT))
            if fingerprint == self._fingerprint:
                self._loaded_at = time.monotonic()
                return False
            rows = await conn.fetch(SELECT_UNITS)
        self.registry = UnitRegistry(unit_from_row(row) for row in rows)
        self.view = TreeView(self.registry)
        self._fingerprint = fingerprint
        self._loaded_at = time.monotonic()
        for listener in self.on_change:
            listener()
        return True

    async def refresh_if_stale(self) -> bool:
        if time.monotonic() - self._loaded_at < self._min_interval_s:
            return False
        return await self.load()

    def exists(self, unit_id: str) -> bool:
        return self.registry.exists(unit_id)

    async def known_in_database(self, unit_ids: Sequence[str]) -> set[str]:
        """Which of these units the registry has, as committed now (read past any copy)."""
        async with self._pool.acquire() as conn:
            return {row["unit_id"] for row in await conn.fetch(SELECT_KNOWN, list(unit_ids))}
